// The admin endpoint's request head parser (a private header of src/observe):
// framing, limits, keep-alive, and percent-decoding of paths and queries.
#include "http_request.h"

#include <doctest/doctest.h>

#include <string>

using namespace ringmta::observe::detail;

namespace {

parse_result parse(std::string_view text, http_request& out, http_limits limits = {}) {
    return parse_request_head(text, limits, out);
}

}  // namespace

TEST_CASE("a complete head: method, path, query, keep-alive, head length") {
    http_request r;
    std::string text = "POST /domains/a.example/suspend?for=1h HTTP/1.1\r\nHost: x\r\n"
                       "Content-Length: 3\r\n\r\nabcGET";
    parse_result p = parse(text, r);
    REQUIRE(p.state == parse_state::complete);
    CHECK(r.method == "POST");
    CHECK(r.path == "/domains/a.example/suspend");
    CHECK(r.query == "for=1h");
    CHECK(r.keep_alive);
    CHECK(r.content_length == 3);
    CHECK(text.substr(p.head_bytes, 3) == "abc");
    http_request old;
    REQUIRE(parse("GET /queue HTTP/1.0\n\n", old).state == parse_state::complete);   // bare LF
    CHECK_FALSE(old.keep_alive);
    http_request closing;
    parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n", closing);
    CHECK_FALSE(closing.keep_alive);
}

TEST_CASE("incomplete until the blank line; limits give 431 and 413") {
    http_request r;
    CHECK(parse("GET /queue HTTP/1.1\r\nHost: x\r\n", r).state == parse_state::incomplete);
    http_limits small{64, 2, 10};
    parse_result big = parse(std::string(65, 'a'), r, small);
    CHECK(big.state == parse_state::error);
    CHECK(big.status == 431);
    CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n", r, small).status == 431);
    CHECK(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", r, small).status ==
          413);
}

TEST_CASE("framing mistakes are refused") {
    http_request r;
    CHECK(parse("GET /\r\n\r\n", r).status == 400);
    CHECK(parse("GET / HTTP/1.1\r\n\r\n", r).status == 400);               // no Host
    CHECK(parse("GET / HTTP/3\r\nHost: x\r\n\r\n", r).status == 505);
    CHECK(parse("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", r).status == 400);
    CHECK(parse("GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", r).status == 400);
    CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", r).status == 400);
    CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", r).status == 400);
    CHECK(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", r).status == 400);
    CHECK(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                r).status == 400);
    CHECK(parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", r).status ==
          501);
}

TEST_CASE("percent-decoding and query values") {
    std::string out;
    CHECK(percent_decode("group%3Agoogle", false, out));
    CHECK(out == "group:google");
    CHECK(percent_decode("a+b", false, out));
    CHECK(out == "a+b");
    CHECK(percent_decode("a+b", true, out));
    CHECK(out == "a b");
    CHECK_FALSE(percent_decode("%4", false, out));
    CHECK_FALSE(percent_decode("%zz", false, out));
    CHECK_FALSE(percent_decode("%00", false, out));   // no NUL smuggled into a name
    bool present = false;
    CHECK(query_value("domain=a.example&sender=x%40y", "sender", out, present));
    CHECK(present);
    CHECK(out == "x@y");
    CHECK(query_value("domain=a.example", "for", out, present));
    CHECK_FALSE(present);
    CHECK(query_value("for", "for", out, present));
    CHECK(present);
    CHECK(out.empty());
}
