// Segment keys and sealed scans: what a recycled segment file held before, and what
// anyone can mail inside a body, is never read as a record of the segment.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "journal_test_util.h"
#include "ringmta/journal/record.h"
#include "ringmta/journal/segment_key.h"

using namespace ringmta::journal;
using ringmta::journal::test::sample_message;

namespace {

journal_secret secret_of(std::uint8_t seed) {
    journal_secret s;
    for (std::size_t i = 0; i < s.bytes.size(); ++i) {
        s.bytes[i] = static_cast<std::uint8_t>(seed * 31 + i * 7 + 1);
    }
    return s;
}

// A sealed segment as the journal writes it: header, then `messages` messages (bodies
// of `body_bytes`) and an outcome for the first, then the end marker.
std::string sealed_segment(const journal_secret& secret, std::uint64_t sequence,
                           std::size_t messages, std::size_t body_bytes,
                           std::vector<std::size_t>* offsets = nullptr) {
    segment_key key = derive_segment_key(secret, sequence);
    std::string image;
    std::size_t at = encode_segment_header(image, {segment_format_version, 0, sequence, 1, secret});
    if (offsets) offsets->push_back(at);
    sample_message m;
    m.message_id = sequence << 20;
    m.body.assign(body_bytes, static_cast<char>('a' + sequence % 26));
    for (std::size_t i = 0; i < messages; ++i, ++m.message_id) {
        at = encode_message(image, m.view(), key);
        if (offsets) offsets->push_back(at);
    }
    at = encode_outcome(image, {sequence << 20, 0, outcome_status::delivered, 5}, key);
    if (offsets) offsets->push_back(at);
    image.append(record_alignment, '\0');
    return image;
}

std::vector<std::size_t> offsets_of(std::string_view image, segment_key key,
                                    segment_scanner* out = nullptr) {
    segment_scanner scanner(image, key);
    std::vector<std::size_t> offsets;
    while (auto r = scanner.next()) offsets.push_back(r->offset);
    if (out) *out = scanner;
    return offsets;
}

}  // namespace

TEST_CASE("segment keys differ by sequence and by secret, and are never unsealed") {
    std::set<std::pair<std::uint32_t, std::uint16_t>> seen;
    for (std::uint8_t s = 0; s < 4; ++s) {
        for (std::uint64_t sequence = 0; sequence < 20000; ++sequence) {
            segment_key k = derive_segment_key(secret_of(s), sequence);
            REQUIRE(k.sealed());
            seen.insert({k.seed, k.tag});
        }
    }
    CHECK(seen.size() == 80000);  // no two the same (a collision is a 2^-48 event)
    CHECK(derive_segment_key(secret_of(1), 7) == derive_segment_key(secret_of(1), 7));
}

TEST_CASE("the key file round-trips, and any damaged byte is refused") {
    key_file k{3, 42, secret_of(9)};
    std::string bytes = encode_key_file(k);
    REQUIRE(bytes.size() == key_file_bytes);
    key_file back;
    REQUIRE(decode_key_file(bytes, back));
    CHECK(back.shard == 3);
    CHECK(back.first_sealed_sequence == 42);
    CHECK(back.secret == k.secret);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        std::string damaged = bytes;
        damaged[i] = static_cast<char>(damaged[i] ^ 0x01);
        CHECK_FALSE(decode_key_file(damaged, back));
    }
    CHECK_FALSE(decode_key_file(bytes.substr(0, 47), back));
    CHECK_FALSE(decode_key_file(encode_key_file({3, 0, secret_of(9)}), back));  // no sequence 0
    CHECK_FALSE(decode_key_file(bytes + '\0', back));
}

TEST_CASE("a sealed scan takes the segment's own records only") {
    journal_secret secret = secret_of(1);
    std::vector<std::size_t> offsets;
    std::string image = sealed_segment(secret, 5, 3, 200, &offsets);
    image.append(4096, '\0');
    segment_scanner own(image, derive_segment_key(secret, 5));
    std::vector<std::size_t> found;
    while (auto r = own.next()) found.push_back(r->offset);
    CHECK(found == offsets);
    CHECK(own.stop_reason() == scan_stop::end);
    CHECK(own.corrupt_records() == 0);
    REQUIRE(read_segment_header(image).has_value());
    CHECK(read_segment_header(image)->secret == secret);

    // Another segment's key, or another shard's secret: the header (unsealed, at offset 0)
    // and nothing else; the search finds nothing that checks out.
    for (segment_key other : {derive_segment_key(secret, 6), derive_segment_key(secret_of(2), 5),
                              segment_key{}}) {
        segment_scanner scanner(image, other);
        std::vector<std::size_t> taken;
        while (auto r = scanner.next()) taken.push_back(r->offset);
        CHECK(taken == std::vector<std::size_t>{0});
        CHECK(scanner.corrupt_records() == 0);
    }
}

TEST_CASE("an unsealed segment header is taken at segment offset 0 only") {
    journal_secret secret = secret_of(1);
    segment_key key = derive_segment_key(secret, 5);
    std::string image;
    encode_outcome(image, {1, 0, outcome_status::delivered, 5}, key);
    std::size_t header_at =
        encode_segment_header(image, {segment_format_version, 0, 5, 1, secret});
    encode_outcome(image, {2, 0, outcome_status::delivered, 5}, key);
    // At offset 0 an outcome, sealed: not a header, so not taken; the header after it
    // is unsealed and not at offset 0: not taken either.
    segment_scanner scanner(image, key);
    std::vector<std::size_t> taken;
    while (auto r = scanner.next()) taken.push_back(r->offset);
    CHECK(taken == std::vector<std::size_t>{header_at + segment_header_record_bytes});
    CHECK(scanner.corrupt_records() == 1);  // the search passed the first two

    // Read back from its place (not offset 0 of the segment), a header is refused.
    std::string header_only;
    encode_segment_header(header_only, {segment_format_version, 0, 5, 1, secret});
    CHECK_FALSE(segment_scanner(header_only, key, 4096).next().has_value());
    CHECK(segment_scanner(header_only, key, 0).next().has_value());
}

TEST_CASE("a recycled file: the earlier segment's records past the new end are never taken") {
    journal_secret secret = secret_of(1);
    std::string old_image = sealed_segment(secret, 3, 12, 3000);
    std::vector<std::size_t> offsets;
    std::string fresh = sealed_segment(secret, 5, 2, 100, &offsets);
    REQUIRE(fresh.size() < old_image.size() / 4);
    std::string image = old_image;
    image.replace(0, fresh.size(), fresh);
    segment_key key = derive_segment_key(secret, 5);

    segment_scanner clean(image, key);
    CHECK(offsets_of(image, key, &clean) == offsets);
    CHECK(clean.stop_reason() == scan_stop::end);  // the end marker
    CHECK(clean.valid_end() == fresh.size() - record_alignment);

    // The end marker lost (a crash tore the last write): the scan searches through the
    // earlier segment's records and takes none of them.
    std::string torn = image;
    torn.replace(fresh.size() - record_alignment, record_alignment, old_image,
                 fresh.size() - record_alignment, record_alignment);
    segment_scanner after_crash(torn, key);
    CHECK(offsets_of(torn, key, &after_crash) == offsets);
    CHECK(after_crash.stop_reason() != scan_stop::end);
    CHECK(after_crash.corrupt_records() == 0);
    // The earlier segment's records are still there and whole: under their own key
    // the search would find them (so the test above could have failed).
    CHECK(offsets_of(torn, derive_segment_key(secret, 3)).size() > 5);

    // A damaged record in the middle: the search finds the next record of this
    // segment, never one of the earlier segment's.
    std::string damaged = image;
    damaged[offsets[1]] ^= 0x20;  // the first message's magic
    segment_scanner resync(damaged, key);
    std::vector<std::size_t> expected{offsets[0], offsets[2], offsets[3]};
    CHECK(offsets_of(damaged, key, &resync) == expected);
    CHECK(resync.corrupt_records() == 1);
}

TEST_CASE("forged records in a body are never taken in a sealed segment, even by the search") {
    // What anyone can mail: records framed and checksummed as version 1 wrote them
    // (unsealed), and sealed with keys one could compute without the shard's secret,
    // at every 8-byte alignment in the body.
    journal_secret secret = secret_of(1);
    segment_key key = derive_segment_key(secret, 5);
    auto is_forged = [](std::uint64_t id) { return id >= 0xbad0 && id < 0xbad8; };
    std::string forged;
    for (std::uint64_t sequence = 0; sequence < 8; ++sequence) {
        segment_key guess =
            sequence == 0 ? segment_key{} : derive_segment_key(journal_secret{}, sequence + 3);
        encode_outcome(forged, {0xbad0 + sequence, 0, outcome_status::delivered, 1}, guess);
    }
    sample_message m;
    m.body.clear();
    for (int shift = 0; shift < 8; ++shift) m.body += "x" + forged;
    std::string image;
    encode_segment_header(image, {segment_format_version, 0, 5, 1, secret});
    std::size_t message_at = encode_message(image, m.view(), key);
    std::size_t after_at = encode_outcome(image, {m.message_id, 0, outcome_status::delivered, 2}, key);
    image.append(record_alignment, '\0');

    // The message's magic damaged: its length cannot be trusted, so the search walks
    // through its body, 8 bytes at a time.
    image[message_at] ^= 0x01;
    segment_scanner scanner(image, key);
    std::vector<std::size_t> taken;
    while (auto r = scanner.next()) {
        CHECK_FALSE(is_forged(r->header.message_id));
        taken.push_back(r->offset);
    }
    CHECK(taken == std::vector<std::size_t>{0, after_at});
    CHECK(scanner.corrupt_records() == 1);

    // Unsealed (version 1), the same search takes a forged record: the seal is what
    // keeps them out.
    std::size_t forged_taken = 0;
    segment_scanner unsealed(image);
    while (auto r = unsealed.next()) forged_taken += is_forged(r->header.message_id);
    CHECK(forged_taken > 0);
}

TEST_CASE("reseal_record moves a record from one segment's key to another's") {
    journal_secret secret = secret_of(4);
    segment_key from = derive_segment_key(secret, 3);
    segment_key to = derive_segment_key(secret, 9);
    sample_message m;
    std::string record;
    encode_message(record, m.view(), from);
    CHECK(offsets_of(record, from, nullptr).size() == 0);  // offset 0 takes headers only
    CHECK(segment_scanner(record, from, 4096).next().has_value());
    reseal_record(std::span<char>(record.data(), record.size()), to);
    CHECK_FALSE(segment_scanner(record, from, 4096).next().has_value());
    auto r = segment_scanner(record, to, 4096).next();
    REQUIRE(r.has_value());
    message_record decoded;
    REQUIRE(decode_message(r->header.message_id, r->payload, decoded));
    CHECK(decoded.body == m.body);
}

TEST_CASE("version 1 segment headers (no secret) still decode; a version mismatch does not") {
    std::string v1;
    encode_segment_header(v1, {1, 2, 7, 9});
    CHECK(v1.size() == record_bytes(24));
    auto h = read_segment_header(v1);
    REQUIRE(h.has_value());
    CHECK(h->format_version == 1);
    CHECK(h->sequence == 7);
    CHECK(h->secret == journal_secret{});
    // A version 2 payload must carry the secret, a version 1 payload must not.
    std::string payload(24, '\0');
    payload[0] = 2;
    segment_header_record out{};
    CHECK_FALSE(decode_segment_header(payload, out));
    std::string long_v1(40, '\0');
    long_v1[0] = 1;
    CHECK_FALSE(decode_segment_header(long_v1, out));
}
