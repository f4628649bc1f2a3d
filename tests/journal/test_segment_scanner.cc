// segment_scanner: clean ends, torn tails, corrupt records in the middle (skipped, later
// records kept), truncation at every byte, and records hidden inside a message body.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "journal_test_util.h"
#include "ringmta/journal/record.h"

using namespace ringmta::journal;
using ringmta::journal::test::sample_message;

namespace {

// A message, an outcome and a message: offsets of each record and the image end.
struct three_records {
    std::string image;
    std::vector<std::size_t> offsets;
};

three_records make_three() {
    three_records t;
    sample_message m;
    t.offsets.push_back(encode_message(t.image, m.view()));
    t.offsets.push_back(encode_outcome(t.image, {m.message_id, 0, outcome_status::delivered, 5}));
    m.message_id += 1;
    m.body = "Subject: second\r\n\r\nsecond body\r\n";
    t.offsets.push_back(encode_message(t.image, m.view()));
    return t;
}

}  // namespace

TEST_CASE("scanner returns every record, then stops at the zero fill with end") {
    three_records t = make_three();
    std::size_t data_end = t.image.size();
    t.image.append(64 * 1024, '\0');
    segment_scanner scanner(t.image);
    for (std::size_t expected : t.offsets) {
        auto r = scanner.next();
        REQUIRE(r.has_value());
        CHECK(r->offset == expected);
        CHECK(scanner.valid_end() == expected + record_bytes(r->header.payload_bytes));
    }
    CHECK_FALSE(scanner.next().has_value());
    CHECK_FALSE(scanner.next().has_value());  // stays stopped
    CHECK(scanner.stop_reason() == scan_stop::end);
    CHECK(scanner.valid_end() == data_end);
    CHECK(scanner.corrupt_records() == 0);
}

TEST_CASE("scanner stops with end at the exact end of the data and on an empty image") {
    three_records t = make_three();
    segment_scanner scanner(t.image);
    while (scanner.next()) {
    }
    CHECK(scanner.stop_reason() == scan_stop::end);
    CHECK(scanner.valid_end() == t.image.size());

    segment_scanner empty{std::string_view{}};
    CHECK_FALSE(empty.next().has_value());
    CHECK(empty.stop_reason() == scan_stop::end);
    CHECK(empty.valid_end() == 0);
}

TEST_CASE("a torn last record stops the scan with torn, valid_end before it") {
    three_records t = make_three();
    std::string image = t.image.substr(0, t.image.size() - 9);  // last record cut short
    segment_scanner scanner(image);
    CHECK(scanner.next().has_value());
    CHECK(scanner.next().has_value());
    CHECK_FALSE(scanner.next().has_value());
    CHECK(scanner.stop_reason() == scan_stop::torn);
    CHECK(scanner.valid_end() == t.offsets[2]);
    // Only part of the header written: still torn.
    image = t.image.substr(0, t.offsets[2] + 10);
    segment_scanner short_header(image);
    while (short_header.next()) {
    }
    CHECK(short_header.stop_reason() == scan_stop::torn);
    CHECK(short_header.valid_end() == t.offsets[2]);
}

TEST_CASE("a tail record with a bad crc in a zero-filled segment stops with corrupt") {
    three_records t = make_three();
    std::string image = t.image;
    image[t.offsets[2] + 40] ^= 0x40;  // in the last record's payload (a half-written tail)
    image.append(4096, '\0');
    segment_scanner scanner(image);
    CHECK(scanner.next().has_value());
    CHECK(scanner.next().has_value());
    CHECK_FALSE(scanner.next().has_value());
    CHECK(scanner.stop_reason() == scan_stop::corrupt);
    CHECK(scanner.valid_end() == t.offsets[2]);
}

TEST_CASE("a flipped byte in the middle record is skipped and later records survive") {
    three_records t = make_three();
    std::size_t data_end = t.image.size();
    for (std::size_t flip : {t.offsets[1] + 2, t.offsets[1] + 13, t.offsets[1] + 30}) {
        std::string image = t.image;  // flip in the magic, in the crc, in the payload
        image[flip] ^= 0x01;
        image.append(256, '\0');
        CAPTURE(flip);
        segment_scanner scanner(image);
        auto first = scanner.next();
        auto third = scanner.next();
        REQUIRE((first && third));
        CHECK(first->offset == t.offsets[0]);
        CHECK(third->offset == t.offsets[2]);
        CHECK_FALSE(scanner.next().has_value());
        CHECK(scanner.corrupt_records() == 1);
        CHECK(scanner.stop_reason() == scan_stop::end);
        CHECK(scanner.valid_end() == data_end);
    }
}

TEST_CASE("garbage between records is skipped by searching for the next valid record") {
    three_records t = make_three();
    std::string image = t.image.substr(0, t.offsets[1]);
    image += std::string(40, '\x5a');  // 40 bytes of junk, 8-aligned
    image += t.image.substr(t.offsets[1]);
    std::vector<std::size_t> offsets = test::scan_offsets(image);
    REQUIRE(offsets.size() == 3);
    CHECK(offsets[1] == t.offsets[1] + 40);
}

TEST_CASE("truncation at every byte offset yields a prefix of the records") {
    three_records t = make_three();
    std::vector<std::size_t> ends;
    for (std::size_t i = 0; i < t.offsets.size(); ++i) {
        ends.push_back(i + 1 < t.offsets.size() ? t.offsets[i + 1] : t.image.size());
    }
    // Zero fill restores cut-off bytes that were zero (padding, high bytes of small ints).
    auto intact = [&](std::size_t record, std::size_t cut, bool zero_fill) {
        if (ends[record] <= cut) return true;
        if (!zero_fill) return false;
        for (std::size_t i = cut; i < ends[record]; ++i) {
            if (t.image[i] != 0) return false;
        }
        return true;
    };
    for (std::size_t cut = 0; cut <= t.image.size(); ++cut) {
        for (bool zero_fill : {false, true}) {
            std::string image = t.image.substr(0, cut);
            if (zero_fill) image.append(t.image.size() - cut, '\0');  // same size, zeros
            CAPTURE(cut);
            segment_scanner scanner(image);
            std::size_t count = 0;
            for (int guard = 0; guard < 10; ++guard) {  // bounded: never more than 3
                auto r = scanner.next();
                if (!r) break;
                REQUIRE(count < t.offsets.size());
                CHECK(r->offset == t.offsets[count]);
                ++count;
            }
            std::size_t whole = 0;
            while (whole < ends.size() && intact(whole, cut, zero_fill)) ++whole;
            CHECK(count == whole);
            CHECK(scanner.valid_end() == (whole == 0 ? 0 : ends[whole - 1]));
            std::size_t rest_at = whole == 0 ? 0 : ends[whole - 1];
            bool clean = image.find_first_not_of('\0', rest_at) == std::string::npos;
            if (clean) CHECK(scanner.stop_reason() == scan_stop::end);
            if (!clean) CHECK(scanner.stop_reason() != scan_stop::end);
        }
    }
}

TEST_CASE("records hidden in a torn or corrupt message body are never taken as real") {
    // A client can mail bytes that form a well-checksummed record; align it in the body.
    std::string forged;
    test::append_raw_record(forged, static_cast<std::uint16_t>(record_type::outcome), 99,
                            std::string(16, '\1'));
    sample_message m;
    std::string probe;
    encode_message(probe, m.view());
    std::size_t body_at = message_body_location(probe).offset;
    std::size_t pad = (record_alignment - body_at % record_alignment) % record_alignment;
    m.body = std::string(pad, 'p');
    for (int i = 0; i < 8; ++i) m.body += forged;
    std::string image;
    encode_message(image, m.view());

    std::string torn = image.substr(0, image.size() - 8);
    CHECK(test::scan_offsets(torn).empty());
    std::string corrupt = image + std::string(4096, '\0');
    corrupt[record_header_bytes + 1] ^= 0x10;  // bad crc, length intact
    segment_scanner scanner(corrupt);
    CHECK_FALSE(scanner.next().has_value());
    CHECK(scanner.stop_reason() == scan_stop::corrupt);
    CHECK(scanner.valid_end() == 0);
}

TEST_CASE("an unknown record type with a valid crc is returned, not treated as damage") {
    std::string image;
    test::append_raw_record(image, 77, 5, "future payload");
    encode_outcome(image, {5, 0, outcome_status::delivered, 1});
    segment_scanner scanner(image);
    auto unknown = scanner.next();
    REQUIRE(unknown.has_value());
    CHECK(unknown->header.type == 77);
    CHECK(unknown->payload == "future payload");
    CHECK(scanner.next().has_value());
    CHECK(scanner.corrupt_records() == 0);
}
