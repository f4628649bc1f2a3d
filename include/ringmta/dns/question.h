// question: what one DNS query asks (a normalized host name and a record type),
// and the name normalization every lookup goes through. Pure code, any shard.
//
// Names are kept in one canonical text form everywhere in this module: ASCII
// lower case, no trailing dot ("example.com"); the root is ".". Comparing two
// normalized names with == is the case-insensitive comparison RFC 4343 asks for.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringmta::dns {

enum class record_type : std::uint16_t {
    a = 1,
    ns = 2,
    cname = 5,
    soa = 6,
    mx = 15,
    txt = 16,
    aaaa = 28,
};

// "A", "MX", ...; "TYPE<n>" for the others is not needed here, so "other".
const char* record_type_name(record_type type);

struct question {
    std::string name;                     // normalized
    record_type type = record_type::a;    // class is always IN
    bool operator==(const question&) const = default;
};

constexpr std::size_t name_bytes_max = 253;   // presentation form, no trailing dot
constexpr std::size_t label_bytes_max = 63;

// Lower-cases `name` and drops one trailing dot. Empty when it cannot be a host
// name to query: empty, longer than 253, an empty or over-63-byte label, or a
// character other than a letter, digit, '-' or '_' (mail domains reach us as
// A-labels; IDN conversion is the caller's).
std::optional<std::string> normalize_name(std::string_view name);

}  // namespace ringmta::dns
