// UTC time stamps (see time_format.h).
#include "ringmta/runtime/time_format.h"

#include <charconv>

namespace ringmta::runtime {

void append_uint(std::string& out, std::uint64_t value) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    (void)ec;  // 24 chars hold any 64-bit value
    out.append(digits, end);
}

namespace {

constexpr std::uint64_t ms_per_second = 1000;
constexpr std::uint64_t seconds_per_day = 86400;

// Appends `value` zero-padded to `width` digits (value < 10^width).
void append_padded(std::string& out, unsigned value, unsigned width) {
    char digits[8];
    for (unsigned i = width; i > 0; --i) {
        digits[i - 1] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
    out.append(digits, width);
}

struct civil_date {
    std::int64_t year;
    unsigned month;  // 1..12
    unsigned day;    // 1..31
};

// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant, "chrono-compatible
// low-level date algorithms"). Used instead of gmtime_r, which locks glibc's tz state.
civil_date civil_from_days(std::int64_t days) {
    days += 719468;  // shift the epoch to 0000-03-01
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const auto day_of_era = static_cast<unsigned>(days - era * 146097);
    const unsigned year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 -
                                               year_of_era / 100);
    const unsigned month_from_march = (5 * day_of_year + 2) / 153;
    const unsigned day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    const unsigned month = month_from_march < 10 ? month_from_march + 3 : month_from_march - 9;
    const std::int64_t year = static_cast<std::int64_t>(year_of_era) + era * 400;
    return {year + (month <= 2 ? 1 : 0), month, day};
}

void append_year(std::string& out, std::int64_t year) {
    if (year >= 0 && year <= 9999) {
        append_padded(out, static_cast<unsigned>(year), 4);
        return;
    }
    append_uint(out, static_cast<std::uint64_t>(year));  // only past 9999: never negative
}

// "HH:MM:SS" of a second within the day.
void append_clock(std::string& out, unsigned second_of_day) {
    append_padded(out, second_of_day / 3600, 2);
    out.push_back(':');
    append_padded(out, second_of_day / 60 % 60, 2);
    out.push_back(':');
    append_padded(out, second_of_day % 60, 2);
}

}  // namespace

void append_iso8601_utc(std::string& out, std::uint64_t time_unix_ms) {
    const std::uint64_t seconds = time_unix_ms / ms_per_second;
    const auto days = static_cast<std::int64_t>(seconds / seconds_per_day);
    const auto second_of_day = static_cast<unsigned>(seconds % seconds_per_day);
    const civil_date date = civil_from_days(days);
    append_year(out, date.year);
    out.push_back('-');
    append_padded(out, date.month, 2);
    out.push_back('-');
    append_padded(out, date.day, 2);
    out.push_back('T');
    append_clock(out, second_of_day);
    out.push_back('.');
    append_padded(out, static_cast<unsigned>(time_unix_ms % ms_per_second), 3);
    out.push_back('Z');
}

void append_rfc5322_date(std::string& out, std::uint64_t unix_ms) {
    static constexpr const char* weekdays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue",
                                               "Wed"};  // 1970-01-01 was a Thursday
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::uint64_t seconds = unix_ms / ms_per_second;
    const std::uint64_t days = seconds / seconds_per_day;
    const auto second_of_day = static_cast<unsigned>(seconds % seconds_per_day);
    const civil_date date = civil_from_days(static_cast<std::int64_t>(days));
    out.append(weekdays[days % 7]);
    out.append(", ");
    append_uint(out, date.day);
    out.push_back(' ');
    out.append(months[date.month - 1]);
    out.push_back(' ');
    append_year(out, date.year);
    out.push_back(' ');
    append_clock(out, second_of_day);
    out.append(" +0000");
}

}  // namespace ringmta::runtime
