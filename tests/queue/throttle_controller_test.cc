// The adaptive controller: multiplicative decrease, additive increase, the floor,
// the holdoff, suspension and its end, operator control and reply classification.
#include "ringmta/queue/throttle_controller.h"

#include <doctest/doctest.h>

#include <array>
#include <string>

using namespace ringmta::queue;

namespace {

controller_settings settings(unsigned connections, std::uint64_t rate = 1000) {
    controller_settings s;
    s.connections_max = connections;
    s.rate_count = rate;
    s.rate_period_ms = 1000;
    s.floor_percent = 10;
    s.suspend_after = 5;
    s.suspend_ms = 60'000;
    s.decrease_holdoff_ms = 1000;
    return s;
}

}  // namespace

TEST_CASE("classify_reply: 2xx, 421, configured patterns in any case") {
    std::array<std::string, 2> patterns{"try again later", "rate limited"};
    CHECK(classify_reply(250, "ok", patterns) == throttle_signal::success);
    CHECK(classify_reply(421, "bye", patterns) == throttle_signal::reply_421);
    CHECK(classify_reply(450, "4.7.0 Please TRY AGAIN LATER", patterns) ==
          throttle_signal::pattern);
    CHECK(classify_reply(550, "Rate Limited", patterns) == throttle_signal::pattern);
    CHECK(classify_reply(451, "try again", patterns) == throttle_signal::neutral);
    CHECK(classify_reply(550, "no such user", {}) == throttle_signal::neutral);
}

TEST_CASE("421 halves concurrency and rate, once per holdoff, never below the floor") {
    throttle_controller c(settings(40));
    CHECK(c.connections_allowed() == 40);
    CHECK(c.rate_allowed() == 1000);
    throttle_change first = c.report(throttle_signal::reply_421, 1000);
    CHECK(first.kind == change_kind::decrease);
    CHECK(first.connections_before == 40);
    CHECK(first.connections_after == 20);
    CHECK(first.rate_permille_after == 500);
    CHECK(first.reason == "421 from the receiver: connections 20, rate 50%");
    CHECK(c.rate_allowed() == 500);
    // The same overload's other connections: no second cut within the holdoff.
    CHECK_FALSE(c.report(throttle_signal::reply_421, 1500).changed());
    CHECK(c.connections_allowed() == 20);
    CHECK(c.report(throttle_signal::timeout, 2000).connections_after == 10);
    CHECK(c.report(throttle_signal::success, 2100).kind == change_kind::none);
    CHECK(c.report(throttle_signal::refused, 3000).connections_after == 5);
    CHECK(c.report(throttle_signal::success, 3100).kind == change_kind::none);
    CHECK(c.report(throttle_signal::pattern, 4000).connections_after == 4);   // floor 10%
    CHECK(c.rate_permille() == 100);
    CHECK(c.report(throttle_signal::success, 4100).kind == change_kind::none);
    CHECK_FALSE(c.report(throttle_signal::reply_421, 5000).changed());   // at the floor
    CHECK(c.counts().decreases == 4);
    CHECK(c.counts().throttles == 6);
}

TEST_CASE("successes add one connection and a tenth of the rate a round, up to the limit") {
    throttle_controller c(settings(4));
    c.report(throttle_signal::reply_421, 0);
    CHECK(c.connections_allowed() == 2);
    CHECK(c.rate_permille() == 500);
    // A round is as many successes as connections are allowed.
    CHECK_FALSE(c.report(throttle_signal::success, 10).changed());
    throttle_change up = c.report(throttle_signal::success, 11);
    CHECK(up.kind == change_kind::increase);
    CHECK(up.connections_after == 3);
    CHECK(up.rate_permille_after == 600);
    int changes = 0;
    for (int i = 0; i < 100; ++i) changes += c.report(throttle_signal::success, 20).changed();
    CHECK(changes == 4);   // 4 connections, then the rate to 100%
    CHECK(c.connections_allowed() == 4);
    CHECK(c.rate_permille() == 1000);
    CHECK(c.rate_allowed() == 1000);
    CHECK(c.counts().increases == 5);
    // 5xx and other failures change nothing.
    CHECK_FALSE(c.report(throttle_signal::neutral, 30).changed());
}

TEST_CASE("failures in a row suspend; the end of it restarts at the floor") {
    throttle_controller c(settings(20));
    for (std::uint64_t i = 0; i < 4; ++i) c.report(throttle_signal::refused, i * 2000);
    CHECK_FALSE(c.suspended());
    throttle_change s = c.report(throttle_signal::timeout, 10'000);
    CHECK(s.kind == change_kind::suspend);
    CHECK(s.reason == "5 throttling failures in a row (last: timeout): suspended for 60s");
    CHECK(c.suspended());
    CHECK(c.connections_allowed() == 0);
    CHECK(c.suspended_until_ms() == 70'000);
    CHECK_FALSE(c.report(throttle_signal::success, 20'000).changed());  // late results
    CHECK_FALSE(c.tick(69'999).changed());
    throttle_change back = c.tick(70'000);
    CHECK(back.kind == change_kind::resume);
    CHECK(back.connections_after == 2);   // the floor: 10% of 20
    CHECK(c.rate_permille() == 100);
    CHECK(c.counts().suspensions == 1);
    CHECK(c.counts().resumptions == 1);
    // A success in between resets the count of failures in a row.
    throttle_controller d(settings(20));
    for (int i = 0; i < 20; ++i) {
        d.report(throttle_signal::reply_421, static_cast<std::uint64_t>(i) * 2000);
        d.report(throttle_signal::success, static_cast<std::uint64_t>(i) * 2000 + 1);
    }
    CHECK_FALSE(d.suspended());
}

TEST_CASE("operator suspend and resume; suspend_after 0 never suspends") {
    throttle_controller c(settings(8, 0));
    CHECK(c.rate_allowed() == 0);   // unlimited rate stays unlimited
    throttle_change s = c.suspend(100, 3'600'000, "operator");
    CHECK(s.kind == change_kind::suspend);
    CHECK(s.reason == "operator: suspended for 3600s");
    CHECK(c.connections_allowed() == 0);
    throttle_change r = c.resume(200, "operator");
    CHECK(r.kind == change_kind::resume);
    CHECK(c.connections_allowed() == 8);   // an operator's resume keeps the values
    CHECK_FALSE(c.resume(300, "operator").changed());
    controller_settings never = settings(8);
    never.suspend_after = 0;
    throttle_controller n(never);
    for (std::uint64_t i = 0; i < 100; ++i) n.report(throttle_signal::reply_421, i * 2000);
    CHECK_FALSE(n.suspended());
    CHECK(n.connections_allowed() == 1);   // 10% of 8, at least one
}

TEST_CASE("reconfigure clamps the current values to new limits") {
    throttle_controller c(settings(40));
    c.reconfigure(settings(10));
    CHECK(c.connections_allowed() == 10);
    c.reconfigure(settings(100));
    CHECK(c.connections_allowed() == 10);   // grows back by successes, not at once
}
