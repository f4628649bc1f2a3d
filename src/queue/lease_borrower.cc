// The borrower's side of the lease protocol. See include/ringmta/queue/lease.h.
#include "ringmta/queue/lease_borrower.h"

#include <algorithm>

namespace ringmta::queue {

send_verdict lease_borrower::try_send(std::uint64_t now_ms, std::uint64_t now_unix_ms,
                                      std::uint64_t recipients) {
    if (_rate_blocked) return send_verdict::wait_rate;
    if (_share.daily_limited && daily_left(now_unix_ms) < recipients) {
        return send_verdict::wait_daily;
    }
    if (!_rate.try_take(now_ms)) return send_verdict::wait_rate;
    if (_share.daily_limited) _daily_left -= recipients;
    return send_verdict::ok;
}

std::uint64_t lease_borrower::daily_left(std::uint64_t now_unix_ms) const {
    return now_unix_ms / day_ms == _daily_day ? _daily_left : 0;
}

void lease_borrower::give_back_daily(std::uint64_t now_unix_ms, std::uint64_t recipients) {
    if (_share.daily_limited && now_unix_ms / day_ms == _daily_day) _daily_left += recipients;
}

void lease_borrower::apply(const lease_share& share, std::uint64_t seq, std::uint64_t now_ms) {
    _share = share;
    _seq = seq;
    _slots.set_limit(share.slots);
    _rate_blocked = share.rate_limited && share.rate_per_day == 0;
    if (share.rate_limited && share.rate_per_day > 0) {
        _rate.set_rate(share.rate_per_day, lease_rate_period_ms, now_ms);
    } else {
        _rate.set_rate(0, 0, now_ms);
    }
}

void lease_borrower::on_grant(const lease_grant& grant, std::uint64_t now_ms) {
    apply(grant.share, grant.seq, now_ms);
    _pending = false;
    // A block after the cap was spent: deliveries came back to the owner.
    if (grant.daily_spent) {
        _daily_spent_day = grant.daily_day;
    } else if (grant.daily_add != 0) {
        _daily_spent_day = 0;
    }
    if (grant.daily_add == 0) return;
    if (grant.daily_day != _daily_day) {
        _daily_day = grant.daily_day;
        _daily_left = 0;
    }
    _daily_left += grant.daily_add;
}

void lease_borrower::on_revoke(const lease_revoke& revoke, std::uint64_t now_ms) {
    apply(revoke.share, revoke.seq, now_ms);
    _pending = true;
}

lease_release lease_borrower::make_release(std::uint64_t now_unix_ms, bool return_daily) {
    lease_release release{_budget, _id, _seq, _share, 0, now_unix_ms / day_ms};
    if (return_daily) {
        release.daily_return = daily_left(now_unix_ms);
        _daily_left = 0;
    }
    return release;
}

std::optional<lease_release> lease_borrower::take_release(std::uint64_t now_unix_ms) {
    if (!_pending || _slots.in_use() > _share.slots) return std::nullopt;
    _pending = false;
    return make_release(now_unix_ms, false);
}

std::optional<lease_release> lease_borrower::release_idle(std::uint64_t now_unix_ms) {
    if (_slots.in_use() != 0) return std::nullopt;
    const bool holds = _share.slots != 0 || (_share.rate_limited && _share.rate_per_day != 0) ||
                       daily_left(now_unix_ms) != 0;
    if (!holds) return take_release(now_unix_ms);
    lease_share none;
    none.rate_limited = _share.rate_limited;
    none.daily_limited = _share.daily_limited;
    apply(none, _seq, 0);
    _pending = false;
    return make_release(now_unix_ms, true);
}

void lease_borrower::record(throttle_signal signal) {
    if (signal == throttle_signal::success) {
        ++_successes;
    } else if (signal != throttle_signal::neutral) {
        ++_throttles;
    }
}

lease_demand lease_borrower::demand(unsigned slots_wanted, std::uint64_t messages_ready,
                                    std::uint64_t daily_wanted) {
    lease_demand report{_budget, _id, slots_wanted, messages_ready, daily_wanted,
                        _successes, _throttles};
    _successes = _throttles = 0;
    return report;
}

}  // namespace ringmta::queue
