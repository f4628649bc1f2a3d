// The borrower's side of the lease protocol. See include/ringmta/queue/lease.h.
#include "ringmta/queue/lease_borrower.h"

#include <algorithm>

namespace ringmta::queue {

namespace {

// A share's rate as its token bucket; limited to 0: blocked.
void set_share_rate(token_bucket& bucket, bool& blocked, bool limited, std::uint64_t per_day,
                    std::uint64_t now_ms) {
    blocked = limited && per_day == 0;
    if (limited && per_day > 0) {
        bucket.set_rate(per_day, lease_rate_period_ms, now_ms);
    } else {
        bucket.set_rate(0, 0, now_ms);
    }
}

}  // namespace

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

bool lease_borrower::try_acquire_slot(std::uint64_t now_ms) {
    if (_slots.free() == 0 || _connect_blocked) return false;
    if (!_connect.try_take(now_ms)) return false;
    return _slots.try_acquire();
}

std::uint64_t lease_borrower::connect_wait_ms(std::uint64_t now_ms) {
    return _connect_blocked ? 0 : _connect.wait_ms(now_ms);
}

std::uint64_t lease_borrower::daily_left(std::uint64_t now_unix_ms) const {
    return now_unix_ms / day_ms == _daily_day ? _daily_left : 0;
}

void lease_borrower::give_back_daily(std::uint64_t now_unix_ms, std::uint64_t recipients) {
    if (_share.daily_limited && now_unix_ms / day_ms == _daily_day) _daily_left += recipients;
}

void lease_borrower::cancel_slot() {
    _slots.release();
    _connect.give_back(1);
}

void lease_borrower::cancel_send(std::uint64_t now_unix_ms, std::uint64_t recipients) {
    _rate.give_back(1);
    give_back_daily(now_unix_ms, recipients);
}

void lease_borrower::apply(const lease_share& share, std::uint64_t seq, std::uint64_t now_ms) {
    _share = share;
    _seq = seq;
    _slots.set_limit(share.slots);
    set_share_rate(_rate, _rate_blocked, share.rate_limited, share.rate_per_day, now_ms);
    set_share_rate(_connect, _connect_blocked, share.connect_limited, share.connect_per_day,
                   now_ms);
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
                       (_share.connect_limited && _share.connect_per_day != 0) ||
                       daily_left(now_unix_ms) != 0;
    if (!holds) return take_release(now_unix_ms);
    lease_share none;
    none.rate_limited = _share.rate_limited;
    none.daily_limited = _share.daily_limited;
    none.connect_limited = _share.connect_limited;
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
