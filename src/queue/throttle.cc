// Token bucket, daily cap and connection slots. See include/ringmta/queue/throttle.h.
#include "ringmta/queue/throttle.h"

#include <algorithm>
#include <limits>

#include "ringmta/runtime/assert.h"

namespace ringmta::queue {

namespace {

// count * period_ms (the bucket's capacity in units for a burst of count) stays
// below this, so no product in the bucket overflows.
constexpr std::uint64_t units_max = 1ull << 62;

// Scales an absurd rate ("1000000000000/d") down to one whose arithmetic fits,
// keeping count / period_ms: halving both loses at most one token per halving.
void fit(std::uint64_t& count, std::uint64_t& period_ms) {
    while (count > 0 && period_ms > 0 && count > units_max / period_ms) {
        if (period_ms > 1) {
            period_ms /= 2;
            count = std::max<std::uint64_t>(1, count / 2);
        } else {
            count = units_max;
        }
    }
}

}  // namespace

token_bucket::token_bucket(std::uint64_t count, std::uint64_t period_ms,
                           std::uint64_t now_ms, std::uint64_t burst) {
    set_rate(count, period_ms, now_ms, burst);
    _units = _burst * _period_ms;
}

std::uint64_t token_bucket::default_burst(std::uint64_t count, std::uint64_t period_ms) {
    if (count == 0) return 0;
    // count * 100 / period_ms without overflow: period_ms is never 0 for a rate.
    std::uint64_t per_tenth = period_ms == 0 ? count : count / std::max<std::uint64_t>(
                                                                1, period_ms / 100);
    return std::clamp<std::uint64_t>(per_tenth, 1, count);
}

void token_bucket::set_rate(std::uint64_t count, std::uint64_t period_ms, std::uint64_t now_ms,
                            std::uint64_t burst) {
    if (count == 0 || period_ms == 0) {
        _count = _period_ms = _burst = _units = 0;
        _last_ms = now_ms;
        return;
    }
    refill(now_ms);
    fit(count, period_ms);
    // What the bucket holds in the new period's units, the fraction of a token
    // under way included: a lease share re-set every 100 ms would otherwise lose
    // up to a token each time, a fifth of a 25/s share. Unlimited before: full.
    const unsigned __int128 held =
        _period_ms == 0 ? std::numeric_limits<std::uint64_t>::max()
                        : static_cast<unsigned __int128>(_units) * period_ms / _period_ms;
    _count = count;
    _period_ms = period_ms;
    _burst = burst == 0 ? default_burst(count, period_ms) : std::min(burst, count);
    const std::uint64_t capacity = _burst * _period_ms;
    _units = held < capacity ? static_cast<std::uint64_t>(held) : capacity;
    _last_ms = now_ms;
}

void token_bucket::refill(std::uint64_t now_ms) {
    if (_count == 0) return;
    if (now_ms <= _last_ms) return;   // a clock that stepped back adds nothing
    const std::uint64_t capacity = _burst * _period_ms;
    // Past one period the bucket is full whatever it held (burst <= count).
    const std::uint64_t elapsed = std::min(now_ms - _last_ms, _period_ms);
    _units = std::min(capacity, _units + elapsed * _count);
    _last_ms = now_ms;
}

bool token_bucket::try_take(std::uint64_t now_ms, std::uint64_t n) {
    if (_count == 0) return true;
    refill(now_ms);
    if (n > _burst || _units < n * _period_ms) return false;
    _units -= n * _period_ms;
    return true;
}

std::uint64_t token_bucket::available(std::uint64_t now_ms) {
    if (_count == 0) return std::numeric_limits<std::uint64_t>::max();
    refill(now_ms);
    return _units / _period_ms;
}

std::uint64_t token_bucket::wait_ms(std::uint64_t now_ms, std::uint64_t n) {
    if (_count == 0) return 0;
    refill(now_ms);
    const std::uint64_t needed = std::min(n, _burst) * _period_ms;
    if (_units >= needed) return 0;
    // Round up: after this many milliseconds the tokens are there.
    return (needed - _units + _count - 1) / _count;
}

void token_bucket::give_back(std::uint64_t n) {
    if (_count == 0) return;
    const std::uint64_t capacity = _burst * _period_ms;
    const std::uint64_t units = std::min(n, _burst) * _period_ms;
    _units = std::min(capacity, _units + units);
}

void daily_cap::roll(std::uint64_t now_unix_ms) {
    const std::uint64_t day = now_unix_ms / day_ms;
    if (day == _day) return;
    // A clock stepped back across midnight keeps today's count: never more than
    // the cap in one day, at the price of a late reset.
    if (day < _day) return;
    _day = day;
    _used = 0;
}

bool daily_cap::try_take(std::uint64_t now_unix_ms, std::uint64_t n) {
    roll(now_unix_ms);
    if (_limit != 0 && (n > _limit || _used > _limit - n)) return false;
    _used += n;
    return true;
}

void daily_cap::give_back(std::uint64_t now_unix_ms, std::uint64_t n) {
    // Only what was taken today: yesterday's takes went with yesterday's count.
    if (now_unix_ms / day_ms != _day) return;
    _used -= std::min(n, _used);
}

std::uint64_t daily_cap::used(std::uint64_t now_unix_ms) {
    roll(now_unix_ms);
    return _used;
}

std::uint64_t daily_cap::remaining(std::uint64_t now_unix_ms) {
    roll(now_unix_ms);
    if (_limit == 0) return std::numeric_limits<std::uint64_t>::max();
    return _used >= _limit ? 0 : _limit - _used;
}

void connection_slots::release() {
    RINGMTA_ASSERT(_in_use > 0, "connection_slots::release with none in use");
    --_in_use;
}

}  // namespace ringmta::queue
