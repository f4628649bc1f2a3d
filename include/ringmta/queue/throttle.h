// Throttle primitives: a token bucket for message and connection rates, a daily
// cap with UTC day rollover, and connection-slot accounting. Pure code: no I/O,
// no clock reads (time is passed in), no allocation, no locks. Each object lives
// on one shard: the lease owner holds the global ones of a budget
// (include/ringmta/queue/lease.h), a borrower the shares it was lent.
#pragma once

#include <cstdint>

namespace ringmta::queue {

inline constexpr std::uint64_t day_ms = 24ull * 3600 * 1000;

// At most `count` events per `period_ms`, with bursts of at most `burst`. Exact
// integer arithmetic: one token is `period_ms` units and every elapsed
// millisecond adds `count` units, so "1/d" and "100000/s" are both exact.
// count 0 means unlimited: every take succeeds.
class token_bucket {
public:
    token_bucket() = default;
    // Starts full. burst 0: default_burst(count, period_ms).
    token_bucket(std::uint64_t count, std::uint64_t period_ms, std::uint64_t now_ms,
                 std::uint64_t burst = 0);

    // A tenth of a second's worth of tokens, at least 1 and at most count: paced
    // sending, so that a rate holds over short windows too.
    static std::uint64_t default_burst(std::uint64_t count, std::uint64_t period_ms);

    bool unlimited() const { return _count == 0; }
    std::uint64_t count() const { return _count; }
    std::uint64_t period_ms() const { return _period_ms; }
    std::uint64_t burst() const { return _burst; }

    // Takes n tokens if there are n; false (and takes none) otherwise.
    bool try_take(std::uint64_t now_ms, std::uint64_t n = 1);
    // Whole tokens available now.
    std::uint64_t available(std::uint64_t now_ms);
    // Milliseconds until n tokens are available (0: now). n above the burst
    // never fits; the wait for the burst is returned then.
    std::uint64_t wait_ms(std::uint64_t now_ms, std::uint64_t n = 1);
    // Returns n tokens taken but not used (up to the burst).
    void give_back(std::uint64_t n);
    // A new rate (adaptive backoff, a new lease share). Keeps the tokens there
    // are, the fraction of the next one included, up to the new burst. count 0:
    // unlimited.
    void set_rate(std::uint64_t count, std::uint64_t period_ms, std::uint64_t now_ms,
                  std::uint64_t burst = 0);

private:
    void refill(std::uint64_t now_ms);

    std::uint64_t _count = 0;
    std::uint64_t _period_ms = 0;
    std::uint64_t _burst = 0;
    std::uint64_t _units = 0;        // tokens * _period_ms
    std::uint64_t _last_ms = 0;
};

// At most `limit` per UTC day (warm-up caps); the count starts again at 00:00 UTC.
// limit 0: unlimited. Time is wall-clock (Unix) milliseconds.
class daily_cap {
public:
    explicit daily_cap(std::uint64_t limit = 0) : _limit(limit) {}

    bool unlimited() const { return _limit == 0; }
    std::uint64_t limit() const { return _limit; }
    void set_limit(std::uint64_t limit) { _limit = limit; }

    bool try_take(std::uint64_t now_unix_ms, std::uint64_t n = 1);
    // Returns n taken today but not used (a failed delivery).
    void give_back(std::uint64_t now_unix_ms, std::uint64_t n = 1);
    std::uint64_t used(std::uint64_t now_unix_ms);
    // Left today; UINT64_MAX when unlimited.
    std::uint64_t remaining(std::uint64_t now_unix_ms);
    // Milliseconds until the next UTC midnight.
    static std::uint64_t ms_until_reset(std::uint64_t now_unix_ms) {
        return day_ms - now_unix_ms % day_ms;
    }

private:
    void roll(std::uint64_t now_unix_ms);

    std::uint64_t _limit;
    std::uint64_t _day = 0;          // now_unix_ms / day_ms of _used
    std::uint64_t _used = 0;
};

// Connection slots: at most `limit` in use. Lowering the limit below what is in
// use takes effect as connections close (none is cut); acquire fails meanwhile.
class connection_slots {
public:
    explicit connection_slots(unsigned limit = 0) : _limit(limit) {}

    bool try_acquire() {
        if (_in_use >= _limit) return false;
        ++_in_use;
        return true;
    }
    void release();
    void set_limit(unsigned limit) { _limit = limit; }
    unsigned limit() const { return _limit; }
    unsigned in_use() const { return _in_use; }
    unsigned free() const { return _in_use >= _limit ? 0 : _limit - _in_use; }

private:
    unsigned _limit;
    unsigned _in_use = 0;
};

}  // namespace ringmta::queue
