// shard_group: N shard threads, each owning one reactor (created on that thread,
// as SINGLE_ISSUER requires). start() returns once every reactor exists, so
// cross-shard wake-ups are safe from the first message on; each shard then runs
// its body (which spawns the shard's tasks) and its reactor loop until the body's
// tasks call request_exit().
#pragma once

#include <functional>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

#include "ringmta/runtime/assert.h"
#include "ringmta/runtime/reactor.h"

namespace ringmta::runtime {

class shard_group {
public:
    using shard_body = std::function<void(reactor&)>;

    explicit shard_group(unsigned count);
    ~shard_group();
    shard_group(const shard_group&) = delete;
    shard_group& operator=(const shard_group&) = delete;

    void start(shard_body body);
    void join();
    void wake_all();

    unsigned size() const { return _count; }
    reactor& shard(unsigned i) { return *_reactors[i]; }
    // Stable for the group's life; shard_mesh keeps a reference to it.
    const std::vector<reactor*>& reactors() const { return _reactors; }

private:
    unsigned _count;
    std::vector<reactor*> _reactors;
    std::vector<std::thread> _threads;
    std::unique_ptr<std::latch> _started;
    std::unique_ptr<std::latch> _go;
    std::unique_ptr<std::latch> _finished;
};

// The number of CPUs this process may run on (sched_getaffinity), at least 1.
unsigned available_cpus();

}  // namespace ringmta::runtime
