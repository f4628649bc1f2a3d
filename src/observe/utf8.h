// Private: UTF-8 well-formedness, shared by the accounting line (JSON) and the
// Prometheus exposition (label values), which both replace ill-formed bytes.
#pragma once

#include <cstddef>
#include <string_view>

namespace ringmta::observe::detail {

// A well-formed UTF-8 sequence starting at s[at] (valid, its length), or the length of
// the maximal ill-formed subpart there (not valid, at least 1). Table 3-7 of Unicode.
struct utf8_scan {
    bool valid;
    std::size_t length;
};

inline utf8_scan scan_utf8(std::string_view s, std::size_t at) {
    const auto lead = static_cast<unsigned char>(s[at]);
    std::size_t trail_count = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        trail_count = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        trail_count = 2;
        if (lead == 0xE0) low = 0xA0;   // no overlongs
        if (lead == 0xED) high = 0x9F;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        trail_count = 3;
        if (lead == 0xF0) low = 0x90;   // no overlongs
        if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
    } else {
        return {false, 1};  // a stray trail byte, C0, C1 or F5..FF
    }
    for (std::size_t k = 1; k <= trail_count; ++k) {
        if (at + k >= s.size()) return {false, k};
        const auto trail = static_cast<unsigned char>(s[at + k]);
        if (trail < low || trail > high) return {false, k};
        low = 0x80;
        high = 0xBF;
    }
    return {true, trail_count + 1};
}

}  // namespace ringmta::observe::detail
