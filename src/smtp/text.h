// Small ASCII helpers shared by the smtp module's parsers (private to src/smtp).
// SMTP keywords are ASCII and case-insensitive; locale-dependent <cctype> is avoided.
#pragma once

#include <cstddef>
#include <string_view>

namespace ringmta::smtp::detail {

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + ('a' - 'A')) : c; }

inline char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? char(c - ('a' - 'A')) : c; }

inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

inline bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

inline std::string_view trim_spaces(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Length of a leading RFC 3463 code "c.s.d" (class 2, 4 or 5; subject and detail of
// 1 to 3 digits) that is followed by a space or the end of `s`; 0 if there is none.
inline std::size_t enhanced_code_length(std::string_view s) {
    if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return 0;
    std::size_t i = 2;
    for (int part = 0; part < 2; ++part) {
        std::size_t digits = 0;
        while (i < s.size() && is_digit(s[i]) && digits < 4) {
            ++i;
            ++digits;
        }
        if (digits == 0 || digits > 3) return 0;
        if (part == 0) {
            if (i >= s.size() || s[i] != '.') return 0;
            ++i;
        }
    }
    if (i < s.size() && s[i] != ' ') return 0;
    return i;
}

}  // namespace ringmta::smtp::detail
