// Tests of reply formatting and the incremental client-side reply parser.
#include <doctest/doctest.h>

#include <string>

#include "ringmta/smtp/reply.h"

using namespace ringmta::smtp;

namespace {

// Parses `wire` fed one byte more at a time, as a client reading a slow socket would.
reply parse_byte_by_byte(std::string_view wire, std::size_t& consumed) {
    reply_parser parser;
    for (std::size_t n = 1; n <= wire.size(); ++n) {
        const auto r = parser.parse(wire.substr(0, n));
        if (r.status == reply_parser::status::ready) {
            consumed = r.consumed;
            return parser.take();
        }
        REQUIRE(r.status == reply_parser::status::need_more);
        REQUIRE(r.consumed == 0);
    }
    FAIL("reply never completed");
    return {};
}

reply_parser::status status_of(std::string_view wire, std::size_t line_max = 2048,
                               std::size_t lines_max = 128) {
    reply_parser parser(line_max, lines_max);
    return parser.parse(wire).status;
}

}  // namespace

TEST_CASE("format_reply writes single and multi-line replies with enhanced codes") {
    std::string out;
    format_reply(out, {250, "2.1.0", "Ok"});
    CHECK(out == "250 2.1.0 Ok\r\n");
    out.clear();
    format_reply(out, {250, "2.0.0", "a\nb\nc"});
    CHECK(out == "250-2.0.0 a\r\n250-2.0.0 b\r\n250 2.0.0 c\r\n");
    out.clear();
    format_reply(out, {354, "", "End data with <CR><LF>.<CR><LF>"});
    CHECK(out == "354 End data with <CR><LF>.<CR><LF>\r\n");
}

TEST_CASE("format_reply never emits bare CR or LF and handles empty text") {
    std::string out;
    format_reply(out, {550, "5.7.1", "line one\r\nline two\n"});
    CHECK(out == "550-5.7.1 line one\r\n550 5.7.1 line two\r\n");
    out.clear();
    format_reply(out, {250, "", ""});
    CHECK(out == "250\r\n");
    out.clear();
    format_reply(out, {250, "2.0.0", ""});
    CHECK(out == "250 2.0.0\r\n");
    out.clear();
    format_reply(out, {451, "4.3.0", "odd\rtext"});
    CHECK(out == "451 4.3.0 odd text\r\n");
}

TEST_CASE("reply_parser parses a multi-line EHLO reply and leaves the next reply") {
    const std::string wire =
        "250-mx.example.com Hello\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n"
        "250 ENHANCEDSTATUSCODES\r\n221 2.0.0 Bye\r\n";
    reply_parser parser;
    auto r = parser.parse(wire);
    REQUIRE(r.status == reply_parser::status::ready);
    CHECK(r.consumed == wire.size() - std::string("221 2.0.0 Bye\r\n").size());
    reply ehlo = parser.take();
    CHECK(ehlo.code == 250);
    CHECK(ehlo.enhanced.empty());
    REQUIRE(ehlo.lines.size() == 4);
    CHECK(ehlo.lines[0] == "mx.example.com Hello");
    CHECK(ehlo.lines[3] == "ENHANCEDSTATUSCODES");
    r = parser.parse(std::string_view(wire).substr(r.consumed));
    REQUIRE(r.status == reply_parser::status::ready);
    reply bye = parser.take();
    CHECK(bye.code == 221);
    CHECK(bye.enhanced == "2.0.0");
    CHECK(bye.text() == "Bye");
}

TEST_CASE("reply_parser gives the same reply when fed byte by byte, CRLF or bare LF") {
    const std::string wire = "550-5.1.1 The email account does not exist.\r\n"
                             "550-5.1.1 Please try\n550 5.1.1 again later\r\n";
    reply_parser parser;
    REQUIRE(parser.parse(wire).status == reply_parser::status::ready);
    const reply whole = parser.take();
    std::size_t consumed = 0;
    const reply split = parse_byte_by_byte(wire, consumed);
    CHECK(consumed == wire.size());
    CHECK(split.code == whole.code);
    CHECK(split.enhanced == "5.1.1");
    CHECK(split.lines == whole.lines);
    CHECK(split.text() == "The email account does not exist.; Please try; again later");
}

TEST_CASE("reply_parser recognizes enhanced codes only as RFC 2034 allows") {
    auto parse_one = [](std::string_view wire) {
        reply_parser parser;
        REQUIRE(parser.parse(wire).status == reply_parser::status::ready);
        return parser.take();
    };
    reply r = parse_one("250 5.1.1 looks enhanced but class differs\r\n");
    CHECK(r.enhanced.empty());
    CHECK(r.lines[0] == "5.1.1 looks enhanced but class differs");
    r = parse_one("250 2.0 short\r\n");
    CHECK(r.enhanced.empty());
    r = parse_one("250 2.0.0x\r\n");
    CHECK(r.enhanced.empty());
    r = parse_one("550 5.7.1\r\n");
    CHECK(r.enhanced == "5.7.1");
    CHECK(r.lines[0].empty());
    r = parse_one("452 4.5.3 Too many recipients\r\n");
    CHECK(r.enhanced == "4.5.3");
    CHECK(r.lines[0] == "Too many recipients");
    r = parse_one("250\r\n");
    CHECK(r.code == 250);
    CHECK(r.lines.size() == 1);
}

TEST_CASE("reply_parser rejects malformed, mismatched, overlong and endless replies") {
    using status = reply_parser::status;
    CHECK(status_of("abc\r\n") == status::error);
    CHECK(status_of("25\r\n") == status::error);
    CHECK(status_of("\r\n") == status::error);
    CHECK(status_of("650 no such class\r\n") == status::error);
    CHECK(status_of("250x text\r\n") == status::error);
    CHECK(status_of("250-first\r\n251 second\r\n") == status::error);
    CHECK(status_of(std::string(100, 'x') + "\r\n", 64) == status::error);
    // Over the limit without any line end yet: no need to wait for one.
    CHECK(status_of("250 " + std::string(100, 'x'), 64) == status::error);
    CHECK(status_of("250-a\r\n250-b\r\n250-c\r\n", 2048, 2) == status::error);
    CHECK(status_of("250-a\r\n250 b\r\n", 2048, 2) == status::ready);
    CHECK(status_of("250-a\r\n250-b") == status::need_more);

    // After an error the parser starts afresh.
    reply_parser parser;
    CHECK(parser.parse("xyz\r\n").status == status::error);
    const auto r = parser.parse("220 mx ESMTP\r\n");
    CHECK(r.status == status::ready);
    CHECK(parser.take().code == 220);
    // reset() drops a partial reply, e.g. when the connection went away mid-reply.
    CHECK(parser.parse("250-half a rep").status == status::need_more);
    parser.reset();
    CHECK(parser.parse("421 4.4.2 bye\r\n").status == status::ready);
    CHECK(parser.take().lines == std::vector<std::string>{"bye"});
}
