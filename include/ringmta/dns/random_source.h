// random_source: a per-shard pseudo-random generator (xoshiro256**) for DNS
// message ids and for shuffling exchangers of equal preference. Seeded from
// getrandom(2) so ids are unpredictable off the host (RFC 5452 §9.2); not for
// keys. One per resolver, used only on its shard: no locks, no syscalls after
// construction.
#pragma once

#include <cstdint>

namespace ringmta::dns {

class random_source {
public:
    random_source();                             // seeded from getrandom(2)
    explicit random_source(std::uint64_t seed);  // reproducible (tests)

    std::uint64_t next_u64();
    std::uint16_t next_u16() { return static_cast<std::uint16_t>(next_u64() >> 48); }
    // Uniform in [0, bound); bound > 0. Lemire's multiply-and-reject.
    std::uint64_t below(std::uint64_t bound);

private:
    void seed_with(std::uint64_t seed);
    std::uint64_t _state[4] = {};
};

}  // namespace ringmta::dns
