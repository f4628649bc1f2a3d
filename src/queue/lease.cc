// Budget names for the lease protocol. See include/ringmta/queue/lease.h.
#include "ringmta/queue/lease.h"

namespace ringmta::queue {

std::uint64_t lease_key_hash(std::string_view key) {
    // FNV-1a, 64 bits: stable across processes, builds and hosts (std::hash is not).
    std::uint64_t hash = 0xcbf29ce484222325ull;
    for (char c : key) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001b3ull;
    }
    return hash;
}

unsigned owner_shard(std::string_view key, unsigned shards) {
    return shards <= 1 ? 0 : static_cast<unsigned>(lease_key_hash(key) % shards);
}

}  // namespace ringmta::queue
