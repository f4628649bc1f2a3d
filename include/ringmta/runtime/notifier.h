// notifier: a one-waiter wake-up flag for coroutines on one shard. notify() before
// wait() is remembered (once), so no wake-up is lost between a check and a wait.
// timer: a shard-lifetime deadline that notifies a notifier when it passes. One
// absolute CLOCK_MONOTONIC timeout is in flight at most; re-arming moves it with
// IORING_OP_TIMEOUT_REMOVE's update mode (Linux 5.11+) instead of adding another.
#pragma once

#include <coroutine>
#include <cstdint>

#include "ringmta/runtime/assert.h"
#include "ringmta/runtime/reactor.h"

namespace ringmta::runtime {

class notifier {
public:
    auto wait() {
        struct awaiter {
            notifier& _n;
            bool await_ready() const noexcept {
                if (!_n._signaled) return false;
                _n._signaled = false;
                return true;
            }
            void await_suspend(std::coroutine_handle<> h) noexcept {
                RINGMTA_ASSERT(!_n._waiter, "notifier has one waiter at most");
                _n._waiter = h;
            }
            void await_resume() const noexcept {}
        };
        return awaiter{*this};
    }

    void notify() {
        if (_waiter) {
            reactor::current().schedule(_waiter);
            _waiter = {};
        } else {
            _signaled = true;
        }
    }

    bool has_waiter() const { return static_cast<bool>(_waiter); }

private:
    std::coroutine_handle<> _waiter;
    bool _signaled = false;
};

class timer final : public cqe_handler {
public:
    explicit timer(notifier& target) : _target(target) {}
    timer(const timer&) = delete;
    timer& operator=(const timer&) = delete;

    // Notifies the target once monotonic_ms() >= deadline_ms. A later call with an
    // earlier deadline moves it earlier; with a later one, moves it later.
    void arm_at(std::uint64_t deadline_ms);
    void disarm() { _deadline_ms = 0; }
    std::uint64_t deadline_ms() const { return _deadline_ms; }
    bool in_flight() const { return _in_flight; }

    void handle_cqe(int result, std::uint32_t flags) override;

private:
    void submit(std::uint64_t deadline_ms);

    notifier& _target;
    std::uint64_t _deadline_ms = 0;   // 0: disarmed
    std::uint64_t _expiry_ms = 0;     // when the in-flight timeout fires
    bool _in_flight = false;
    // The kernel copies the timespec while the SQE is submitted; it is never read later.
    __kernel_timespec _when{};
};

}  // namespace ringmta::runtime
