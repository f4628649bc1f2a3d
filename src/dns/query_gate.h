// Private: the per-shard cap on network lookups in flight. acquire() takes a
// slot or waits for one in FIFO order; release() hands the slot straight to
// the next waiter. Shard-local, no locks.
#pragma once

#include <coroutine>
#include <cstddef>
#include <deque>

#include "ringmta/runtime/assert.h"
#include "ringmta/runtime/notifier.h"
#include "ringmta/runtime/reactor.h"

namespace ringmta::dns::detail {

class query_gate {
public:
    explicit query_gate(std::size_t slots_max) : _slots_max(slots_max) {
        RINGMTA_ASSERT(slots_max > 0, "query_gate needs at least one slot");
    }

    auto acquire() {
        struct awaiter {
            query_gate& _gate;
            bool await_ready() noexcept {
                if (_gate._used >= _gate._slots_max) return false;
                _gate.take();
                return true;
            }
            void await_suspend(std::coroutine_handle<> h) {
                ++_gate._waits;
                _gate._waiters.push_back(h);
            }
            void await_resume() const noexcept {}
        };
        return awaiter{*this};
    }

    void release() {
        RINGMTA_ASSERT(_used > 0, "query_gate released more than taken");
        if (_waiters.empty()) {
            if (--_used == 0) _idle.notify();
            return;
        }
        // The slot passes to the first waiter: _used stays the same.
        runtime::reactor::current().schedule(_waiters.front());
        _waiters.pop_front();
    }

    // Wakes one waiter when no slot is in use (recheck used(): a wake-up may be
    // left over from an earlier idle moment).
    auto idle() { return _idle.wait(); }

    std::size_t used() const { return _used; }
    std::size_t used_peak() const { return _used_peak; }
    std::size_t waits() const { return _waits; }

private:
    void take() {
        ++_used;
        if (_used > _used_peak) _used_peak = _used;
    }

    std::size_t _slots_max;
    std::size_t _used = 0;
    std::size_t _used_peak = 0;
    std::size_t _waits = 0;
    std::deque<std::coroutine_handle<>> _waiters;
    runtime::notifier _idle;
};

}  // namespace ringmta::dns::detail
