// Mailbox syntax (RFC 5321 4.1.2, 4.1.3, 4.5.3.1; RFC 6531 for UTF-8): valid_mailbox()
// and domain_of() from ringmta/smtp/command.h, and the private checks in mailbox.h.
#include "mailbox.h"

#include <cstdint>

#include "ringmta/smtp/command.h"
#include "text.h"

namespace ringmta::smtp {

namespace detail {

namespace {

constexpr std::size_t local_part_bytes_max = 64;  // RFC 5321 4.5.3.1.1
constexpr std::size_t domain_bytes_max = 255;     // RFC 5321 4.5.3.1.2
constexpr std::size_t label_bytes_max = 63;       // RFC 1035 2.3.4
constexpr std::size_t path_bytes_max = 256;       // RFC 5321 4.5.3.1.3, with <>

bool is_utf8_octet(char c) { return static_cast<unsigned char>(c) >= 0x80; }

bool is_let_dig(char c) { return is_alpha(c) || is_digit(c) || is_utf8_octet(c); }

bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 5322 atext, plus UTF-8 octets (RFC 6531).
bool is_atext(char c) {
    if (is_let_dig(c)) return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '/': case '=': case '?': case '^': case '_': case '`': case '{':
    case '|': case '}': case '~':
        return true;
    default:
        return false;
    }
}

bool valid_dot_string(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    char previous = 0;
    for (char c : s) {
        if (c == '.') {
            if (previous == '.') return false;
        } else if (!is_atext(c)) {
            return false;
        }
        previous = c;
    }
    return true;
}

// Quoted-string = DQUOTE *QcontentSMTP DQUOTE, with UTF-8 octets allowed.
bool valid_quoted_string(std::string_view s) {
    if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
    s = s.substr(1, s.size() - 2);
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '\\') {
            if (++i >= s.size()) return false;
            const auto escaped = static_cast<unsigned char>(s[i]);
            if (escaped < 32 || escaped > 126) return false;
        } else if (c == '"' || c < 32 || c == 127) {
            return false;
        }
    }
    return true;
}

bool valid_local_part(std::string_view local) {
    if (local.empty() || local.size() > local_part_bytes_max) return false;
    return local.front() == '"' ? valid_quoted_string(local) : valid_dot_string(local);
}

bool valid_ipv4(std::string_view s) {
    int parts = 0;
    while (true) {
        std::size_t digits = 0;
        int value = 0;
        while (digits < s.size() && is_digit(s[digits]) && digits < 4) {
            value = value * 10 + (s[digits] - '0');
            ++digits;
        }
        if (digits == 0 || digits > 3 || value > 255) return false;
        s.remove_prefix(digits);
        if (++parts == 4) return s.empty();
        if (s.empty() || s.front() != '.') return false;
        s.remove_prefix(1);
    }
}

// IPv6-full, IPv6-comp, IPv6v4-full, IPv6v4-comp (RFC 5321 4.1.3).
bool valid_ipv6(std::string_view s) {
    const std::size_t gap = s.find("::");
    const bool compressed = gap != std::string_view::npos;
    if (compressed && s.find("::", gap + 1) != std::string_view::npos) return false;
    int groups = 0;
    std::size_t i = 0;
    while (i < s.size()) {
        if (compressed && i == gap) {
            i += 2;
            continue;
        }
        std::size_t end = s.find(':', i);
        if (end == std::string_view::npos) end = s.size();
        const std::string_view group = s.substr(i, end - i);
        if (end == s.size() && group.find('.') != std::string_view::npos) {
            if (!valid_ipv4(group)) return false;
            groups += 2;
        } else {
            if (group.empty() || group.size() > 4) return false;
            for (char c : group) {
                if (!is_hex(c)) return false;
            }
            ++groups;
        }
        if (end == s.size()) break;
        // A single ':' separates groups; it may not end the address.
        i = (compressed && end == gap) ? end : end + 1;
        if (i == s.size()) return false;
    }
    return compressed ? groups <= 6 : groups == 8;
}

}  // namespace

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t length = 0;
        std::uint32_t code_point = 0;
        if (c >= 0xc2 && c <= 0xdf) {
            length = 2;
            code_point = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            length = 3;
            code_point = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            length = 4;
            code_point = c & 0x07;
        } else {
            return false;
        }
        if (i + length > s.size()) return false;
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(s[i + k]);
            if ((next & 0xc0) != 0x80) return false;
            code_point = (code_point << 6) | (next & 0x3f);
        }
        const bool overlong = (length == 3 && code_point < 0x800) ||
                              (length == 4 && code_point < 0x10000);
        if (overlong || code_point > 0x10ffff ||
            (code_point >= 0xd800 && code_point <= 0xdfff)) {
            return false;
        }
        i += length;
    }
    return true;
}

bool valid_domain(std::string_view domain) {
    if (domain.empty() || domain.size() > domain_bytes_max) return false;
    while (true) {
        const std::size_t dot = domain.find('.');
        const std::string_view label = domain.substr(0, dot);
        if (label.empty() || label.size() > label_bytes_max) return false;
        if (!is_let_dig(label.front()) || !is_let_dig(label.back())) return false;
        for (char c : label) {
            if (!is_let_dig(c) && c != '-') return false;
        }
        if (dot == std::string_view::npos) return true;
        domain.remove_prefix(dot + 1);
    }
}

bool valid_address_literal(std::string_view literal) {
    if (literal.size() < 3 || literal.front() != '[' || literal.back() != ']') return false;
    const std::string_view content = literal.substr(1, literal.size() - 2);
    if (istarts_with(content, "IPv6:")) return valid_ipv6(content.substr(5));
    if (is_digit(content.front())) return valid_ipv4(content);
    // General-address-literal = Standardized-tag ":" 1*dcontent
    const std::size_t colon = content.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == content.size()) {
        return false;
    }
    const std::string_view tag = content.substr(0, colon);
    if (!is_alpha(tag.front()) && !is_digit(tag.front())) return false;
    if (tag.back() == '-') return false;
    for (char c : tag) {
        if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
    }
    for (char c : content.substr(colon + 1)) {
        const auto octet = static_cast<unsigned char>(c);
        if (octet < 33 || octet > 126 || c == '[' || c == '\\' || c == ']') return false;
    }
    return true;
}

}  // namespace detail

bool valid_mailbox(std::string_view mailbox) {
    if (mailbox.empty() || mailbox.size() + 2 > detail::path_bytes_max) return false;
    const std::size_t at = mailbox.rfind('@');
    if (at == std::string_view::npos) return false;
    if (!detail::valid_utf8(mailbox)) return false;
    const std::string_view domain = mailbox.substr(at + 1);
    if (!detail::valid_local_part(mailbox.substr(0, at))) return false;
    if (!domain.empty() && domain.front() == '[') return detail::valid_address_literal(domain);
    return detail::valid_domain(domain);
}

std::string_view domain_of(std::string_view mailbox) {
    const std::size_t at = mailbox.rfind('@');
    return at == std::string_view::npos ? std::string_view{} : mailbox.substr(at + 1);
}

}  // namespace ringmta::smtp
