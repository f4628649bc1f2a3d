// Cross-shard channel tests with real threads and reactors.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "ringmta/runtime/channel.h"
#include "ringmta/runtime/notifier.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/shard_group.h"
#include "ringmta/runtime/task.h"

using namespace ringmta::runtime;

TEST_CASE("spsc_ring keeps FIFO order and refuses pushes when full") {
    spsc_ring<int> r(4);
    for (int i = 0; i < 4; ++i) CHECK(r.try_push(int(i)));
    CHECK_FALSE(r.try_push(99));
    int v = -1;
    for (int i = 0; i < 4; ++i) {
        REQUIRE(r.try_pop(v));
        CHECK(v == i);
    }
    CHECK_FALSE(r.try_pop(v));
}

TEST_CASE("spsc_ring transfers a million items between two threads in order") {
    spsc_ring<std::uint64_t> r(1024);
    constexpr std::uint64_t count = 1000000;
    std::thread producer([&] {
        for (std::uint64_t i = 0; i < count;) {
            if (r.try_push(std::uint64_t(i))) ++i;
        }
    });
    std::uint64_t expected = 0;
    std::uint64_t v = 0;
    bool ordered = true;
    for (std::uint64_t spins = 0; expected < count && spins < 4000000000ull; ++spins) {
        if (r.try_pop(v)) {
            ordered = ordered && v == expected;
            ++expected;
        }
    }
    producer.join();
    CHECK(ordered);
    CHECK(expected == count);
}

namespace {

// Each shard sends `per_shard` numbered messages to every other shard; each
// receiver counts what arrives through wake-ups and exits when all arrived.
struct mesh_test : wake_listener {
    shard_mesh<std::uint64_t>* mesh = nullptr;
    unsigned shard = 0;
    unsigned shards = 0;
    std::uint64_t per_shard = 0;
    std::uint64_t received = 0;
    std::uint64_t sum = 0;
    notifier arrived;
    void on_wake() override {
        mesh->drain(shard, [this](unsigned, std::uint64_t v) {
            ++received;
            sum += v;
        });
        arrived.notify();
    }
};

task<void> mesh_body(mesh_test* t) {
    reactor& r = reactor::current();
    std::uint64_t expected = t->per_shard * (t->shards - 1);
    for (std::uint64_t i = 1; i <= t->per_shard; ++i) {
        for (unsigned to = 0; to < t->shards; ++to) {
            if (to == t->shard) continue;
            // Backpressure: a full ring makes the sender yield a turn and retry.
            for (int tries = 0; !t->mesh->send(t->shard, to, std::uint64_t(i)); ++tries) {
                REQUIRE(tries < 1000000);
                io::sleep_for yield(0);
                co_await yield;
            }
        }
    }
    for (int waits = 0; t->received < expected && waits < 100000; ++waits) {
        co_await t->arrived.wait();
    }
    r.request_exit();
}

}  // namespace

TEST_CASE("shard_mesh delivers every message between shards with wake-ups") {
    constexpr unsigned shards = 3;
    shard_group group(shards);
    std::vector<mesh_test> tests(shards);
    shard_mesh<std::uint64_t> mesh(group.reactors(), 64);
    for (unsigned i = 0; i < shards; ++i) {
        tests[i].mesh = &mesh;
        tests[i].shard = i;
        tests[i].shards = shards;
        tests[i].per_shard = 5000;
    }
    group.start([&](reactor& r) {
        r.add_wake_listener(&tests[r.shard()]);
        spawn(mesh_body(&tests[r.shard()]));
    });
    group.join();
    for (const mesh_test& t : tests) {
        CHECK(t.received == 2 * 5000);
        CHECK(t.sum == 2 * (5000ull * 5001 / 2));
    }
}
