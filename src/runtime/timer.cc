// timer (see notifier.h): one absolute monotonic timeout on the shard's ring.
#include "ringmta/runtime/notifier.h"

#include <liburing.h>

namespace ringmta::runtime {

void timer::arm_at(std::uint64_t deadline_ms) {
    _deadline_ms = deadline_ms == 0 ? 1 : deadline_ms;
    if (!_in_flight) {
        submit(_deadline_ms);
        return;
    }
    if (_expiry_ms == _deadline_ms) return;
    // Move the in-flight timeout. If it has already fired, the update fails with
    // -ENOENT (ignored) and handle_cqe re-arms for the new deadline.
    reactor& r = reactor::current();
    io_uring_sqe* s = r.sqe();
    _when.tv_sec = static_cast<long long>(_deadline_ms / 1000);
    _when.tv_nsec = static_cast<long long>(_deadline_ms % 1000) * 1000000;
    io_uring_prep_timeout_update(s, &_when, handler_data(this),
                                 IORING_TIMEOUT_ABS);
    io_uring_sqe_set_data64(s, tag_pointer(nullptr, user_data_tag::ignore));
    _expiry_ms = _deadline_ms;
}

void timer::submit(std::uint64_t deadline_ms) {
    reactor& r = reactor::current();
    io_uring_sqe* s = r.sqe();
    _when.tv_sec = static_cast<long long>(deadline_ms / 1000);
    _when.tv_nsec = static_cast<long long>(deadline_ms % 1000) * 1000000;
    // IORING_TIMEOUT_ABS measures against CLOCK_MONOTONIC, the clock of monotonic_ms().
    io_uring_prep_timeout(s, &_when, 0, IORING_TIMEOUT_ABS);
    io_uring_sqe_set_data64(s, handler_data(this));
    _expiry_ms = deadline_ms;
    _in_flight = true;
}

void timer::handle_cqe(int, std::uint32_t) {
    _in_flight = false;
    if (_deadline_ms == 0) return;
    if (monotonic_ms() >= _deadline_ms) {
        _deadline_ms = 0;
        _target.notify();
    } else {
        submit(_deadline_ms);
    }
}

}  // namespace ringmta::runtime
