// random_source (see random_source.h): xoshiro256** (Blackman and Vigna),
// seeded through splitmix64.
#include "ringmta/dns/random_source.h"

#include <sys/random.h>

#include <ctime>

#include "ringmta/runtime/assert.h"
#include "ringmta/runtime/log.h"

namespace ringmta::dns {

namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

random_source::random_source() {
    std::uint64_t seed = 0;
    // getrandom never blocks once the kernel pool is initialized (always after boot).
    if (getrandom(&seed, sizeof(seed), 0) != static_cast<ssize_t>(sizeof(seed))) {
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = static_cast<std::uint64_t>(ts.tv_nsec) ^
               (static_cast<std::uint64_t>(ts.tv_sec) << 32);
        log_warn("dns: getrandom failed; DNS ids are seeded from the clock");
    }
    seed_with(seed);
}

random_source::random_source(std::uint64_t seed) { seed_with(seed); }

void random_source::seed_with(std::uint64_t seed) {
    for (std::uint64_t& word : _state) word = splitmix64(seed);
}

std::uint64_t random_source::next_u64() {
    std::uint64_t result = rotl(_state[1] * 5, 7) * 9;
    std::uint64_t t = _state[1] << 17;
    _state[2] ^= _state[0];
    _state[3] ^= _state[1];
    _state[1] ^= _state[2];
    _state[0] ^= _state[3];
    _state[2] ^= t;
    _state[3] = rotl(_state[3], 45);
    return result;
}

std::uint64_t random_source::below(std::uint64_t bound) {
    RINGMTA_ASSERT(bound > 0, "random_source::below(0)");
    // Lemire: the high half of x * bound is uniform once the biased low values
    // are rejected. Each pass is rejected with probability < 1/2, so the bound of
    // 64 passes is never reached in practice (and costs a 2^-64 bias if it is).
    unsigned __int128 m = 0;
    for (unsigned pass = 0; pass < 64; ++pass) {
        m = static_cast<unsigned __int128>(next_u64()) * bound;
        std::uint64_t low = static_cast<std::uint64_t>(m);
        if (low >= bound || low >= (0 - bound) % bound) break;
    }
    return static_cast<std::uint64_t>(m >> 64);
}

}  // namespace ringmta::dns
