// The owner's side of the lease protocol. See include/ringmta/queue/lease.h for
// the protocol and its safety argument, lease_owner.h for the interface.
#include "ringmta/queue/lease_owner.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "ringmta/runtime/assert.h"

namespace ringmta::queue {

namespace {

using u128 = unsigned __int128;

constexpr std::uint64_t rate_per_day_max = std::numeric_limits<std::uint64_t>::max() / 4;
// The remainder of a split moves to the next borrower every this many
// rebalances: fair over time without moving a slot on every call.
constexpr std::uint64_t rebalances_per_turn = 16;

// Splits `total` over `weights` in proportion, rounding down, then hands the
// remainder out one by one by largest fractional part, ties going round from
// `rotation`. capped: with total >= the sum of the weights, each gets its
// weight (slots: no more than it can use); else all of total is split. No
// allocation after the first call: `picked` is scratch space.
void split(std::uint64_t total, const std::vector<std::uint64_t>& weights, bool capped,
           std::uint64_t rotation, std::vector<std::uint64_t>& out,
           std::vector<std::uint8_t>& picked) {
    const std::size_t n = weights.size();
    u128 sum = 0;
    for (std::uint64_t w : weights) sum += w;
    out.assign(n, 0);
    if (sum == 0) return;
    if (capped && sum <= total) {
        out = weights;
        return;
    }
    std::uint64_t given = 0;
    for (std::size_t b = 0; b < n; ++b) {
        out[b] = static_cast<std::uint64_t>(u128(total) * weights[b] / sum);
        given += out[b];
    }
    picked.assign(n, 0);   // a borrower that already got one of the remainder
    for (std::uint64_t left = total - given; left > 0; --left) {
        std::size_t best = n;
        u128 best_fraction = 0;
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t b = (k + rotation) % n;
            if (picked[b] != 0 || weights[b] == 0) continue;
            const u128 fraction = u128(total) * weights[b] % sum;
            if (best == n || fraction > best_fraction) {
                best = b;
                best_fraction = fraction;
            }
        }
        if (best == n) break;
        picked[best] = 1;
        ++out[best];
    }
}

// One of a share's two rates: messages sent, connections opened. Both are lent
// the same way.
struct rate_field {
    bool lease_share::*limited;
    std::uint64_t lease_share::*per_day;
};
constexpr rate_field message_rate{&lease_share::rate_limited, &lease_share::rate_per_day};
constexpr rate_field connect_rate{&lease_share::connect_limited, &lease_share::connect_per_day};

std::uint64_t held_rate(const lease_share& share, rate_field f) {
    return share.*f.limited ? share.*f.per_day : rate_per_day_max;
}

std::uint64_t per_day(std::uint64_t count, std::uint64_t period_ms) {
    if (count == 0 || period_ms == 0) return 0;
    u128 rate = u128(count) * lease_rate_period_ms / period_ms;
    return static_cast<std::uint64_t>(std::min<u128>(rate, rate_per_day_max));
}

// The rate `f` of `next` (the target) grown from `held` by no more than `free`.
void grow_rate(const lease_share& held, const lease_share& target, std::uint64_t free,
               rate_field f, lease_share& next) {
    if (target.*f.limited && held.*f.limited && target.*f.per_day > held.*f.per_day) {
        next.*f.per_day = held.*f.per_day + std::min(target.*f.per_day - held.*f.per_day, free);
    } else if (target.*f.limited && !(held.*f.limited)) {
        next.*f.per_day = std::min(target.*f.per_day, free);
    }
}

bool rate_shrinks(const lease_share& held, const lease_share& next, rate_field f) {
    return next.*f.limited && held_rate(next, f) < held_rate(held, f);
}

// A revoke's grow of rate `f` counts at once (its shrink on the answer).
void count_grow(const lease_share& held, const lease_share& next, rate_field f,
                lease_share& counted) {
    if (held.*f.limited && next.*f.per_day > held.*f.per_day) counted.*f.per_day = next.*f.per_day;
}

template <typename States>
std::uint64_t sum_held(const States& states, rate_field f) {
    std::uint64_t sum = 0;
    for (const auto& state : states) {
        sum = std::min(rate_per_day_max, sum + held_rate(state.held, f));
    }
    return sum;
}

template <typename States>
std::uint64_t rate_free(const States& states, std::uint64_t budget, rate_field f) {
    const std::uint64_t sum = sum_held(states, f);
    return budget > sum ? budget - sum : 0;
}

}  // namespace

lease_owner::lease_owner(std::uint64_t budget, unsigned borrowers, const lease_budget& limits)
    : _budget(budget), _limits(limits), _states(borrowers) {
    RINGMTA_ASSERT(borrowers >= 1, "lease_owner needs at least one borrower");
    _targets.resize(borrowers);
    _weights.resize(borrowers);
}

void lease_owner::set_budget(const lease_budget& limits) { _limits = limits; }

unsigned lease_owner::slots_held() const {
    unsigned sum = 0;
    for (const borrower_state& state : _states) sum += state.held.slots;
    return sum;
}

std::uint64_t lease_owner::rate_held_per_day() const { return sum_held(_states, message_rate); }

std::uint64_t lease_owner::connect_held_per_day() const {
    return sum_held(_states, connect_rate);
}

void lease_owner::on_demand(const lease_demand& demand) {
    RINGMTA_ASSERT(demand.borrower < _states.size(), "lease demand from borrower %u of %zu",
                   demand.borrower, _states.size());
    borrower_state& state = _states[demand.borrower];
    state.slots_wanted = demand.slots_wanted;
    state.messages_ready = demand.messages_ready;
    state.daily_wanted = demand.daily_wanted;
}

void lease_owner::on_release(const lease_release& release, std::uint64_t now_unix_ms) {
    RINGMTA_ASSERT(release.borrower < _states.size(), "lease release from borrower %u of %zu",
                   release.borrower, _states.size());
    roll_day(now_unix_ms);
    borrower_state& state = _states[release.borrower];
    // Returned deliveries are given up for good by the borrower: credit them
    // whatever the seq, if they are today's.
    if (release.daily_day == _day) _daily_lent -= std::min(_daily_lent, release.daily_return);
    // A release that crossed a later grant or revoke on the way says nothing
    // about what the borrower may use now: ignore it.
    if (release.seq != state.seq) return;
    RINGMTA_ASSERT(release.share.slots <= state.held.slots,
                   "borrower %u released %u slots, holding %u", release.borrower,
                   release.share.slots, state.held.slots);
    state.held = release.share;
    state.pending = false;
}

void lease_owner::roll_day(std::uint64_t now_unix_ms) {
    const std::uint64_t day = now_unix_ms / day_ms;
    if (day <= _day) return;
    // Yesterday's blocks are void at the borrowers (they carry their day).
    _day = day;
    _daily_lent = 0;
}

void lease_owner::compute_targets(std::vector<lease_share>& targets) {
    const std::size_t n = _states.size();
    // Slots: in proportion to the connections each could use, capped there.
    for (std::size_t b = 0; b < n; ++b) _weights[b] = _states[b].slots_wanted;
    std::vector<std::uint64_t>& amounts = _amounts;
    const std::uint64_t turn = _rotation / rebalances_per_turn;
    split(_limits.slots, _weights, true, turn, amounts, _picked);
    for (std::size_t b = 0; b < n; ++b) {
        targets[b] = lease_share{};
        targets[b].slots = static_cast<unsigned>(amounts[b]);
    }
    // Rates: all of each, in proportion to the messages each has ready (a
    // borrower that wants a connection counts at least one).
    for (std::size_t b = 0; b < n; ++b) {
        _weights[b] = std::max<std::uint64_t>(_states[b].messages_ready,
                                              _states[b].slots_wanted > 0 ? 1 : 0);
        targets[b].daily_limited = _limits.daily_cap != 0;
    }
    const std::pair<std::uint64_t, rate_field> rates[] = {
        {per_day(_limits.rate_count, _limits.rate_period_ms), message_rate},
        {per_day(_limits.connect_count, _limits.connect_period_ms), connect_rate}};
    for (const auto& [rate, f] : rates) {
        const bool limited = rate != 0;
        if (limited) split(rate, _weights, false, turn, amounts, _picked);
        for (std::size_t b = 0; b < n; ++b) {
            targets[b].*f.limited = limited;
            targets[b].*f.per_day = limited ? amounts[b] : 0;
        }
    }
}

std::uint64_t lease_owner::daily_block(unsigned borrower) {
    borrower_state& state = _states[borrower];
    if (_limits.daily_cap == 0 || state.daily_wanted == 0) return 0;
    if (_daily_lent >= _limits.daily_cap) return 0;
    const std::uint64_t remaining = _limits.daily_cap - _daily_lent;
    // Small blocks, so that one borrower cannot sit on the day's whole cap.
    const std::uint64_t block_max = std::max<std::uint64_t>(1, _limits.daily_cap /
                                                                   (4 * _states.size()));
    const std::uint64_t add = std::min({state.daily_wanted, remaining, block_max});
    _daily_lent += add;
    state.daily_wanted -= add;
    if (add != 0) state.spent_told_day = 0;   // the grant takes the news back: tell again
    return add;
}

// A borrower that still wants deliveries when the day's cap is all lent learns
// it once a day (the grant's daily_spent), so that it can hold its mail for the
// next day instead of waiting for a block that will not come.
bool lease_owner::tell_spent(unsigned borrower) {
    borrower_state& state = _states[borrower];
    if (_limits.daily_cap == 0 || state.daily_wanted == 0) return false;
    if (_daily_lent < _limits.daily_cap || state.spent_told_day == _day) return false;
    state.spent_told_day = _day;
    return true;
}

void lease_owner::move_share(unsigned borrower, const lease_share& target,
                             std::vector<lease_message>& out) {
    borrower_state& state = _states[borrower];
    if (state.pending) return;   // nothing else until the revoke is answered
    const lease_share held = state.held;
    const unsigned slots_sum = slots_held();
    const unsigned slots_free = _limits.slots > slots_sum ? _limits.slots - slots_sum : 0;

    lease_share next = target;
    if (target.slots > held.slots) {
        next.slots = held.slots + std::min(target.slots - held.slots, slots_free);
    }
    const std::uint64_t message_budget = per_day(_limits.rate_count, _limits.rate_period_ms);
    const std::uint64_t connect_budget = per_day(_limits.connect_count, _limits.connect_period_ms);
    grow_rate(held, target, rate_free(_states, message_budget, message_rate), message_rate, next);
    grow_rate(held, target, rate_free(_states, connect_budget, connect_rate), connect_rate, next);
    const bool shrinks = next.slots < held.slots || rate_shrinks(held, next, message_rate) ||
                         rate_shrinks(held, next, connect_rate);
    if (shrinks) {
        // What grows in the same message is counted now; what shrinks on the answer.
        state.held.slots = std::max(held.slots, next.slots);
        count_grow(held, next, message_rate, state.held);
        count_grow(held, next, connect_rate, state.held);
        state.held.daily_limited = next.daily_limited;
        state.pending = true;
        state.pending_share = next;
        out.emplace_back(lease_revoke{_budget, borrower, ++state.seq, next});
        return;
    }
    const std::uint64_t daily_add = daily_block(borrower);
    const bool spent = tell_spent(borrower);
    if (next == held && daily_add == 0 && !spent) return;
    state.held = next;
    out.emplace_back(lease_grant{_budget, borrower, ++state.seq, next, daily_add, _day, spent});
}

void lease_owner::rebalance(std::uint64_t now_unix_ms, std::vector<lease_message>& out) {
    roll_day(now_unix_ms);
    compute_targets(_targets);
    const unsigned n = static_cast<unsigned>(_states.size());
    // Shrinks first: nothing they free counts before it is answered, but a grow
    // later in this pass must not take what a revoke is about to ask back.
    for (unsigned k = 0; k < n; ++k) {
        const unsigned b = static_cast<unsigned>((k + _rotation) % n);
        if (_targets[b].slots < _states[b].held.slots) move_share(b, _targets[b], out);
    }
    for (unsigned k = 0; k < n; ++k) {
        const unsigned b = static_cast<unsigned>((k + _rotation) % n);
        move_share(b, _targets[b], out);
    }
    ++_rotation;
}

}  // namespace ringmta::queue
