// Token bucket, daily cap and connection slots: exact counts over simulated time.
#include "ringmta/queue/throttle.h"

#include <doctest/doctest.h>

using namespace ringmta::queue;

TEST_CASE("token bucket: a burst, then exactly the rate") {
    token_bucket bucket(100, 1000, 0);   // "100/s": burst of 10 (a tenth of a second)
    CHECK(bucket.burst() == 10);
    int taken = 0;
    while (bucket.try_take(0)) ++taken;
    CHECK(taken == 10);
    CHECK(bucket.wait_ms(0) == 10);
    CHECK_FALSE(bucket.try_take(9));
    CHECK(bucket.try_take(10));
    // Over 20 simulated seconds, taking whenever allowed, 1 ms steps.
    std::uint64_t sent = 0;
    for (std::uint64_t now = 10; now <= 20'010; ++now) {
        while (bucket.try_take(now)) ++sent;
    }
    CHECK(sent == 2000);   // 100/s over 20 s; the burst was spent before
}

TEST_CASE("token bucket: slow rates are exact (\"1/d\", \"20/10m\")") {
    token_bucket daily(1, 24ull * 3600 * 1000, 5);
    CHECK(daily.try_take(5));
    CHECK(daily.wait_ms(5) == 24ull * 3600 * 1000);
    CHECK_FALSE(daily.try_take(5 + 24ull * 3600 * 1000 - 1));
    CHECK(daily.wait_ms(5 + 24ull * 3600 * 1000 - 1) == 1);
    CHECK(daily.try_take(5 + 24ull * 3600 * 1000));
    token_bucket slow(20, 600'000, 0);
    CHECK(slow.burst() == 1);
    CHECK(slow.try_take(0));
    CHECK_FALSE(slow.try_take(29'999));
    CHECK(slow.try_take(30'000));   // one token per 30 s
}

TEST_CASE("token bucket: unlimited, explicit burst, give back, new rate") {
    token_bucket none;
    CHECK(none.unlimited());
    for (int i = 0; i < 1000; ++i) CHECK(none.try_take(0));
    CHECK(none.wait_ms(0) == 0);

    token_bucket bucket(10, 1000, 0, 5);
    CHECK(bucket.available(0) == 5);
    CHECK(bucket.try_take(0, 5));
    CHECK_FALSE(bucket.try_take(0, 6));   // more than the burst never fits
    bucket.give_back(2);
    CHECK(bucket.available(0) == 2);
    bucket.give_back(100);
    CHECK(bucket.available(0) == 5);      // up to the burst only
    bucket.set_rate(2, 1000, 0, 1);       // adaptive backoff: fewer, smaller bursts
    CHECK(bucket.available(0) == 1);
    CHECK(bucket.try_take(0));
    CHECK(bucket.wait_ms(0) == 500);
    bucket.set_rate(0, 0, 0);
    CHECK(bucket.try_take(0, 1'000'000));
    token_bucket huge(1'000'000'000'000'000ull, 24ull * 3600 * 1000, 0);   // fits, no overflow
    CHECK(huge.try_take(1, 1000));
    token_bucket backwards(10, 1000, 1000, 1);
    CHECK(backwards.try_take(1000));
    CHECK_FALSE(backwards.try_take(500));  // a clock stepping back adds nothing
}

TEST_CASE("token bucket: a new rate keeps the token under way") {
    // A lease share re-set every 100 ms (lease_borrower) must still add up to its
    // rate: 25/s over 10 s with the same rate set again every 100 ms is 250.
    token_bucket bucket(25, 1000, 0, 1);
    CHECK(bucket.try_take(0));
    std::uint64_t sent = 0;
    for (std::uint64_t now = 1; now <= 10'000; ++now) {
        if (now % 100 == 0) bucket.set_rate(25, 1000, now, 1);
        while (bucket.try_take(now)) ++sent;
    }
    CHECK(sent == 250);
    // Half a token of "1/s" stays half a token at "2/s": 250 ms to the next one.
    token_bucket halves(1, 1000, 0, 1);
    CHECK(halves.try_take(0));
    halves.set_rate(2, 1000, 500, 1);
    CHECK(halves.wait_ms(500) == 250);
}

TEST_CASE("daily cap: counts per UTC day and starts again at midnight") {
    const std::uint64_t midnight = 20'000 * day_ms;   // some UTC midnight
    daily_cap cap(3);
    CHECK(cap.try_take(midnight - 10, 2));
    CHECK_FALSE(cap.try_take(midnight - 5, 2));
    CHECK(cap.try_take(midnight - 5));
    CHECK(cap.remaining(midnight - 1) == 0);
    CHECK(daily_cap::ms_until_reset(midnight - 1) == 1);
    CHECK(cap.try_take(midnight, 3));   // a new day
    CHECK(cap.used(midnight + 1) == 3);
    cap.give_back(midnight + 2, 1);
    CHECK(cap.remaining(midnight + 2) == 1);
    cap.give_back(midnight + day_ms, 5);   // yesterday's takes are not refunded into today
    CHECK(cap.used(midnight + day_ms) == 0);
    CHECK_FALSE(cap.try_take(midnight + day_ms, 4));
    daily_cap none;
    CHECK(none.try_take(midnight, 1'000'000));
}

TEST_CASE("connection slots: never more than the limit, also when it shrinks") {
    connection_slots slots(2);
    CHECK(slots.try_acquire());
    CHECK(slots.try_acquire());
    CHECK_FALSE(slots.try_acquire());
    slots.set_limit(1);
    CHECK(slots.in_use() == 2);
    CHECK(slots.free() == 0);
    slots.release();
    CHECK_FALSE(slots.try_acquire());   // 1 in use, limit 1
    slots.release();
    CHECK(slots.try_acquire());
    CHECK(slots.in_use() == 1);
}
