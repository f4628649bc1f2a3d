// EHLO reply → capabilities (RFC 1869 4.3): see ringmta/smtp/capabilities.h.
#include "ringmta/smtp/capabilities.h"

#include <limits>

#include "text.h"

namespace ringmta::smtp {

namespace {

// "SIZE 1234": 0 when missing, malformed or too large for 64 bits (no usable limit).
std::uint64_t parse_size(std::string_view value) {
    value = detail::trim_spaces(value);
    if (value.empty()) return 0;
    std::uint64_t size = 0;
    for (char c : value) {
        if (!detail::is_digit(c)) return 0;
        const auto digit = std::uint64_t(c - '0');
        if (size > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return 0;
        size = size * 10 + digit;
    }
    return size;
}

void apply_keyword(capabilities& caps, std::string_view line) {
    line = detail::trim_spaces(line);
    // Keywords end at a space; '=' also ends one for legacy forms like "AUTH=LOGIN".
    const std::size_t end = line.find_first_of(" =");
    const std::string_view keyword = line.substr(0, end);
    const std::string_view value =
        end == std::string_view::npos ? std::string_view{} : line.substr(end + 1);
    using detail::iequals;
    if (iequals(keyword, "PIPELINING")) {
        caps.pipelining = true;
    } else if (iequals(keyword, "8BITMIME")) {
        caps.eightbitmime = true;
    } else if (iequals(keyword, "CHUNKING")) {
        caps.chunking = true;
    } else if (iequals(keyword, "BINARYMIME")) {
        caps.binarymime = true;
    } else if (iequals(keyword, "STARTTLS")) {
        caps.starttls = true;
    } else if (iequals(keyword, "SMTPUTF8")) {
        caps.smtputf8 = true;
    } else if (iequals(keyword, "DSN")) {
        caps.dsn = true;
    } else if (iequals(keyword, "ENHANCEDSTATUSCODES")) {
        caps.enhanced_status_codes = true;
    } else if (iequals(keyword, "SIZE")) {
        caps.size_max = parse_size(value);
    }
}

}  // namespace

capabilities parse_ehlo(const reply& r) {
    capabilities caps;
    if (r.code / 100 != 2) return caps;
    caps.esmtp = true;
    for (std::size_t i = 1; i < r.lines.size(); ++i) apply_keyword(caps, r.lines[i]);
    return caps;
}

}  // namespace ringmta::smtp
