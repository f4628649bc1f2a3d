// answer_cache: one shard's DNS cache, answers by (name, type) until their TTL
// runs out on the shard's monotonic clock. Shared-nothing: each shard has its
// own, so no locks. Pure code: the caller passes the time in.
//
// Bounded: at most entries_max answers. When full, expired answers go first,
// then the answer that would expire soonest (it is worth the least). Both are
// found in O(log n) through an index ordered by expiry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "ringmta/dns/answer.h"
#include "ringmta/dns/question.h"

namespace ringmta::dns {

struct cache_key {
    std::string name;   // normalized
    record_type type = record_type::a;
    bool operator==(const cache_key&) const = default;
};

struct cache_key_hash {
    std::size_t operator()(const cache_key& key) const {
        return std::hash<std::string>{}(key.name) ^
               (static_cast<std::size_t>(key.type) * 0x9e3779b97f4a7c15ull);
    }
};

class answer_cache {
public:
    // entries_max 0 turns the cache off (every lookup goes to the network).
    explicit answer_cache(std::size_t entries_max);

    // The answer for `key` if it is still fresh at now_ms, with ttl_s set to the
    // seconds it has left (rounded up). An expired answer is dropped.
    std::optional<answer> find(const cache_key& key, std::uint64_t now_ms);
    // Keeps `value` for value.ttl_s seconds from now_ms, replacing an older one;
    // a TTL of 0 keeps nothing.
    void insert(const cache_key& key, const answer& value, std::uint64_t now_ms);
    void clear();

    std::size_t size() const { return _entries.size(); }
    std::size_t entries_max() const { return _entries_max; }
    std::uint64_t evictions() const { return _evictions; }

private:
    using expiry_index = std::multimap<std::uint64_t, const cache_key*>;
    struct entry {
        answer value;
        std::uint64_t expires_ms = 0;
        expiry_index::iterator position;
    };
    using entry_map = std::unordered_map<cache_key, entry, cache_key_hash>;

    void erase(entry_map::iterator it);
    void make_room(std::uint64_t now_ms);

    std::size_t _entries_max;
    std::uint64_t _evictions = 0;
    entry_map _entries;
    // Keys point into _entries: unordered_map nodes never move.
    expiry_index _by_expiry;
};

}  // namespace ringmta::dns
