// Decoders against malformed payloads: every truncation, each length field out of range,
// bad enum values, and seeded random bytes. Payloads are copied into exactly-sized heap
// blocks so the address sanitizer build catches any read past their end.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "journal_test_util.h"
#include "ringmta/journal/record.h"
#include "ringmta/journal/recovery.h"

using namespace ringmta::journal;
using ringmta::journal::test::sample_message;

namespace {

// Message payload field offsets (src/journal/README.md).
constexpr std::size_t recipient_count_at = 12;
constexpr std::size_t body_bytes_at = 16;
constexpr std::size_t sender_bytes_at = 22;
constexpr std::size_t first_recipient_at = 32;  // when sender/helo/client/envid are empty

// An exactly-sized copy: one byte past it is outside the allocation.
struct exact_copy {
    explicit exact_copy(std::string_view s) : bytes(new char[s.size() + (s.empty() ? 1 : 0)]) {
        std::copy(s.begin(), s.end(), bytes.get());
        view = std::string_view(bytes.get(), s.size());
    }
    std::unique_ptr<char[]> bytes;
    std::string_view view;
};

std::string message_payload(const sample_message& m) {
    std::string out;
    encode_message(out, m.view());
    return std::string(test::payload_of(out));
}

bool decodes_as_message(std::string_view payload) {
    exact_copy copy(payload);
    message_record m;
    return decode_message(1, copy.view, m);
}

// Runs every decoder over the payload; only the absence of crashes and OOB reads matters.
std::size_t decode_all(std::string_view payload) {
    exact_copy copy(payload);
    message_record m;
    outcome_record o{};
    attempt_record a{};
    segment_header_record h{};
    return decode_message(1, copy.view, m) + decode_outcome(1, copy.view, o) +
           decode_attempt(1, copy.view, a) + decode_segment_header(copy.view, h);
}

}  // namespace

TEST_CASE("decode_message rejects every truncation and any trailing byte") {
    sample_message m;
    std::string payload = message_payload(m);
    REQUIRE(decodes_as_message(payload));
    for (std::size_t n = 0; n < payload.size(); ++n) {
        CHECK_FALSE(decodes_as_message(std::string_view(payload).substr(0, n)));
    }
    // A longer payload would be read as a longer body unless body_bytes says otherwise.
    CHECK_FALSE(decodes_as_message(payload + "x"));
}

TEST_CASE("decode_message rejects lengths and counts out of range") {
    sample_message m;
    m.sender = m.helo = m.client_address = m.envid = "";
    m.recipients = {"r@x.example"};
    std::string good = message_payload(m);
    REQUIRE(decodes_as_message(good));

    std::string bad = good;
    test::put_u32(bad, recipient_count_at, 0);
    CHECK_FALSE(decodes_as_message(bad));
    test::put_u32(bad, recipient_count_at, recipients_max + 1);
    CHECK_FALSE(decodes_as_message(bad));
    test::put_u32(bad, recipient_count_at, 50000);  // in range but cannot fit the payload
    CHECK_FALSE(decodes_as_message(bad));

    bad = good;
    test::put_u32(bad, body_bytes_at, 0xffffffff);
    CHECK_FALSE(decodes_as_message(bad));
    test::put_u32(bad, body_bytes_at, static_cast<std::uint32_t>(m.body.size() + 1));
    CHECK_FALSE(decodes_as_message(bad));

    bad = good;  // a sender over the limit, with the bytes really there
    test::put_u16(bad, sender_bytes_at, address_bytes_max + 1);
    bad.insert(first_recipient_at, std::string(address_bytes_max + 1, 's'));
    CHECK_FALSE(decodes_as_message(bad));
    test::put_u16(bad, sender_bytes_at, address_bytes_max);  // one byte too many now
    CHECK_FALSE(decodes_as_message(bad));

    bad = good;  // an empty recipient address
    test::put_u16(bad, first_recipient_at + 4, 0);
    CHECK_FALSE(decodes_as_message(bad));
    bad = good;  // a recipient address longer than what remains
    test::put_u16(bad, first_recipient_at + 4, 0xffff);
    CHECK_FALSE(decodes_as_message(bad));
}

TEST_CASE("fixed-size decoders reject wrong sizes and bad outcome status") {
    std::string out;
    encode_outcome(out, {5, 1, outcome_status::delivered, 10});
    std::string payload(test::payload_of(out));
    outcome_record o{};
    REQUIRE(decode_outcome(5, exact_copy(payload).view, o));
    for (std::uint8_t status : {0, 5, 255}) {
        std::string bad = payload;
        bad[4] = static_cast<char>(status);
        CHECK_FALSE(decode_outcome(5, exact_copy(bad).view, o));
    }
    attempt_record a{};
    segment_header_record h{};
    for (std::size_t n : {0ul, 15ul, 17ul, 23ul, 25ul}) {
        std::string bytes(n, '\1');
        CHECK_FALSE(decode_outcome(5, exact_copy(bytes).view, o));
        CHECK_FALSE(decode_attempt(5, exact_copy(bytes).view, a));
        CHECK_FALSE(decode_segment_header(exact_copy(bytes).view, h));
    }
}

TEST_CASE("random payloads and mutated messages never crash the decoders") {
    test::test_random random{0xdecade};
    sample_message m;
    std::string good = message_payload(m);
    for (int i = 0; i < 20000; ++i) {
        decode_all(random.bytes(random.below(200)));
        std::string mutated = good;
        for (std::size_t k = 1 + random.below(4); k > 0; --k) {
            std::size_t at = random.below(mutated.size());
            mutated[at] = static_cast<char>(random.next());
        }
        if (random.below(4) == 0) mutated.resize(random.below(mutated.size() + 1));
        decode_all(mutated);
    }
    CHECK(decodes_as_message(good));
}

TEST_CASE("records with valid crc and random payloads pass scanner and recovery safely") {
    test::test_random random{0xfeed};
    std::string image;
    for (int i = 0; i < 3000; ++i) {
        auto type = static_cast<std::uint16_t>(1 + random.below(6));  // 5, 6: unknown types
        test::append_raw_record(image, type, 1 + random.below(50),
                                random.bytes(random.below(120)));
    }
    sample_message m;
    m.message_id = 7;
    encode_message(image, m.view());
    exact_copy copy(image);
    segment_scanner scanner(copy.view);
    recovery rebuilt;
    rebuilt.begin_segment(1);
    std::size_t records = 0;
    while (auto r = scanner.next()) {
        rebuilt.apply(*r);
        ++records;
    }
    CHECK(records == 3001);
    CHECK(scanner.stop_reason() == scan_stop::end);
    CHECK(scanner.corrupt_records() == 0);
    CHECK(rebuilt.counters().unknown_types > 0);
    CHECK(rebuilt.counters().corrupt > 0);
    std::vector<live_message> live = rebuilt.finish();
    CHECK_FALSE(live.empty());
}
