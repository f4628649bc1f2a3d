// Tests of EHLO reply → capabilities.
#include <doctest/doctest.h>

#include "ringmta/smtp/capabilities.h"

using namespace ringmta::smtp;

TEST_CASE("parse_ehlo reads keywords case-insensitively with SIZE") {
    reply r;
    r.code = 250;
    r.lines = {"mx.google.com at your service", "SIZE 157286400", "8bitmime",
               "STARTTLS", "EnhancedStatusCodes", "PIPELINING", "CHUNKING", "SMTPUTF8",
               "DSN", "BINARYMIME", "AUTH LOGIN PLAIN"};
    const capabilities caps = parse_ehlo(r);
    CHECK(caps.esmtp);
    CHECK(caps.size_max == 157286400u);
    CHECK(caps.eightbitmime);
    CHECK(caps.starttls);
    CHECK(caps.enhanced_status_codes);
    CHECK(caps.pipelining);
    CHECK(caps.chunking);
    CHECK(caps.smtputf8);
    CHECK(caps.dsn);
    CHECK(caps.binarymime);
}

TEST_CASE("parse_ehlo: greeting is not a keyword; missing or bad SIZE; non-2xx") {
    reply r;
    r.code = 250;
    r.lines = {"PIPELINING", "SIZE"};
    capabilities caps = parse_ehlo(r);
    CHECK(caps.esmtp);
    CHECK_FALSE(caps.pipelining);  // the first line is the greeting
    CHECK(caps.size_max == 0);
    r.lines = {"mx", "SIZE 99999999999999999999999", "pipelining"};
    caps = parse_ehlo(r);
    CHECK(caps.size_max == 0);
    CHECK(caps.pipelining);
    CHECK_FALSE(caps.chunking);
    r.lines = {"mx", "SIZE 12x"};
    CHECK(parse_ehlo(r).size_max == 0);
    r.code = 502;
    r.lines = {"5.5.1 EHLO not implemented"};
    caps = parse_ehlo(r);
    CHECK_FALSE(caps.esmtp);
    CHECK_FALSE(caps.pipelining);
}
