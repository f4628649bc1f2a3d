// The reactor's deadline list (see reactor.h): operations with a timeout are
// cancelled by one per-reactor IORING_OP_TIMEOUT instead of each carrying an
// IORING_OP_LINK_TIMEOUT. Measured on the relay path (10 KiB, 50 connections,
// fsync): link timeouts were half of all SQEs (8 of 16 per message) and cost
// ringmta about 8 of its 70 us of CPU per message.
#include <liburing.h>

#include "ringmta/runtime/assert.h"
#include "ringmta/runtime/reactor.h"

namespace ringmta::runtime {

void reactor::watch_deadline(completion* c, std::uint64_t timeout_ms) {
    RINGMTA_ASSERT(timeout_ms > 0 && c->deadline_ms == 0, "watch_deadline(%llu ms) twice",
                   (unsigned long long)timeout_ms);
    c->timed_out = false;
    // From the start of this turn: at most one turn early, never late.
    c->deadline_ms = _now_ms + timeout_ms;
    c->deadline_next = &_deadlines;
    c->deadline_prev = _deadlines.deadline_prev;
    _deadlines.deadline_prev->deadline_next = c;
    _deadlines.deadline_prev = c;
    ++_deadlines_watched;
    // Most operations of a kind share one timeout, so a newer one's deadline is
    // later than the armed one: the timer is moved only for a shorter timeout.
    if (!_deadline_timer_armed || c->deadline_ms < _deadline_timer_ms) {
        arm_deadline_timer(c->deadline_ms);
    }
}

void reactor::unwatch_deadline(completion* c) {
    if (c->deadline_ms == 0) return;
    c->deadline_prev->deadline_next = c->deadline_next;
    c->deadline_next->deadline_prev = c->deadline_prev;
    c->deadline_prev = c->deadline_next = nullptr;
    c->deadline_ms = 0;
    --_deadlines_watched;
}

void reactor::wake_by(std::uint64_t deadline_ms) {
    if (_wake_by_ms == 0 || _wake_by_ms <= _now_ms || deadline_ms < _wake_by_ms) {
        _wake_by_ms = deadline_ms;
    }
    if (!_deadline_timer_armed || deadline_ms < _deadline_timer_ms) {
        arm_deadline_timer(deadline_ms);
    }
}

void reactor::arm_deadline_timer(std::uint64_t deadline_ms) {
    // The kernel copies the timespec when it takes the SQE, so one member serves
    // an arm and the updates queued after it in the same turn (each earlier).
    _deadline_timer_when.tv_sec = static_cast<long long>(deadline_ms / 1000);
    _deadline_timer_when.tv_nsec = static_cast<long long>(deadline_ms % 1000) * 1000000;
    io_uring_sqe* s = sqe();
    const std::uint64_t timer_data = tag_pointer(this, user_data_tag::deadline);
    if (_deadline_timer_armed) {
        // If it has fired already, the update fails with -ENOENT (ignored) and the
        // timer's CQE, still to be reaped, re-arms from the whole list.
        io_uring_prep_timeout_update(s, &_deadline_timer_when, timer_data, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(s, tag_pointer(nullptr, user_data_tag::ignore));
    } else {
        // IORING_TIMEOUT_ABS measures against CLOCK_MONOTONIC, the clock of monotonic_ms().
        io_uring_prep_timeout(s, &_deadline_timer_when, 0, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(s, timer_data);
        _deadline_timer_armed = true;
    }
    _deadline_timer_ms = deadline_ms;
}

// Called from reap() for the timer's CQE. Every operation in the list has had its
// SQE submitted (the timer fired during a later submit-and-wait), so the cancel
// finds it unless it completed meanwhile: its CQE is then in the ring with the
// real result, and the cancel gets -ENOENT. A completion's address is reused only
// after its CQE was reaped and the cancel queued here precedes the new SQE.
void reactor::expire_deadlines() {
    const std::uint64_t now = monotonic_ms();
    std::uint64_t next_ms = 0;
    completion* c = _deadlines.deadline_next;
    for (std::size_t n = _deadlines_watched; n > 0 && c != &_deadlines; --n) {
        completion* following = c->deadline_next;
        if (c->deadline_ms <= now) {
            unwatch_deadline(c);
            c->timed_out = true;
            io_uring_sqe* s = sqe();
            io_uring_prep_cancel64(s, tag_pointer(c, user_data_tag::completion), 0);
            io_uring_sqe_set_data64(s, tag_pointer(nullptr, user_data_tag::ignore));
        } else if (next_ms == 0 || c->deadline_ms < next_ms) {
            next_ms = c->deadline_ms;
        }
        c = following;
    }
    if (_wake_by_ms != 0 && _wake_by_ms <= now) {
        _wake_by_ms = 0;   // this CQE is the wake-up: the loop turns now
    } else if (_wake_by_ms != 0 && (next_ms == 0 || _wake_by_ms < next_ms)) {
        next_ms = _wake_by_ms;
    }
    if (next_ms != 0) arm_deadline_timer(next_ms);
}

}  // namespace ringmta::runtime
