// recovery: rebuilding the live set from scanned records across segments.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "journal_test_util.h"
#include "ringmta/journal/recovery.h"

using namespace ringmta::journal;
using ringmta::journal::test::sample_message;

namespace {

sample_message message_with(std::uint64_t id, std::size_t recipient_count) {
    sample_message m;
    m.message_id = id;
    m.arrival_unix_ms = 1000 + id;
    m.recipients.clear();
    for (std::size_t i = 0; i < recipient_count; ++i) {
        m.recipients.push_back("r" + std::to_string(i) + "@d.example");
    }
    m.body = "body of " + std::to_string(id);
    return m;
}

void feed(recovery& rebuilt, std::uint64_t sequence, const std::string& image) {
    rebuilt.begin_segment(sequence);
    segment_scanner scanner(image);
    while (auto r = scanner.next()) rebuilt.apply(*r);
    REQUIRE(scanner.stop_reason() == scan_stop::end);
}

outcome_record done(std::uint64_t id, std::uint32_t index) {
    return {id, index, outcome_status::delivered, 5000};
}

}  // namespace

TEST_CASE("recovery: outcomes remove recipients and finished messages disappear") {
    std::string segment1, segment2;
    encode_segment_header(segment1, {segment_format_version, 0, 1, 1});
    encode_message(segment1, message_with(30, 3).view());
    encode_message(segment1, message_with(10, 1).view());
    encode_message(segment1, message_with(20, 2).view());
    encode_outcome(segment1, done(30, 1));
    encode_segment_header(segment2, {segment_format_version, 0, 2, 2});
    encode_outcome(segment2, done(10, 0));  // message 10 fully done
    encode_outcome(segment2, {20, 0, outcome_status::failed, 6000});
    encode_outcome(segment2, {20, 1, outcome_status::expired, 6000});  // 20 fully done
    encode_outcome(segment2, done(30, 1));  // repeated: no effect
    encode_message(segment2, message_with(40, 2).view());

    recovery rebuilt;
    feed(rebuilt, 1, segment1);
    feed(rebuilt, 2, segment2);
    std::vector<live_message> live = rebuilt.finish();
    REQUIRE(live.size() == 2);
    CHECK(live[0].message.message_id == 30);  // arrival (queue id) order
    CHECK(live[0].pending == std::vector<std::uint32_t>{0, 2});
    CHECK(live[0].segment_sequence == 1);
    CHECK(live[0].message.body == "body of 30");
    CHECK(live[0].message.recipients.size() == 3);
    CHECK(live[1].message.message_id == 40);
    CHECK(live[1].pending == std::vector<std::uint32_t>{0, 1});
    CHECK(live[1].segment_sequence == 2);
    CHECK(rebuilt.counters().records == 11);
    CHECK(rebuilt.counters().messages == 4);
    CHECK(rebuilt.counters().outcomes == 5);
    CHECK(rebuilt.counters().orphan_outcomes == 0);
    CHECK(rebuilt.max_message_id() == 40);
}

TEST_CASE("recovery: the last attempt state per pending recipient is kept") {
    std::string image;
    encode_message(image, message_with(7, 3).view());
    encode_attempt(image, {7, 2, 1, 100});
    encode_attempt(image, {7, 0, 1, 200});
    encode_attempt(image, {7, 2, 2, 300});  // newer state for recipient 2
    encode_attempt(image, {7, 1, 1, 400});
    encode_outcome(image, done(7, 1));      // recipient 1 done: its attempt state goes
    for (std::uint32_t n = 3; n < 20; ++n) encode_attempt(image, {7, 0, n, 1000 + n});
    recovery rebuilt;
    feed(rebuilt, 9, image);
    std::vector<live_message> live = rebuilt.finish();
    REQUIRE(live.size() == 1);
    CHECK(live[0].pending == std::vector<std::uint32_t>{0, 2});
    REQUIRE(live[0].attempts.size() == 2);
    CHECK(live[0].attempts[0].recipient_index == 0);
    CHECK(live[0].attempts[0].attempts == 19);
    CHECK(live[0].attempts[0].next_attempt_unix_ms == 1019);
    CHECK(live[0].attempts[1].recipient_index == 2);
    CHECK(live[0].attempts[1].attempts == 2);
    CHECK(live[0].attempts[1].next_attempt_unix_ms == 300);
    CHECK(rebuilt.counters().attempts == 21);
}

TEST_CASE("recovery: orphans, unknown types and undecodable payloads are counted") {
    std::string image;
    encode_outcome(image, done(555, 0));       // no such message
    encode_attempt(image, {556, 0, 1, 1});     // no such message
    test::append_raw_record(image, 42, 1, "a future record type");
    test::append_raw_record(image, static_cast<std::uint16_t>(record_type::message), 2, "junk");
    encode_message(image, message_with(3, 1).view());
    encode_outcome(image, done(3, 9));         // recipient index out of range
    recovery rebuilt;
    feed(rebuilt, 1, image);
    const recovery::stats& s = rebuilt.counters();
    CHECK(s.records == 6);
    CHECK(s.orphan_outcomes == 2);
    CHECK(s.unknown_types == 1);
    CHECK(s.corrupt == 2);
    CHECK(rebuilt.max_message_id() == 556);
    std::vector<live_message> live = rebuilt.finish();
    REQUIRE(live.size() == 1);
    CHECK(live[0].pending == std::vector<std::uint32_t>{0});
}

TEST_CASE("recovery: a message rewritten forward keeps its outcomes and moves segment") {
    std::string old_segment, new_segment;
    encode_message(old_segment, message_with(8, 3).view());
    encode_outcome(old_segment, done(8, 0));
    encode_attempt(old_segment, {8, 2, 4, 900});
    encode_outcome(new_segment, {99, 0, outcome_status::delivered, 1});  // padding record
    std::size_t at = encode_message(new_segment, message_with(8, 3).view());
    recovery rebuilt;
    feed(rebuilt, 1, old_segment);
    feed(rebuilt, 2, new_segment);
    std::vector<live_message> live = rebuilt.finish();
    REQUIRE(live.size() == 1);
    CHECK(live[0].pending == std::vector<std::uint32_t>{1, 2});
    CHECK(live[0].segment_sequence == 2);
    CHECK(live[0].record_offset == at);
    REQUIRE(live[0].attempts.size() == 1);
    CHECK(live[0].attempts[0].attempts == 4);
}

TEST_CASE("recovery without bodies: the body stays on disk, found via body_at") {
    std::string image;
    encode_outcome(image, done(1, 0));
    sample_message m = message_with(2, 1);
    m.body = std::string(3000, 'b') + "end";
    std::size_t at = encode_message(image, m.view());
    recovery rebuilt(false);
    feed(rebuilt, 4, image);
    std::vector<live_message> live = rebuilt.finish();
    REQUIRE(live.size() == 1);
    CHECK(live[0].message.body.empty());
    CHECK(live[0].message.sender.empty());   // read back with the body
    REQUIRE(live[0].message.recipients.size() == m.recipients.size());
    CHECK(live[0].message.recipients[0].address == m.recipients[0]);
    CHECK(live[0].record_offset == at);
    CHECK(live[0].record_size == record_bytes(image.size() - at - record_header_bytes));
    body_location where = live[0].body_at;
    CHECK(where.bytes == m.body.size());
    CHECK(image.substr(live[0].record_offset + where.offset, where.bytes) == m.body);
    CHECK(where.offset == message_body_location(std::string_view(image).substr(at)).offset);
}

TEST_CASE("recovery of an empty journal is empty") {
    recovery rebuilt;
    rebuilt.begin_segment(1);
    CHECK(rebuilt.finish().empty());
    CHECK(rebuilt.max_message_id() == 0);
    CHECK(rebuilt.counters().records == 0);
}
