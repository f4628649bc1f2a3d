// acceptor: a multishot accept on one listening socket. Accepted sockets queue
// up (bounded: past accepted_max the multishot is not re-armed until the queue
// drains, so a connection flood backs up into the kernel's listen backlog instead
// of our memory). next() yields one socket fd, or -ECANCELED once stopped.
// The acceptor must outlive its in-flight accept: stop() then wait for drained().
#pragma once

#include <coroutine>
#include <deque>

#include "ringmta/runtime/reactor.h"

namespace ringmta::runtime {

class acceptor final : public cqe_handler {
public:
    explicit acceptor(int listen_fd, std::size_t accepted_max = 256);
    acceptor(const acceptor&) = delete;
    acceptor& operator=(const acceptor&) = delete;
    ~acceptor();

    void start();
    // Cancels the multishot accept; next() then returns -ECANCELED.
    void stop();
    bool drained() const { return !_armed; }

    auto next() {
        struct awaiter {
            acceptor& _a;
            bool await_ready() const noexcept {
                return !_a._accepted.empty() || _a._stopped || _a._error != 0;
            }
            void await_suspend(std::coroutine_handle<> h) noexcept { _a._waiter = h; }
            int await_resume() noexcept { return _a.pop(); }
        };
        return awaiter{*this};
    }

    void handle_cqe(int result, std::uint32_t flags) override;

private:
    void arm();
    int pop();

    int _listen_fd;
    std::size_t _accepted_max;
    std::deque<int> _accepted;
    std::coroutine_handle<> _waiter;
    bool _armed = false;
    bool _stopped = false;
    int _error = 0;
};

}  // namespace ringmta::runtime
