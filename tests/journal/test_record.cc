// Record format: sizes and alignment, encode/decode round trips for every type, and the
// body location a reader uses to fetch only a message's body from disk.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "journal_test_util.h"
#include "ringmta/journal/record.h"

using namespace ringmta::journal;
using ringmta::journal::test::sample_message;

namespace {

message_record round_trip(const sample_message& m, std::string* encoded = nullptr) {
    std::string out;
    std::size_t at = encode_message(out, m.view());
    REQUIRE(at == 0);
    REQUIRE(out.size() % record_alignment == 0);
    segment_scanner scanner(out);
    auto r = scanner.next();
    REQUIRE(r.has_value());
    CHECK(r->header.type == static_cast<std::uint16_t>(record_type::message));
    CHECK(r->header.message_id == m.message_id);
    CHECK(record_bytes(r->header.payload_bytes) == out.size());
    message_record decoded;
    REQUIRE(decode_message(r->header.message_id, r->payload, decoded));
    if (encoded != nullptr) *encoded = out;
    return decoded;
}

void check_same(const message_record& d, const sample_message& m) {
    CHECK(d.message_id == m.message_id);
    CHECK(d.arrival_unix_ms == m.arrival_unix_ms);
    CHECK(d.flags == m.flags);
    CHECK(d.sender == m.sender);
    CHECK(d.helo == m.helo);
    CHECK(d.client_address == m.client_address);
    CHECK(d.envid == m.envid);
    CHECK(d.ret == m.ret);
    REQUIRE(d.recipients.size() == m.recipients.size());
    for (std::size_t i = 0; i < d.recipients.size(); ++i) {
        CHECK(d.recipients[i].address == m.recipients[i]);
        CHECK(d.recipients[i].flags == 0);
        CHECK(d.recipients[i].orcpt.empty());
        CHECK(d.recipients[i].notify == 0);
    }
    CHECK(d.body == m.body);
}

}  // namespace

TEST_CASE("record_bytes adds the header and pads to 8") {
    CHECK(record_header_bytes == 24);
    CHECK(record_bytes(0) == 24);
    CHECK(record_bytes(1) == 32);
    CHECK(record_bytes(8) == 32);
    CHECK(record_bytes(9) == 40);
    CHECK(record_bytes(16) == 40);
    for (std::size_t n = 0; n < 100; ++n) {
        CHECK(record_bytes(n) % record_alignment == 0);
        CHECK(record_bytes(n) >= record_header_bytes + n);
        CHECK(record_bytes(n) < record_header_bytes + n + record_alignment);
    }
}

TEST_CASE("the header is laid out as documented, little-endian") {
    std::string out;
    encode_outcome(out, {0x1122334455667788, 3, outcome_status::failed, 99});
    REQUIRE(out.size() == record_bytes(16));
    CHECK(out.substr(0, 4) == "NRJR");
    CHECK(out[4] == 3);  // type outcome
    CHECK(out[5] == 0);
    CHECK(out[8] == 16);  // payload_bytes
    CHECK(test::le_u64(out.substr(16, 8)) == 0x1122334455667788);
    std::string zeroed = out.substr(0, record_header_bytes + 16);
    test::put_u32(zeroed, 12, 0);
    std::uint32_t crc = crc32c(0, zeroed.data(), zeroed.size());
    std::string expected(4, '\0');
    test::put_u32(expected, 0, crc);
    CHECK(out.substr(12, 4) == expected);
}

TEST_CASE("message round trip: envelope, recipients and body survive") {
    sample_message m;
    check_same(round_trip(m), m);
    m.flags = message_flag_smtputf8 | message_flag_dsn;
    m.sender.clear();  // null sender
    m.envid.clear();
    m.ret = 0;
    check_same(round_trip(m), m);
}

TEST_CASE("message round trip: empty body and every byte value in the body") {
    sample_message m;
    m.body.clear();
    check_same(round_trip(m), m);
    for (int i = 0; i < 4 * 256; ++i) m.body.push_back(static_cast<char>(i));
    m.body += std::string("\r\n.\r\n\0\0", 7);  // nothing in the body is special
    check_same(round_trip(m), m);
}

TEST_CASE("message round trip: many recipients, up to the limit") {
    sample_message m;
    m.recipients.clear();
    for (std::size_t i = 0; i < recipients_max; ++i) {
        m.recipients.push_back("user" + std::to_string(i) + "@example.net");
    }
    m.recipients.back() = std::string(address_bytes_max, 'x');
    m.sender = std::string(address_bytes_max, 's');
    check_same(round_trip(m), m);
}

TEST_CASE("outcome, attempt and segment header round trips") {
    std::string out;
    journal_secret secret;
    for (std::size_t i = 0; i < secret.bytes.size(); ++i) secret.bytes[i] = static_cast<std::uint8_t>(i + 1);
    std::size_t a_at =
        encode_segment_header(out, {segment_format_version, 3, 77, 1700000000000, secret});
    std::size_t b_at = encode_outcome(out, {42, 7, outcome_status::expired, 1700000000500});
    std::size_t c_at = encode_attempt(out, {43, 1, 5, 1700000900000});
    CHECK(a_at == 0);
    CHECK(b_at == record_bytes(40));
    CHECK(b_at == segment_header_record_bytes);
    CHECK(c_at == b_at + record_bytes(16));
    CHECK(out.size() == c_at + record_bytes(16));

    segment_scanner scanner(out);
    auto a = scanner.next();
    auto b = scanner.next();
    auto c = scanner.next();
    REQUIRE((a && b && c));
    CHECK(!scanner.next());
    CHECK(scanner.stop_reason() == scan_stop::end);

    segment_header_record h{};
    REQUIRE(decode_segment_header(a->payload, h));
    CHECK(h.format_version == segment_format_version);
    CHECK(h.shard == 3);
    CHECK(h.sequence == 77);
    CHECK(h.created_unix_ms == 1700000000000);
    CHECK(h.secret == secret);
    CHECK(a->header.message_id == 0);

    outcome_record o{};
    REQUIRE(decode_outcome(b->header.message_id, b->payload, o));
    CHECK(o.message_id == 42);
    CHECK(o.recipient_index == 7);
    CHECK(o.status == outcome_status::expired);
    CHECK(o.time_unix_ms == 1700000000500);

    attempt_record t{};
    REQUIRE(decode_attempt(c->header.message_id, c->payload, t));
    CHECK(t.message_id == 43);
    CHECK(t.recipient_index == 1);
    CHECK(t.attempts == 5);
    CHECK(t.next_attempt_unix_ms == 1700000900000);
}

TEST_CASE("encoders append: earlier bytes in the buffer are left alone") {
    std::string out = "prefix!!";  // 8 bytes the caller already had
    sample_message m;
    std::size_t at = encode_message(out, m.view());
    CHECK(at == 8);
    CHECK(out.substr(0, 8) == "prefix!!");
    CHECK((out.size() - at) % record_alignment == 0);
    segment_scanner scanner(std::string_view(out).substr(at));
    REQUIRE(scanner.next().has_value());
}

TEST_CASE("message_body_location points at exactly the body bytes") {
    test::test_random random{11};
    for (std::size_t body_bytes : {0ul, 1ul, 5ul, 7ul, 8ul, 9ul, 17ul, 4096ul, 10240ul}) {
        sample_message m;
        m.body = random.bytes(body_bytes);
        m.sender = std::string(body_bytes % 13, 'q');  // vary the envelope's length too
        std::string out;
        encode_outcome(out, {1, 0, outcome_status::delivered, 1});  // record not at 0
        std::size_t at = encode_message(out, m.view());
        body_location where = message_body_location(std::string_view(out).substr(at));
        CHECK(where.bytes == body_bytes);
        CHECK(at + where.offset + where.bytes <= out.size());
        CHECK(out.substr(at + where.offset, where.bytes) == m.body);
        // The body ends the payload: only padding follows it.
        CHECK(at + where.offset + where.bytes + record_alignment > out.size());
    }
}

TEST_CASE("message round trip: RFC 3461 NOTIFY and ORCPT per recipient") {
    sample_message m;
    m.recipients = {"a@example.net", "b@example.net", "c@example.net"};
    const std::vector<std::uint8_t> notify{1 | 2, 0, 8};
    const std::vector<std::string> orcpt{"rfc822;A+2Bx@example.net", "", "rfc822;c@example.net"};
    message_view view = m.view();
    view.notify = notify;
    view.orcpt = orcpt;
    std::string out;
    encode_message(out, view);
    segment_scanner scanner(out);
    auto r = scanner.next();
    REQUIRE(r.has_value());
    message_record decoded;
    REQUIRE(decode_message(r->header.message_id, r->payload, decoded));
    REQUIRE(decoded.recipients.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(decoded.recipients[i].address == m.recipients[i]);
        CHECK(decoded.recipients[i].notify == notify[i]);
        CHECK(decoded.recipients[i].orcpt == orcpt[i]);
    }
    CHECK(decoded.body == m.body);
    CHECK(message_body_location(out).bytes == m.body.size());
}
