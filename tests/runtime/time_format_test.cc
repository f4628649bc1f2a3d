// UTC time stamps against values computed independently (Python's email.utils and
// datetime), including a leap day and the end of a century.
#include <doctest/doctest.h>

#include <string>

#include "ringmta/runtime/time_format.h"

using namespace ringmta::runtime;

namespace {

std::string rfc5322(std::uint64_t unix_ms) {
    std::string s;
    append_rfc5322_date(s, unix_ms);
    return s;
}

std::string iso8601(std::uint64_t unix_ms) {
    std::string s;
    append_iso8601_utc(s, unix_ms);
    return s;
}

}  // namespace

TEST_CASE("RFC 5322 dates: weekday, day without padding, UTC offset") {
    CHECK(rfc5322(0) == "Thu, 1 Jan 1970 00:00:00 +0000");
    CHECK(rfc5322(951782400000) == "Tue, 29 Feb 2000 00:00:00 +0000");
    CHECK(rfc5322(1795415520123) == "Mon, 23 Nov 2026 06:32:00 +0000");
    CHECK(rfc5322(4102444799999) == "Thu, 31 Dec 2099 23:59:59 +0000");
}

TEST_CASE("RFC 3339 time stamps with milliseconds") {
    CHECK(iso8601(0) == "1970-01-01T00:00:00.000Z");
    CHECK(iso8601(951782400000) == "2000-02-29T00:00:00.000Z");
    CHECK(iso8601(1795415520123) == "2026-11-23T06:32:00.123Z");
    CHECK(iso8601(4102444799999) == "2099-12-31T23:59:59.999Z");
}
