// shard_group (see shard_group.h).
#include "ringmta/runtime/shard_group.h"

#include <pthread.h>
#include <sched.h>

#include <cstdio>

namespace ringmta::runtime {

shard_group::shard_group(unsigned count) : _count(count), _reactors(count, nullptr) {
    RINGMTA_ASSERT(count >= 1 && count <= 256, "shard count %u out of range", count);
}

shard_group::~shard_group() { join(); }

void shard_group::start(shard_body body) {
    _started = std::make_unique<std::latch>(_count);
    _go = std::make_unique<std::latch>(1);
    _finished = std::make_unique<std::latch>(_count);
    for (unsigned i = 0; i < _count; ++i) {
        _threads.emplace_back([this, i, body] {
            char name[16];
            std::snprintf(name, sizeof(name), "ringmta-%u", i);
            pthread_setname_np(pthread_self(), name);
            reactor_options options;
            options.shard = i;
            reactor r(options);
            _reactors[i] = &r;
            _started->count_down();
            _go->wait();  // every reactor exists before any shard runs
            body(r);
            r.run();
            // Other shards may still wake this one until they stop too, so no
            // reactor is destroyed before every loop has ended.
            _finished->arrive_and_wait();
        });
    }
    _started->wait();
    _go->count_down();
}

void shard_group::join() {
    for (std::thread& t : _threads) {
        if (t.joinable()) t.join();
    }
    _threads.clear();
}

void shard_group::wake_all() {
    for (reactor* r : _reactors) {
        if (r) r->wake_from_any_thread();
    }
}

unsigned available_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return static_cast<unsigned>(n);
    }
    unsigned n = std::thread::hardware_concurrency();
    return n ? n : 1;
}

}  // namespace ringmta::runtime
