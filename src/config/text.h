// Private text helpers of the configuration module: quoting values for error
// messages and describe(), host/domain name checks, "did you mean" suggestions.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ringmta::config::detail {

// The text as a TOML basic string: "a\"b", control characters escaped.
std::string quote(std::string_view text);

std::string lowercase(std::string_view text);

// `text` equals `lower_key`, ignoring case in text only (keys are stored lower
// case). Allocates nothing.
bool equals_lower(std::string_view text, std::string_view lower_key) noexcept;

// Letters, digits and hyphens in dot-separated labels of 1-63 characters, no
// label starting or ending with a hyphen, at most 253 characters. No trailing dot.
bool is_domain_name(std::string_view text);

// What EHLO may carry: a domain name or an address literal "[192.0.2.1]",
// "[IPv6:2001:db8::1]" (RFC 5321 4.1.3).
bool is_ehlo_name(std::string_view text);

// The candidate closest to a misspelled name, when it is close enough to be the
// likely intent (edit distance at most 2, or 1 for short names).
std::optional<std::string_view> closest_name(std::string_view name,
                                             std::span<const std::string_view> candidates);

// Throws config_error unless path names a regular file this process can read.
void check_readable_file(const std::string& path);

}  // namespace ringmta::config::detail
