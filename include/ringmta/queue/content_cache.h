// content_cache: the envelopes and bodies kept in memory for delivery, bounded by
// bytes (journal.cache_size, split over the shards). Mail is put here when it is
// accepted, so mail delivered right after it arrived is never read back; the
// least recently used entries go first when the budget is exceeded, and a
// message's entry goes when its last recipient is finished. Whatever is not here
// is read back from the journal (the page cache, usually) when its turn comes.
// Evicting an entry a delivery is using is safe: the delivery holds its own
// reference. Pure, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>

#include "ringmta/queue/message.h"

namespace ringmta::queue {

struct content_cache_stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t inserted = 0;
    std::uint64_t evicted = 0;      // pushed out by the budget
    std::uint64_t too_large = 0;    // larger than the whole budget: never kept
};

class content_cache {
public:
    explicit content_cache(std::size_t budget_bytes) : _budget(budget_bytes) {}

    // The content of message `id`, or nullptr (counted as a miss).
    content_ptr find(std::uint64_t id);
    // Keeps `c` for message `id` (replacing an older entry), evicting the least
    // recently used entries while the budget is exceeded.
    void insert(std::uint64_t id, content_ptr c);
    void erase(std::uint64_t id);

    std::size_t bytes() const { return _bytes; }
    std::size_t entries() const { return _entries.size(); }
    std::size_t budget() const { return _budget; }
    const content_cache_stats& stats() const { return _stats; }

private:
    struct entry {
        content_ptr content;
        std::size_t bytes;
        std::list<std::uint64_t>::iterator order;
    };

    void drop(std::unordered_map<std::uint64_t, entry>::iterator it);

    std::size_t _budget;
    std::size_t _bytes = 0;
    std::list<std::uint64_t> _lru;   // front: most recently used
    std::unordered_map<std::uint64_t, entry> _entries;
    content_cache_stats _stats;
};

}  // namespace ringmta::queue
