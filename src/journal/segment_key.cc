// Segment keys and the key file (see segment_key.h). Layout: src/journal/README.md.
#include "ringmta/journal/segment_key.h"

#include <cstring>

#include "ringmta/journal/crc32c.h"

namespace ringmta::journal {
namespace {

constexpr char key_file_magic[8] = {'R', 'I', 'N', 'G', 'M', 'T', 'A', 'K'};
constexpr std::uint32_t key_file_version = 1;
constexpr std::size_t key_file_crc_offset = 40;

std::uint64_t load_u64(const std::uint8_t* at) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < 8; ++i) value |= static_cast<std::uint64_t>(at[i]) << (8 * i);
    return value;
}

// A 64-bit finaliser (MurmurHash3's): every input bit changes every output bit
// with probability about 1/2. The keys it makes are never shown to anyone who
// could not read the spool anyway, so they need to be unpredictable, not secret
// against one who sees many of them.
std::uint64_t mix(std::uint64_t z) {
    z ^= z >> 33;
    z *= 0xff51afd7ed558ccdull;
    z ^= z >> 33;
    z *= 0xc4ceb9fe1a85ec53ull;
    z ^= z >> 33;
    return z;
}

template <typename Int>
void put_le(std::string& out, std::size_t at, Int value) {
    for (std::size_t i = 0; i < sizeof(Int); ++i) {
        out[at + i] = static_cast<char>(static_cast<std::uint64_t>(value) >> (8 * i));
    }
}

template <typename Int>
Int get_le(std::string_view in, std::size_t at) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < sizeof(Int); ++i) {
        value |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
    }
    return static_cast<Int>(value);
}

}  // namespace

segment_key derive_segment_key(const journal_secret& secret, std::uint64_t sequence) {
    std::uint64_t low = load_u64(secret.bytes.data());
    std::uint64_t high = load_u64(secret.bytes.data() + 8);
    std::uint64_t z = mix(low ^ mix(high ^ mix(sequence + 0x9e3779b97f4a7c15ull)));
    segment_key key;
    key.seed = static_cast<std::uint32_t>(z);
    key.tag = static_cast<std::uint16_t>(z >> 32);
    if (key.tag == 0) key.tag = static_cast<std::uint16_t>(z >> 48) | 1;  // never unsealed
    return key;
}

std::string encode_key_file(const key_file& k) {
    std::string out(key_file_bytes, '\0');
    std::memcpy(out.data(), key_file_magic, sizeof key_file_magic);
    put_le(out, 8, key_file_version);
    put_le(out, 12, k.shard);
    put_le(out, 16, k.first_sealed_sequence);
    std::memcpy(out.data() + 24, k.secret.bytes.data(), k.secret.bytes.size());
    put_le(out, key_file_crc_offset, crc32c(0, out.data(), key_file_crc_offset));
    return out;
}

bool decode_key_file(std::string_view bytes, key_file& out) {
    if (bytes.size() != key_file_bytes ||
        std::memcmp(bytes.data(), key_file_magic, sizeof key_file_magic) != 0 ||
        get_le<std::uint32_t>(bytes, 8) != key_file_version ||
        get_le<std::uint32_t>(bytes, key_file_crc_offset) !=
            crc32c(0, bytes.data(), key_file_crc_offset) ||
        get_le<std::uint32_t>(bytes, 44) != 0 || get_le<std::uint64_t>(bytes, 16) == 0) {
        return false;
    }
    out.shard = get_le<std::uint32_t>(bytes, 12);
    out.first_sealed_sequence = get_le<std::uint64_t>(bytes, 16);
    std::memcpy(out.secret.bytes.data(), bytes.data() + 24, out.secret.bytes.size());
    return true;
}

}  // namespace ringmta::journal
