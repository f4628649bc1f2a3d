// Durations ("1h30m"), sizes ("50MB") and rates ("100/s") as operators write them.
// See units.h.
#include <ringmta/config/units.h>

#include <ringmta/config/config_error.h>

#include "text.h"

#include <array>
#include <cstdint>
#include <limits>

namespace ringmta::config {

namespace {

struct unit {
    std::string_view name;
    std::uint64_t factor;
};

// Longest names first where one is a prefix of another ("ms" before "m").
constexpr std::array duration_units{
    unit{"ms", 1},
    unit{"s", 1000},
    unit{"m", 60 * 1000},
    unit{"h", 60 * 60 * 1000},
    unit{"d", 24 * 60 * 60 * 1000},
};

constexpr std::array size_units{
    unit{"", 1},         unit{"b", 1},
    unit{"k", 1ull << 10}, unit{"kb", 1ull << 10}, unit{"kib", 1ull << 10},
    unit{"m", 1ull << 20}, unit{"mb", 1ull << 20}, unit{"mib", 1ull << 20},
    unit{"g", 1ull << 30}, unit{"gb", 1ull << 30}, unit{"gib", 1ull << 30},
    unit{"t", 1ull << 40}, unit{"tb", 1ull << 40}, unit{"tib", 1ull << 40},
};

// Digits are limited so that the count itself cannot overflow before scaling.
constexpr std::size_t digits_max = 18;
// Durations are held in a signed 64-bit count of milliseconds.
constexpr std::uint64_t duration_ms_max = std::numeric_limits<std::int64_t>::max();

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// Reads a run of digits from the front of text; false when there is none or too many.
bool take_count(std::string_view& text, std::uint64_t& count) {
    std::size_t length = 0;
    count = 0;
    while (length < text.size() && is_digit(text[length])) {
        if (length == digits_max) return false;
        count = count * 10 + static_cast<std::uint64_t>(text[length] - '0');
        ++length;
    }
    text.remove_prefix(length);
    return length > 0;
}

[[noreturn]] void throw_not_duration(std::string_view text) {
    throw config_error(detail::quote(text) +
                       " is not a duration (use an integer with a unit: ms, s, m, h, d;"
                       " e.g. \"30s\", \"5m\" or \"1h30m\")");
}

[[noreturn]] void throw_not_rate(std::string_view text) {
    throw config_error(detail::quote(text) +
                       " is not a rate (use count/period, the period with a unit: s, m, h, d;"
                       " e.g. \"100/s\", \"5000/h\" or \"20/10m\"; \"0\" for no limit)");
}

std::string format_count(std::uint64_t count, std::string_view unit_name) {
    return std::to_string(count) + std::string(unit_name);
}

}  // namespace

duration_ms parse_duration(std::string_view text) {
    std::string_view rest = trim(text);
    if (rest.empty()) throw_not_duration(text);
    std::uint64_t total_ms = 0;
    while (!rest.empty()) {
        std::uint64_t count = 0;
        if (!take_count(rest, count)) throw_not_duration(text);
        const unit* found = nullptr;
        for (const unit& candidate : duration_units) {
            if (rest.substr(0, candidate.name.size()) == candidate.name) {
                found = &candidate;
                break;
            }
        }
        if (found == nullptr) throw_not_duration(text);
        rest.remove_prefix(found->name.size());
        std::uint64_t part_ms = 0;
        if (__builtin_mul_overflow(count, found->factor, &part_ms) ||
            __builtin_add_overflow(total_ms, part_ms, &total_ms) || total_ms > duration_ms_max) {
            throw config_error(detail::quote(text) + " is too long a duration");
        }
        rest = trim(rest);
    }
    return duration_ms(static_cast<std::int64_t>(total_ms));
}

std::uint64_t parse_size(std::string_view text) {
    std::string_view rest = trim(text);
    std::uint64_t count = 0;
    if (!take_count(rest, count)) {
        throw config_error(detail::quote(text) +
                           " is not a size (use bytes or a unit: KB, MB, GB)");
    }
    std::string unit_name = detail::lowercase(trim(rest));
    for (const unit& candidate : size_units) {
        if (candidate.name != unit_name) continue;
        std::uint64_t size_bytes = 0;
        if (__builtin_mul_overflow(count, candidate.factor, &size_bytes)) {
            throw config_error(detail::quote(text) + " is too large a size");
        }
        return size_bytes;
    }
    throw config_error(detail::quote(text) + " is not a size (use bytes or a unit: KB, MB, GB)");
}

rate parse_rate(std::string_view text) {
    std::string_view rest = trim(text);
    std::uint64_t count = 0;
    if (!take_count(rest, count)) throw_not_rate(text);
    rest = trim(rest);
    if (rest.empty() && count == 0) return rate{};
    if (rest.empty() || rest.front() != '/') throw_not_rate(text);
    rest = trim(rest.substr(1));
    // A bare unit is one of it: "100/m" is "100/1m".
    std::string period_text(rest);
    if (rest.empty() || !is_digit(rest.front())) period_text.insert(0, "1");
    duration_ms period{0};
    try {
        period = parse_duration(period_text);
    } catch (const config_error&) {
        throw_not_rate(text);
    }
    if (period.count() == 0) throw config_error(detail::quote(text) + " has a zero period");
    if (count == 0) return rate{};
    return rate{count, period};
}

std::string format_rate(rate r) {
    if (r.unlimited()) return "0";
    std::string period = format_duration(r.period);
    if (period.size() > 1 && period[0] == '1' && !is_digit(period[1]) &&
        period.find_first_of("0123456789", 1) == std::string::npos) {
        period.erase(0, 1);  // "1m" -> "m"
    }
    return std::to_string(r.count) + "/" + period;
}

std::string format_duration(duration_ms duration) {
    auto remaining_ms = static_cast<std::uint64_t>(duration.count() < 0 ? 0 : duration.count());
    if (remaining_ms == 0) return "0s";
    std::string out;
    // Whole days, hours, minutes and seconds, then milliseconds if any remain.
    for (std::size_t i = duration_units.size(); i-- > 0;) {
        const unit& part = duration_units[i];
        if (remaining_ms >= part.factor) {
            out += format_count(remaining_ms / part.factor, part.name);
            remaining_ms %= part.factor;
        }
    }
    return out;
}

std::string format_size(std::uint64_t size_bytes) {
    constexpr std::array<unit, 4> units{
        unit{"TB", 1ull << 40}, unit{"GB", 1ull << 30}, unit{"MB", 1ull << 20},
        unit{"KB", 1ull << 10}};
    for (const unit& candidate : units) {
        if (size_bytes != 0 && size_bytes % candidate.factor == 0) {
            return format_count(size_bytes / candidate.factor, candidate.name);
        }
    }
    return format_count(size_bytes, "B");
}

}  // namespace ringmta::config
