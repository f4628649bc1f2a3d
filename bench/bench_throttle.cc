// Microbenchmarks of the per-destination throttles (include/ringmta/queue/throttle.h,
// throttle_controller.h): what the delivery side pays before each connection and
// each message (a token bucket take, a lease share's try_send), after each reply
// (the adaptive controller's report, the reply classification against the
// configured patterns), and the owner's periodic rebalance of a budget's shares.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <string>

#include "ringmta/queue/lease_borrower.h"
#include "ringmta/queue/lease_owner.h"
#include "ringmta/queue/throttle.h"
#include "ringmta/queue/throttle_controller.h"

using namespace ringmta::queue;

namespace {

// The steady path: a take that succeeds, the clock a millisecond on each time.
void bm_token_bucket_take(benchmark::State& state) {
    token_bucket bucket(1'000'000, 1000, 0);
    std::uint64_t now_ms = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(bucket.try_take(++now_ms));
    }
}
BENCHMARK(bm_token_bucket_take);

// Over the rate: the refusal and the wait a dispatcher asks for.
void bm_token_bucket_refuse(benchmark::State& state) {
    token_bucket bucket(1, 86'400'000, 0);
    bucket.try_take(0);
    for (auto _ : state) {
        benchmark::DoNotOptimize(bucket.try_take(1));
        benchmark::DoNotOptimize(bucket.wait_ms(1));
    }
}
BENCHMARK(bm_token_bucket_refuse);

void bm_daily_cap_take(benchmark::State& state) {
    daily_cap cap(0);
    std::uint64_t now_ms = 1'700'000'000'000;
    for (auto _ : state) {
        benchmark::DoNotOptimize(cap.try_take(++now_ms));
    }
}
BENCHMARK(bm_daily_cap_take);

controller_settings settings() {
    controller_settings s;
    s.connections_max = 20;
    s.rate_count = 1000;
    s.rate_period_ms = 1000;
    return s;
}

// After each 2xx: the common case, no change and no allocation.
void bm_controller_success(benchmark::State& state) {
    throttle_controller controller(settings());
    std::uint64_t now_ms = 0;
    for (auto _ : state) {
        throttle_change change = controller.report(throttle_signal::success, ++now_ms);
        benchmark::DoNotOptimize(change.kind);
    }
}
BENCHMARK(bm_controller_success);

// A receiver that throttles one attempt in eight: decreases, increases, holdoffs.
void bm_controller_mixed(benchmark::State& state) {
    controller_settings s = settings();
    s.suspend_after = 0;
    throttle_controller controller(s);
    std::uint64_t now_ms = 0;
    for (auto _ : state) {
        ++now_ms;
        throttle_signal signal =
            (now_ms & 7) == 0 ? throttle_signal::reply_421 : throttle_signal::success;
        throttle_change change = controller.report(signal, now_ms * 100);
        benchmark::DoNotOptimize(change.kind);
    }
}
BENCHMARK(bm_controller_mixed);

// A 4xx reply of 60 characters against four configured patterns, none matching.
void bm_classify_reply(benchmark::State& state) {
    const std::array<std::string, 4> patterns{"try again later", "rate limit", "too many",
                                              "throttl"};
    const std::string text = "4.2.1 The user you are trying to contact is receiving mail";
    for (auto _ : state) {
        benchmark::DoNotOptimize(classify_reply(450, text, patterns));
    }
}
BENCHMARK(bm_classify_reply);

// A borrower's admission of one message: rate token of its share and daily block.
void bm_borrower_try_send(benchmark::State& state) {
    lease_borrower borrower(1, 0);
    lease_share share{4, true, 8'640'000'000ull, true};   // 100,000/s
    borrower.on_grant(lease_grant{1, 0, 1, share, 1ull << 40, 20'000}, 0);
    std::uint64_t now_ms = 0;
    const std::uint64_t now_unix_ms = 20'000 * day_ms + 1;
    for (auto _ : state) {
        benchmark::DoNotOptimize(borrower.try_send(++now_ms, now_unix_ms, 1));
    }
}
BENCHMARK(bm_borrower_try_send);

// The owner's rebalance with 16 borrowers whose demand keeps changing: targets,
// grants and revokes (releases answered at once, as a quiet mesh would).
void bm_owner_rebalance_16(benchmark::State& state) {
    constexpr unsigned borrowers = 16;
    lease_owner owner(1, borrowers, lease_budget{40, 5000, 1000, 0});
    std::vector<lease_message> out;
    std::uint64_t round = 0;
    const std::uint64_t now_unix_ms = 20'000 * day_ms + 1;
    for (auto _ : state) {
        ++round;
        const unsigned b = static_cast<unsigned>(round % borrowers);
        owner.on_demand(lease_demand{1, b, static_cast<unsigned>(round % 7),
                                     round % 13 * 10, 0, 0, 0});
        out.clear();
        owner.rebalance(now_unix_ms, out);
        for (const lease_message& m : out) {
            if (const auto* revoke = std::get_if<lease_revoke>(&m)) {
                owner.on_release(lease_release{1, revoke->borrower, revoke->seq, revoke->share,
                                               0, 0},
                                 now_unix_ms);
            }
        }
        benchmark::DoNotOptimize(out.size());
    }
}
BENCHMARK(bm_owner_rebalance_16);

}  // namespace

BENCHMARK_MAIN();
