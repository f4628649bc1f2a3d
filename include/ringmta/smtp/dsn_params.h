// RFC 3461 DSN parameters in the compact form the journal and the queue keep:
// NOTIFY as a byte of bits, RET as a small enum. ENVID and ORCPT stay as the
// xtext the client sent, so they pass on to the next hop byte for byte. Pure code.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringmta::smtp {

// NOTIFY (RFC 3461 §4.1); 0 means the client gave no NOTIFY (the default applies:
// failures and, at the MTA's choice, delays are reported).
inline constexpr std::uint8_t notify_success = 1;
inline constexpr std::uint8_t notify_failure = 2;
inline constexpr std::uint8_t notify_delay = 4;
inline constexpr std::uint8_t notify_never = 8;

// RET (RFC 3461 §4.3).
inline constexpr std::uint8_t ret_unspecified = 0;
inline constexpr std::uint8_t ret_full = 1;
inline constexpr std::uint8_t ret_hdrs = 2;

// From the canonical forms the parser keeps ("NEVER", "SUCCESS,DELAY": upper case).
inline std::uint8_t notify_bits(std::string_view canonical) {
    if (canonical == "NEVER") return notify_never;
    std::uint8_t bits = 0;
    if (canonical.find("SUCCESS") != std::string_view::npos) bits |= notify_success;
    if (canonical.find("FAILURE") != std::string_view::npos) bits |= notify_failure;
    if (canonical.find("DELAY") != std::string_view::npos) bits |= notify_delay;
    return bits;
}

inline std::string notify_text(std::uint8_t bits) {
    if (bits & notify_never) return "NEVER";
    std::string out;
    for (auto [bit, name] : {std::pair<std::uint8_t, std::string_view>{notify_success, "SUCCESS"},
                             {notify_failure, "FAILURE"}, {notify_delay, "DELAY"}}) {
        if (!(bits & bit)) continue;
        if (!out.empty()) out += ',';
        out += name;
    }
    return out;
}

inline std::uint8_t ret_value(std::string_view canonical) {
    return canonical == "FULL" ? ret_full : canonical == "HDRS" ? ret_hdrs : ret_unspecified;
}

// Whether a failure is to be reported: no NOTIFY (the default) or one with FAILURE.
inline bool wants_failure_report(std::uint8_t bits) {
    return bits == 0 || (bits & notify_failure) != 0;
}

}  // namespace ringmta::smtp
