// Cross-shard messaging. spsc_ring is a bounded lock-free single-producer /
// single-consumer ring; shard_mesh<T> holds one per ordered pair of shards, so
// every ring has exactly one producer thread and one consumer thread.
//
// Contract: send() never blocks and never allocates: a full ring returns false
// and the producer keeps the message (backpressure). After a successful push the
// producer wakes the consumer's reactor (coalesced); the consumer drains its
// inbound rings from a wake_listener on its own thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

#include "ringmta/runtime/assert.h"
#include "ringmta/runtime/reactor.h"

namespace ringmta::runtime {

template <typename T>
class spsc_ring {
public:
    explicit spsc_ring(std::size_t capacity) {
        RINGMTA_ASSERT(capacity >= 2 && (capacity & (capacity - 1)) == 0,
                       "spsc_ring capacity %zu must be a power of two", capacity);
        _slots = std::make_unique<T[]>(capacity);
        _mask = capacity - 1;
    }

    bool try_push(T&& value) {
        std::size_t tail = _tail.load(std::memory_order_relaxed);
        if (tail - _head_cache > _mask) {
            _head_cache = _head.load(std::memory_order_acquire);
            if (tail - _head_cache > _mask) return false;
        }
        _slots[tail & _mask] = std::move(value);
        _tail.store(tail + 1, std::memory_order_release);
        return true;
    }

    bool try_pop(T& out) {
        std::size_t head = _head.load(std::memory_order_relaxed);
        if (head == _tail_cache) {
            _tail_cache = _tail.load(std::memory_order_acquire);
            if (head == _tail_cache) return false;
        }
        out = std::move(_slots[head & _mask]);
        _head.store(head + 1, std::memory_order_release);
        return true;
    }

    std::size_t capacity() const { return _mask + 1; }

private:
    std::unique_ptr<T[]> _slots;
    std::size_t _mask = 0;
    // Producer and consumer indexes on separate cache lines; each side caches the
    // other's index to touch the shared line only when it seems full or empty.
    alignas(64) std::atomic<std::size_t> _head{0};
    std::size_t _tail_cache = 0;
    alignas(64) std::atomic<std::size_t> _tail{0};
    std::size_t _head_cache = 0;
};

template <typename T>
class shard_mesh {
public:
    // `shards` must stay valid for the mesh's life; index = shard number.
    shard_mesh(const std::vector<reactor*>& shards, std::size_t capacity)
        : _shards(shards), _count(shards.size()) {
        _rings.reserve(_count * _count);
        for (std::size_t i = 0; i < _count * _count; ++i) {
            _rings.push_back(std::make_unique<spsc_ring<T>>(capacity));
        }
    }

    // From shard `from` (the calling thread's reactor) to shard `to`.
    bool send(unsigned from, unsigned to, T&& value) {
        if (!ring(from, to).try_push(std::move(value))) return false;
        reactor::current().wake(*_shards[to]);
        return true;
    }

    // On shard `to`: calls f(from, message) for every queued message.
    template <typename F>
    std::size_t drain(unsigned to, F&& f) {
        std::size_t n = 0;
        T value;
        for (unsigned from = 0; from < _count; ++from) {
            spsc_ring<T>& r = ring(from, to);
            while (r.try_pop(value)) {
                f(from, std::move(value));
                ++n;
            }
        }
        return n;
    }

    std::size_t shards() const { return _count; }

private:
    spsc_ring<T>& ring(unsigned from, unsigned to) { return *_rings[from * _count + to]; }

    const std::vector<reactor*>& _shards;
    std::size_t _count;
    std::vector<std::unique_ptr<spsc_ring<T>>> _rings;
};

}  // namespace ringmta::runtime
