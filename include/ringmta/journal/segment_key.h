// Segment keys: what makes a journal record belong to one segment and to no other.
//
// A segment file may be recycled (renamed and overwritten from its start by a
// later segment), so past the new segment's end the file still holds what it held
// before: records of an earlier segment, and message bodies, which anyone can fill
// with bytes that frame a well-checksummed record. Neither may ever be read as a
// record of the new segment. So from format version 2 every record but the
// segment header is sealed with its segment's key: the key's tag in the header's
// flags, and the crc seeded with the key's seed instead of 0. The key is derived
// from the shard's secret (128 random bits in `<shard>/journal.key`, a copy in
// every segment header) and the segment's sequence, so another segment's records
// do not check out, and one who cannot read the spool cannot forge a record
// (a guess is right once in 2^48). Pure code; layout: src/journal/README.md.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringmta::journal {

struct journal_secret {
    std::array<std::uint8_t, 16> bytes{};
    bool operator==(const journal_secret&) const = default;
};

struct segment_key {
    std::uint32_t seed = 0;  // crc32c's starting value for the segment's records
    std::uint16_t tag = 0;   // every record's flags; 0: unsealed (format version 1)
    bool sealed() const { return tag != 0; }
    bool operator==(const segment_key&) const = default;
};

// The key of segment `sequence` of the shard with `secret`. Never an unsealed key.
segment_key derive_segment_key(const journal_secret& secret, std::uint64_t sequence);

// `<shard>/journal.key`: the secret, and the first sequence sealed with it (the
// segments before it were written by format version 1, unsealed).
inline constexpr const char* key_file_name = "journal.key";
inline constexpr std::size_t key_file_bytes = 48;

struct key_file {
    std::uint32_t shard = 0;
    std::uint64_t first_sealed_sequence = 0;
    journal_secret secret;
};

std::string encode_key_file(const key_file& k);
// False unless `bytes` is a whole key file whose crc checks out.
bool decode_key_file(std::string_view bytes, key_file& out);

}  // namespace ringmta::journal
