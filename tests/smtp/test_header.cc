// Header fields: the header section ends at the first empty line; a field is found
// by name in any case, with its value trimmed and its folds kept.
#include <doctest/doctest.h>

#include "ringmta/smtp/header.h"

using ringmta::smtp::header_section;
using ringmta::smtp::header_value;

TEST_CASE("the header section ends at the first empty line, CRLF or LF") {
    CHECK(header_section("A: 1\r\nB: 2\r\n\r\nbody\r\n") == "A: 1\r\nB: 2\r\n");
    CHECK(header_section("A: 1\nB: 2\n\nbody\n") == "A: 1\nB: 2\n");
    CHECK(header_section("A: 1\r\n") == "A: 1\r\n");   // no body: all of it
    CHECK(header_section("\r\nbody") == "");
}

TEST_CASE("a field is found by name in any case, its value trimmed") {
    std::string_view m = "Received: from x\r\n\tby y\r\nx-ringmta-PRIORITY:  high \r\n"
                         "Subject: s\r\n\r\nX-Ringmta-Priority: low\r\n";
    auto v = header_value(m, "X-Ringmta-Priority");
    REQUIRE(v.has_value());
    CHECK(*v == "high");
    CHECK(header_value(m, "subject") == "s");
    // Only the header section counts, and a longer name is another field.
    CHECK_FALSE(header_value("Subject: s\r\n\r\nX-Prio: high\r\n", "X-Prio").has_value());
    CHECK_FALSE(header_value("X-Prio-Level: high\r\n\r\n", "X-Prio").has_value());
    CHECK_FALSE(header_value("Subject: s\r\n\r\n", "").has_value());
}

TEST_CASE("the first of repeated fields counts; folds stay; space before the colon") {
    CHECK(header_value("P: high\r\nP: normal\r\n\r\n", "P") == "high");
    CHECK(header_value("P: a\r\n b\r\nQ: c\r\n\r\n", "P") == "a\r\n b");
    CHECK(header_value("P : high\r\n\r\n", "P") == "high");
    CHECK(header_value("P:\r\n\r\n", "P") == "");
    CHECK(header_value("Q: x\r\n P: high\r\n\r\n", "P") == std::nullopt);   // a fold of Q
}
