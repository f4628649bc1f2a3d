// Microbenchmarks of the one token bucket in the tree today, ingress's per-client
// connection limits (ingress/client_limits.h): admit() + release() for every
// accepted connection from outside relay_networks, on the accepting shard. Cases:
// one busy client whose bucket refills (the steady accept path), many clients
// (hash lookups over 10,000 tracked addresses), and a client over its rate
// (the refusal path). The per-domain delivery throttle does not exist yet.
#include <benchmark/benchmark.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <vector>

#include "ringmta/ingress/client_limits.h"

using namespace ringmta;

namespace {

sockaddr_in ipv4(std::uint32_t host_order) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(host_order);
    return a;
}

constexpr std::size_t tracked_max = 65536;

// admit() + release() of the address next() gives, the clock 1 ms later each time.
template <typename NextAddress>
void admit_release_loop(benchmark::State& state, ingress::client_limits& limits,
                        NextAddress next) {
    std::uint64_t now_ms = 0;
    for (auto _ : state) {
        const sockaddr* address = next();
        auto v = limits.admit(address, ++now_ms);
        if (v != ingress::client_limits::verdict::admitted) state.SkipWithError("refused");
        limits.release(address);
    }
    state.SetItemsProcessed(state.iterations());
}

void bm_admit_release_one_client(benchmark::State& state) {
    // 1,000,000 per second: the bucket always has a token.
    ingress::client_limits limits(100, config::rate{1000000, config::duration_ms{1000}},
                                  tracked_max);
    const sockaddr_in client = ipv4(0xC0000201);   // 192.0.2.1
    admit_release_loop(state, limits,
                       [&] { return reinterpret_cast<const sockaddr*>(&client); });
}
BENCHMARK(bm_admit_release_one_client);

void bm_admit_release_many_clients(benchmark::State& state) {
    ingress::client_limits limits(100, config::rate{100, config::duration_ms{1000}}, tracked_max);
    std::vector<sockaddr_in> clients;
    for (std::uint32_t i = 0; i < 10000; ++i) clients.push_back(ipv4(0x0A000000 + i));
    std::size_t next = 0;
    admit_release_loop(state, limits, [&] {
        next = next + 1 == clients.size() ? 0 : next + 1;
        return reinterpret_cast<const sockaddr*>(&clients[next]);
    });
}
BENCHMARK(bm_admit_release_many_clients);

void bm_refuse_over_rate(benchmark::State& state) {
    // 10 per hour, clock frozen: after the burst every call is too_fast.
    ingress::client_limits limits(0, config::rate{10, config::duration_ms{3600000}},
                                  tracked_max);
    const sockaddr_in client = ipv4(0xC0000202);
    const auto* address = reinterpret_cast<const sockaddr*>(&client);
    for (int i = 0; i < 10; ++i) limits.admit(address, 1);
    for (auto _ : state) {
        auto v = limits.admit(address, 1);
        if (v != ingress::client_limits::verdict::too_fast) state.SkipWithError("admitted");
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_refuse_over_rate);

}  // namespace

BENCHMARK_MAIN();
