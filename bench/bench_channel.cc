// Microbenchmarks of the cross-shard channel (runtime/channel.h): the spsc_ring
// alone (one thread, then a producer and a consumer thread), and shard_mesh
// between two real shards, where every push also wakes the receiving reactor
// (coalesced MSG_RING/eventfd wake-ups) and the receiver drains from on_wake().
// The message is a 32-byte record, the size of a cross-shard request.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <thread>

#include "ringmta/runtime/channel.h"
#include "ringmta/runtime/notifier.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/shard_group.h"
#include "ringmta/runtime/task.h"

using namespace ringmta::runtime;

namespace {

struct shard_message {
    std::uint64_t id = 0;
    std::uint64_t domain_hash = 0;
    std::uint32_t kind = 0;
    std::uint32_t amount = 0;
    void* reply_to = nullptr;
};
static_assert(sizeof(shard_message) == 32);

constexpr std::size_t ring_capacity = 1024;
constexpr std::uint64_t transfer_count = 1 << 18;   // per iteration, between threads

void bm_spsc_ring_same_thread(benchmark::State& state) {
    spsc_ring<shard_message> ring(ring_capacity);
    shard_message out;
    std::uint64_t id = 0;
    for (auto _ : state) {
        ring.try_push(shard_message{++id, id * 31, 1, 1, nullptr});
        ring.try_pop(out);
        benchmark::DoNotOptimize(out);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_spsc_ring_same_thread);

void bm_spsc_ring_two_threads(benchmark::State& state) {
    spsc_ring<shard_message> ring(ring_capacity);
    for (auto _ : state) {
        std::thread producer([&ring] {
            for (std::uint64_t i = 0; i < transfer_count;) {
                if (ring.try_push(shard_message{i, i, 1, 1, nullptr})) {
                    ++i;
                } else {
                    std::this_thread::yield();   // 2 vCPUs: let the consumer run
                }
            }
        });
        shard_message out;
        std::uint64_t got = 0;
        std::uint64_t sum = 0;
        while (got < transfer_count) {
            if (ring.try_pop(out)) {
                ++got;
                sum += out.id;
            } else {
                std::this_thread::yield();
            }
        }
        producer.join();
        if (sum != transfer_count * (transfer_count - 1) / 2) state.SkipWithError("lost");
    }
    state.SetItemsProcessed(state.iterations() * transfer_count);
}
BENCHMARK(bm_spsc_ring_two_threads)->UseRealTime()->Unit(benchmark::kMillisecond);

// Shard 0 sends transfer_count messages to shard 1; shard 1 counts them in on_wake().
struct mesh_side : wake_listener {
    shard_mesh<shard_message>* mesh = nullptr;
    unsigned shard = 0;
    std::uint64_t received = 0;
    notifier arrived;
    void on_wake() override {
        mesh->drain(shard, [this](unsigned, shard_message&&) { ++received; });
        arrived.notify();
    }
};

task<void> mesh_sender(mesh_side* side) {
    for (std::uint64_t i = 0; i < transfer_count; ++i) {
        // Backpressure as in the daemon: a full ring yields a turn and retries.
        while (!side->mesh->send(0, 1, shard_message{i, i, 1, 1, nullptr})) {
            io::sleep_for yield(0);
            co_await yield;
        }
    }
    reactor::current().request_exit();
}

task<void> mesh_receiver(mesh_side* side) {
    for (int waits = 0; side->received < transfer_count && waits < 100000000; ++waits) {
        co_await side->arrived.wait();
    }
    reactor::current().request_exit();
}

void bm_shard_mesh_two_shards(benchmark::State& state) {
    std::uint64_t received = 0;
    for (auto _ : state) {
        shard_group group(2);
        shard_mesh<shard_message> mesh(group.reactors(), ring_capacity);
        mesh_side sides[2];
        for (unsigned i = 0; i < 2; ++i) {
            sides[i].mesh = &mesh;
            sides[i].shard = i;
        }
        group.start([&](reactor& r) {
            r.add_wake_listener(&sides[r.shard()]);
            spawn(r.shard() == 0 ? mesh_sender(&sides[0]) : mesh_receiver(&sides[1]));
        });
        group.join();
        received += sides[1].received;
    }
    if (received != state.iterations() * transfer_count) state.SkipWithError("lost messages");
    state.SetItemsProcessed(state.iterations() * transfer_count);
}
BENCHMARK(bm_shard_mesh_two_shards)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
