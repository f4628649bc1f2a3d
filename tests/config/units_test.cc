// Durations, sizes and rates: what operators may write, what they may not, and the
// formatting describe() uses (which must parse back to the same value).
#include <ringmta/config/units.h>

#include <ringmta/config/config_error.h>

#include "test_support.h"

#include <doctest/doctest.h>

#include <chrono>

using namespace ringmta::config;
using namespace std::chrono_literals;
using ringmta::config::testing::parse_error;

TEST_CASE("parse_duration accepts every unit and combinations") {
    struct row {
        std::string_view text;
        duration_ms expected;
    };
    const row rows[] = {
        {"250ms", 250ms}, {"30s", 30s},       {"5m", 5min},         {"2h", 2h},
        {"5d", 120h},     {"1h30m", 90min},   {"1d2h3m4s5ms", 93784005ms},
        {"0s", 0ms},      {" 10s ", 10s},     {"1h 30m", 90min},    {"90m", 90min},
    };
    for (const row& r : rows) {
        CAPTURE(r.text);
        CHECK(parse_duration(r.text) == r.expected);
    }
}

TEST_CASE("parse_duration rejects text without a valid unit") {
    for (std::string_view text : {"", "30", "5x", "s", "1.5h", "-5s", "5M", "5 min", "1h30",
                                  "10 s", "h1"}) {
        CAPTURE(text);
        CHECK_THROWS_AS(parse_duration(text), config_error);
    }
    CHECK(parse_error([] { parse_duration("5x"); }) ==
          "\"5x\" is not a duration (use an integer with a unit: ms, s, m, h, d; "
          "e.g. \"30s\", \"5m\" or \"1h30m\")");
    CHECK(parse_error([] { parse_duration("99999999999999999d"); }) ==
          "\"99999999999999999d\" is too long a duration");
}

TEST_CASE("parse_size accepts bytes and 1024-based units in any case") {
    struct row {
        std::string_view text;
        std::uint64_t expected;
    };
    const row rows[] = {
        {"100", 100},          {"100B", 100},         {"512KB", 512ull << 10},
        {"512k", 512ull << 10}, {"50MB", 50ull << 20}, {"64MiB", 64ull << 20},
        {"50mb", 50ull << 20}, {"1GB", 1ull << 30},   {"1GiB", 1ull << 30},
        {"2TB", 2ull << 40},   {"50 MB", 50ull << 20}, {"0", 0},
    };
    for (const row& r : rows) {
        CAPTURE(r.text);
        CHECK(parse_size(r.text) == r.expected);
    }
}

TEST_CASE("parse_size rejects unknown units, fractions and overflow") {
    for (std::string_view text : {"", "MB", "50XB", "1.5GB", "-1", "50 M B", "0x10"}) {
        CAPTURE(text);
        CHECK_THROWS_AS(parse_size(text), config_error);
    }
    CHECK(parse_error([] { parse_size("50XB"); }) ==
          "\"50XB\" is not a size (use bytes or a unit: KB, MB, GB)");
    CHECK(parse_error([] { parse_size("99999999999TB"); }) ==
          "\"99999999999TB\" is too large a size");
}

TEST_CASE("format_duration and format_size print what parses back") {
    CHECK(format_duration(0ms) == "0s");
    CHECK(format_duration(250ms) == "250ms");
    CHECK(format_duration(90min) == "1h30m");
    CHECK(format_duration(120h) == "5d");
    CHECK(format_duration(93784005ms) == "1d2h3m4s5ms");
    CHECK(format_size(50ull << 20) == "50MB");
    CHECK(format_size(1536) == "1536B");
    CHECK(format_size(3ull << 10) == "3KB");
    CHECK(format_size(0) == "0B");
    for (duration_ms d : {duration_ms(1), duration_ms(1001), duration_ms(61s), duration_ms(25h),
                          duration_ms(90min)}) {
        CHECK(parse_duration(format_duration(d)) == d);
    }
    for (std::uint64_t size : {1ull, 1024ull, 1025ull, 64ull << 20, 4ull << 30}) {
        CHECK(parse_size(format_size(size)) == size);
    }
}

TEST_CASE("parse_rate reads count/period with a unit or a duration") {
    struct row {
        std::string_view text;
        rate expected;
    };
    const row rows[] = {
        {"100/s", {100, 1s}},      {"6000/m", {6000, 1min}}, {"5000/h", {5000, 1h}},
        {"1000/d", {1000, 24h}},   {"20/10m", {20, 10min}},  {" 7 / 1h30m ", {7, 90min}},
        {"1/250ms", {1, 250ms}},   {"0", {}},                {"0/s", {}},
    };
    for (const row& r : rows) {
        CAPTURE(r.text);
        CHECK(parse_rate(r.text) == r.expected);
    }
    for (std::string_view text : {"", "100", "/s", "100/", "100/x", "100/5", "100s", "1.5/s",
                                  "-1/s", "100/S", "100//s"}) {
        CAPTURE(text);
        CHECK_THROWS_AS(parse_rate(text), config_error);
    }
    CHECK(parse_error([] { parse_rate("100"); }) ==
          "\"100\" is not a rate (use count/period, the period with a unit: s, m, h, d; "
          "e.g. \"100/s\", \"5000/h\" or \"20/10m\"; \"0\" for no limit)");
    CHECK(parse_error([] { parse_rate("5/0s"); }) == "\"5/0s\" has a zero period");
}

TEST_CASE("format_rate prints what parses back") {
    CHECK(format_rate(rate{}) == "0");
    CHECK(format_rate(rate{100, 1s}) == "100/s");
    CHECK(format_rate(rate{5000, 1h}) == "5000/h");
    CHECK(format_rate(rate{20, 10min}) == "20/10m");
    CHECK(format_rate(rate{7, 90min}) == "7/1h30m");
    CHECK(format_rate(rate{1, 1ms}) == "1/ms");
    for (rate r : {rate{1, 1s}, rate{3, 61s}, rate{100, 24h}, rate{9, 250ms}}) {
        CHECK(parse_rate(format_rate(r)) == r);
    }
}
