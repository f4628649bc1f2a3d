// Mailbox and domain syntax checks shared by command parsing (private to src/smtp).
#pragma once

#include <string_view>

namespace ringmta::smtp::detail {

// RFC 5321 4.1.2 Domain (labels of letters, digits, '-', or UTF-8 octets; each <= 63,
// <= 255 in all, no empty label).
bool valid_domain(std::string_view domain);

// RFC 5321 4.1.3 address literal with its brackets: IPv4, IPv6 or general.
bool valid_address_literal(std::string_view literal);

// RFC 3629 well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool valid_utf8(std::string_view s);

}  // namespace ringmta::smtp::detail
