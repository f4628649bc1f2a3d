// Unit tests of the accounting log line: exact output for fixed events, the JSON types
// of every key, timestamps, and escaping: whatever bytes go in, the line must parse as
// JSON and be valid UTF-8. The checkers here (a flat-object JSON parser and a UTF-8
// validator) are written independently of the code under test.
#include <ringmta/observe/accounting.h>  // first: the header compiles on its own

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace {

using ringmta::observe::accounting_event;
using ringmta::observe::append_accounting_line;
using ringmta::observe::append_json_string;
using ringmta::observe::append_utc_timestamp;
using ringmta::observe::outcome;
using ringmta::observe::outcome_name;

// Well-formed UTF-8 by decoding: shortest form, no surrogates, at most U+10FFFF.
bool is_valid_utf8(std::string_view s) {
    std::size_t at = 0;
    while (at < s.size()) {
        const auto lead = static_cast<unsigned char>(s[at]);
        std::size_t length = lead < 0x80 ? 1 : lead >> 5 == 0x6 ? 2 : lead >> 4 == 0xE ? 3
                             : lead >> 3 == 0x1E ? 4 : 0;
        if (length == 0 || at + length > s.size()) return false;
        std::uint32_t code = length == 1 ? lead : lead & (0x7F >> length);
        for (std::size_t k = 1; k < length; ++k) {
            const auto trail = static_cast<unsigned char>(s[at + k]);
            if (trail >> 6 != 0x2) return false;
            code = code << 6 | (trail & 0x3F);
        }
        const std::uint32_t shortest_min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (code < shortest_min[length] || code > 0x10FFFF) return false;
        if (code >= 0xD800 && code <= 0xDFFF) return false;
        at += length;
    }
    return true;
}

void append_utf8(std::string& out, std::uint32_t code) {
    if (code < 0x80) {
        out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
        out.push_back(static_cast<char>(0xC0 | code >> 6));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xE0 | code >> 12));
        out.push_back(static_cast<char>(0x80 | (code >> 6 & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
}

// A JSON string literal at s[at] (RFC 8259 7), decoded into `out`; false if malformed.
// Our writer never emits surrogate escapes, so \uD800..\uDFFF is rejected too.
bool parse_json_string(std::string_view s, std::size_t& at, std::string& out) {
    if (at >= s.size() || s[at] != '"') return false;
    for (++at; at < s.size(); ++at) {
        const auto c = static_cast<unsigned char>(s[at]);
        if (c == '"') {
            ++at;
            return true;
        }
        if (c < 0x20) return false;
        if (c != '\\') {
            out.push_back(static_cast<char>(c));
            continue;
        }
        if (++at >= s.size()) return false;
        const char escape = s[at];
        const std::string_view simple = "\"\\/bfnrt";
        const std::string_view decoded = "\"\\/\b\f\n\r\t";
        if (const auto i = simple.find(escape); i != std::string_view::npos) {
            out.push_back(decoded[i]);
        } else if (escape == 'u' && at + 4 < s.size()) {
            const std::string hex(s.substr(at + 1, 4));
            if (hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
                return false;
            }
            const auto code = static_cast<std::uint32_t>(std::stoul(hex, nullptr, 16));
            if (code >= 0xD800 && code <= 0xDFFF) return false;
            append_utf8(out, code);
            at += 4;
        } else {
            return false;
        }
    }
    return false;
}

struct json_value {
    bool is_string;
    std::string text;  // decoded string, or the number's digits
};
using json_object = std::vector<std::pair<std::string, json_value>>;

// A flat JSON object of strings and non-negative integers followed by exactly "\n".
bool parse_line(std::string_view s, json_object& object) {
    std::size_t at = 0;
    if (s.empty() || s[at++] != '{') return false;
    while (true) {
        std::string key;
        if (!parse_json_string(s, at, key)) return false;
        if (at >= s.size() || s[at++] != ':') return false;
        json_value value{false, {}};
        if (at < s.size() && s[at] == '"') {
            value.is_string = true;
            if (!parse_json_string(s, at, value.text)) return false;
        } else {
            while (at < s.size() && s[at] >= '0' && s[at] <= '9') value.text += s[at++];
            if (value.text.empty() || (value.text.size() > 1 && value.text[0] == '0')) {
                return false;
            }
        }
        object.emplace_back(std::move(key), std::move(value));
        if (at >= s.size()) return false;
        const char next = s[at++];
        if (next == '}') return s.substr(at) == "\n";
        if (next != ',') return false;
    }
}

std::string json(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

std::string timestamp(std::uint64_t time_unix_ms) {
    std::string out;
    append_utc_timestamp(out, time_unix_ms);
    return out;
}

accounting_event delivered_event() {
    accounting_event e{};
    e.time_unix_ms = 1795415520123;  // 2026-11-23T06:32:00.123Z
    e.queue_id = "0123456789abcdef";
    e.sender = "news@example.com";
    e.recipient = "bob@example.net";
    e.domain = "example.net";
    e.next_hop = "mx1.example.net";
    e.next_hop_ip = "127.0.0.2:2626";
    e.attempt = 1;
    e.status = outcome::delivered;
    e.smtp_code = 250;
    e.enhanced_code = "2.0.0";
    e.reply = "Ok: queued as 4Xz";
    e.tls_version = "TLSv1.3";
    e.tls_cipher = "TLS_AES_256_GCM_SHA384";
    e.size_bytes = 123;
    e.queued_ms = 45;
    return e;
}

}  // namespace

TEST_CASE("accounting: a fixed delivered event gives exactly the documented line") {
    std::string out = "previous line\n";
    append_accounting_line(out, delivered_event());
    CHECK(out ==
          "previous line\n"
          "{\"time\":\"2026-11-23T06:32:00.123Z\",\"queue_id\":\"0123456789abcdef\","
          "\"sender\":\"news@example.com\",\"recipient\":\"bob@example.net\","
          "\"domain\":\"example.net\",\"next_hop\":\"mx1.example.net\","
          "\"ip\":\"127.0.0.2:2626\",\"attempt\":1,\"status\":\"delivered\",\"code\":250,"
          "\"enhanced\":\"2.0.0\",\"reply\":\"Ok: queued as 4Xz\",\"tls_version\":\"TLSv1.3\","
          "\"tls_cipher\":\"TLS_AES_256_GCM_SHA384\",\"size\":123,\"queued_ms\":45}\n");
}

TEST_CASE("accounting: every key is present, in order, with its JSON type") {
    accounting_event e = delivered_event();
    e.status = outcome::deferred;
    e.next_hop_ip = "";
    e.smtp_code = 0;  // connection refused: no reply at all
    e.enhanced_code = "";
    e.reply = "connect: Connection refused";
    e.tls_version = "";
    e.tls_cipher = "";
    e.attempt = 4294967295u;
    e.size_bytes = 18446744073709551615ull;
    e.queued_ms = 0;
    std::string out;
    append_accounting_line(out, e);
    json_object object;
    REQUIRE(parse_line(out, object));
    const std::vector<std::pair<std::string, json_value>> expected = {
        {"time", {true, "2026-11-23T06:32:00.123Z"}}, {"queue_id", {true, "0123456789abcdef"}},
        {"sender", {true, "news@example.com"}},        {"recipient", {true, "bob@example.net"}},
        {"domain", {true, "example.net"}},             {"next_hop", {true, "mx1.example.net"}},
        {"ip", {true, ""}},                            {"attempt", {false, "4294967295"}},
        {"status", {true, "deferred"}},                {"code", {false, "0"}},
        {"enhanced", {true, ""}},                      {"reply", {true, std::string(e.reply)}},
        {"tls_version", {true, ""}},                   {"tls_cipher", {true, ""}},
        {"size", {false, "18446744073709551615"}},     {"queued_ms", {false, "0"}},
    };
    REQUIRE(object.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CAPTURE(expected[i].first);
        CHECK(object[i].first == expected[i].first);
        CHECK(object[i].second.is_string == expected[i].second.is_string);
        CHECK(object[i].second.text == expected[i].second.text);
    }
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
}

TEST_CASE("accounting: outcome names, also inside the line") {
    CHECK(std::string(outcome_name(outcome::delivered)) == "delivered");
    CHECK(std::string(outcome_name(outcome::deferred)) == "deferred");
    CHECK(std::string(outcome_name(outcome::failed)) == "failed");
    CHECK(std::string(outcome_name(outcome::expired)) == "expired");
    for (const outcome o : {outcome::delivered, outcome::deferred, outcome::failed,
                            outcome::expired}) {
        accounting_event e = delivered_event();
        e.status = o;
        std::string out;
        append_accounting_line(out, e);
        json_object object;
        REQUIRE(parse_line(out, object));
        CHECK(object[8].first == "status");
        CHECK(object[8].second.text == outcome_name(o));
    }
}

TEST_CASE("accounting: UTC timestamps are exact, leap years and far years included") {
    CHECK(timestamp(0) == "1970-01-01T00:00:00.000Z");
    CHECK(timestamp(1795415520123) == "2026-11-23T06:32:00.123Z");
    CHECK(timestamp(1709251199999) == "2024-02-29T23:59:59.999Z");  // leap day
    CHECK(timestamp(951868800000) == "2000-03-01T00:00:00.000Z");   // 2000 was leap
    CHECK(timestamp(4107585600000) == "2100-03-01T12:00:00.000Z");  // 2100 is not
    CHECK(timestamp(253402300799999) == "9999-12-31T23:59:59.999Z");
    CHECK(timestamp(253402300800000) == "10000-01-01T00:00:00.000Z");
    CHECK(timestamp(86399999) == "1970-01-01T23:59:59.999Z");
}

TEST_CASE("json string: quotes, backslashes and control characters are escaped") {
    CHECK(json("") == "\"\"");
    CHECK(json("plain text / slash") == "\"plain text / slash\"");
    CHECK(json("say \"hi\"") == "\"say \\\"hi\\\"\"");
    CHECK(json("C:\\dir\\") == "\"C:\\\\dir\\\\\"");
    CHECK(json("a\r\nb\tc") == "\"a\\u000d\\u000ab\\u0009c\"");
    CHECK(json(std::string_view("\0\x1f\x7f", 3)) == "\"\\u0000\\u001f\\u007f\"");
    CHECK(json(" ~") == "\" ~\"");
}

TEST_CASE("json string: well-formed UTF-8 is copied unchanged") {
    const std::string samples[] = {
        "caf\xc3\xa9",                   // U+00E9
        "\xc2\x80\xdf\xbf",              // U+0080, U+07FF
        "\xe0\xa0\x80\xed\x9f\xbf",      // U+0800, U+D7FF
        "\xee\x80\x80\xef\xbf\xbf",      // U+E000, U+FFFF
        "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",  // U+10000, U+10FFFF
        "\xe2\x80\xa8 \xf0\x9f\x93\xa7",     // U+2028, an envelope emoji
    };
    for (const std::string& s : samples) {
        CAPTURE(s);
        CHECK(json(s) == "\"" + s + "\"");
    }
}

TEST_CASE("json string: ill-formed UTF-8 becomes one U+FFFD per maximal subpart") {
    const std::pair<std::string, std::string> cases[] = {
        {"\x80", "\\ufffd"},                          // stray trail byte
        {"a\xbf\xbf" "b", "a\\ufffd\\ufffdb"},        // two stray trail bytes
        {"\xc0\xaf", "\\ufffd\\ufffd"},               // overlong '/' (C0 never starts)
        {"\xc1\xbf", "\\ufffd\\ufffd"},
        {"\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd"},    // overlong 3-byte form
        {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},    // surrogate U+D800
        {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},  // above U+10FFFF
        {"\xf5\x80", "\\ufffd\\ufffd"},
        {"\xff", "\\ufffd"},
        {"\xe2\x82", "\\ufffd"},                      // truncated at the end
        {"\xe2\x82x", "\\ufffdx"},                    // truncated before ASCII
        {"\xf0\x9f\x93", "\\ufffd"},
        {"\xc3" "\"", "\\ufffd\\\""},                 // truncated before a quote
        {"ok\xc3\xa9\xc3", "ok\xc3\xa9\\ufffd"},
    };
    for (const auto& [in, escaped] : cases) {
        CAPTURE(in);
        CHECK(json(in) == "\"" + escaped + "\"");
    }
}

TEST_CASE("json string: any bytes at all give valid JSON and valid UTF-8") {
    std::uint64_t state = 0x9E3779B97F4A7C15ull;
    auto next = [&state] {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<unsigned>(state >> 33);
    };
    for (int round = 0; round < 3000; ++round) {
        std::string bytes(next() % 48, '\0');
        for (char& b : bytes) {
            // Bias towards the interesting bytes: controls, quotes, UTF-8 leads/trails.
            const unsigned pick = next() % 4;
            b = static_cast<char>(pick == 0 ? next() % 0x20 : pick == 1 ? 0x80 + next() % 0x80
                                                                        : next() % 0x100);
        }
        accounting_event e = delivered_event();
        e.reply = bytes;
        e.recipient = bytes;
        std::string out;
        append_accounting_line(out, e);
        CAPTURE(out);
        REQUIRE(is_valid_utf8(out));
        json_object object;
        REQUIRE(parse_line(out, object));
        REQUIRE(object.size() == 16);
        if (is_valid_utf8(bytes)) CHECK(object[11].second.text == bytes);  // round trip
    }
}
