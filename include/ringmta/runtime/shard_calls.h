// Calls between shards: a closure posted by one shard runs on another shard's
// thread, at that shard's next wake-up. For rare control work (the admin
// endpoint asking every shard for its queue, its metrics, a suspension), where
// the flexibility of a closure is worth an allocation; the hot paths have
// typed meshes of their own (delivery's budget_mesh).
//
// Built on shard_mesh, so the contract is its own: post() never blocks; a full
// ring returns false and the caller keeps the closure. The receiving shard runs
// what was posted from a wake_listener (run_posted). A closure that answers
// posts another closure back; state the two share lives in a shared_ptr, so an
// answer that comes after its asker gave up touches nothing freed.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "ringmta/runtime/channel.h"

namespace ringmta::runtime {

class shard_calls {
public:
    using call = std::function<void()>;

    shard_calls(const std::vector<reactor*>& shards, std::size_t capacity)
        : _mesh(shards, capacity) {}

    // From shard `from` (the calling thread's) to shard `to`; f runs there.
    bool post(unsigned from, unsigned to, call f) { return _mesh.send(from, to, std::move(f)); }

    // On shard `to`: runs every closure posted to it so far.
    std::size_t run_posted(unsigned to) {
        return _mesh.drain(to, [](unsigned, call&& f) {
            if (f) f();
        });
    }

    std::size_t shards() const { return _mesh.shards(); }

private:
    shard_mesh<call> _mesh;
};

}  // namespace ringmta::runtime
