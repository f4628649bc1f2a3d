// Command line parsing (RFC 5321 4.1, RFC 1869 parameters): see ringmta/smtp/command.h.
// Replies follow Postfix smtpd's codes and enhanced codes for the same mistakes.
#include "ringmta/smtp/command.h"

#include <array>
#include <limits>

#include "mailbox.h"
#include "text.h"

namespace ringmta::smtp {

namespace {

struct verb_name {
    std::string_view name;
    smtp::verb verb;
};

constexpr std::array<verb_name, 14> verb_names{{
    {"MAIL", verb::mail}, {"RCPT", verb::rcpt}, {"DATA", verb::data},
    {"BDAT", verb::bdat}, {"RSET", verb::rset}, {"EHLO", verb::ehlo},
    {"HELO", verb::helo}, {"QUIT", verb::quit}, {"NOOP", verb::noop},
    {"VRFY", verb::vrfy}, {"EXPN", verb::expn}, {"HELP", verb::help},
    {"AUTH", verb::auth}, {"STARTTLS", verb::starttls},
}};

constexpr path_error syntax_mail{501, "5.5.4", "Syntax: MAIL FROM:<address>"};
constexpr path_error syntax_rcpt{501, "5.5.4", "Syntax: RCPT TO:<address>"};
constexpr path_error bad_sender{501, "5.1.7", "Bad sender address syntax"};
constexpr path_error bad_recipient{501, "5.1.3", "Bad recipient address syntax"};
constexpr path_error unknown_parameter{555, "5.5.4", "Unsupported parameter"};
constexpr path_error bad_parameter{501, "5.5.4", "Bad parameter syntax"};
constexpr path_error duplicate_parameter{501, "5.5.4", "Duplicate parameter"};

constexpr std::size_t path_bytes_max = 256;   // RFC 5321 4.5.3.1.3, with <>
constexpr std::size_t envid_bytes_max = 100;  // RFC 3461 4.4
// AUTH= carries a mailbox (at most 256 octets) as xtext: at most 3 octets each.
constexpr std::size_t auth_bytes_max = 3 * 256;
constexpr std::size_t orcpt_bytes_max = 500;  // RFC 3461 4.2

// Splits "<path> params" into the text between the brackets and the parameters.
// A '>' inside a quoted local part does not close the path.
bool split_path(std::string_view argument, std::string_view& inside, std::string_view& rest) {
    argument = detail::trim_spaces(argument);
    if (argument.empty() || argument.front() != '<') return false;
    bool quoted = false;
    std::size_t i = 1;
    for (; i < argument.size(); ++i) {
        const char c = argument[i];
        if (quoted) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                quoted = false;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == '>') {
            break;
        }
    }
    if (i >= argument.size()) return false;
    inside = argument.substr(1, i - 1);
    rest = argument.substr(i + 1);
    return rest.empty() || rest.front() == ' ' || rest.front() == '\t';
}

// Drops a source route "@a,@b:" (RFC 5321 4.1.2, appendix C) after checking its syntax.
bool strip_source_route(std::string_view& path) {
    if (path.empty() || path.front() != '@') return true;
    const std::size_t colon = path.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view route = path.substr(0, colon);
    while (true) {
        const std::size_t comma = route.find(',');
        const std::string_view at_domain = route.substr(0, comma);
        if (at_domain.size() < 2 || at_domain.front() != '@') return false;
        const std::string_view domain = at_domain.substr(1);
        if (!(domain.front() == '[' ? detail::valid_address_literal(domain)
                                    : detail::valid_domain(domain))) {
            return false;
        }
        if (comma == std::string_view::npos) break;
        route.remove_prefix(comma + 1);
    }
    path.remove_prefix(colon + 1);
    return !path.empty();
}

bool valid_keyword(std::string_view keyword) {
    if (keyword.empty() || keyword.front() == '-') return false;
    for (char c : keyword) {
        if (!detail::is_alpha(c) && !detail::is_digit(c) && c != '-') return false;
    }
    return true;
}

// esmtp-value (RFC 5321 4.1.2), with UTF-8 octets (RFC 6531 3.3).
bool valid_value(std::string_view value) {
    if (value.empty()) return false;
    for (char c : value) {
        const auto octet = static_cast<unsigned char>(c);
        if (octet < 33 || octet == '=' || octet == 127) return false;
    }
    return true;
}

// xtext (RFC 3461 4): printable ASCII except '+' and '=', or "+XX" upper-case hex.
bool valid_xtext(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '+') {
            if (i + 2 >= s.size()) return false;
            for (int k = 1; k <= 2; ++k) {
                const char h = s[i + k];
                if (!detail::is_digit(h) && !(h >= 'A' && h <= 'F')) return false;
            }
            i += 2;
        } else if (c < 33 || c > 126 || c == '=') {
            return false;
        }
    }
    return true;
}

bool parse_size(std::string_view value, std::uint64_t& size) {
    if (value.empty() || value.size() > 20) return false;
    size = 0;
    for (char c : value) {
        if (!detail::is_digit(c)) return false;
        const auto digit = std::uint64_t(c - '0');
        const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
        size = size > (max - digit) / 10 ? max : size * 10 + digit;
    }
    return true;
}

std::string upper(std::string_view s) {
    std::string result(s);
    for (char& c : result) c = detail::ascii_upper(c);
    return result;
}

// Iterates "KEY[=VALUE]" tokens; calls apply(key, value, has_value) for each.
template <typename Apply>
std::optional<path_error> parse_parameters(std::string_view rest, Apply&& apply) {
    while (true) {
        rest = detail::trim_spaces(rest);
        if (rest.empty()) return std::nullopt;
        std::size_t end = rest.find_first_of(" \t");
        const std::string_view token = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
        const std::size_t equals = token.find('=');
        const std::string_view key = token.substr(0, equals);
        const bool has_value = equals != std::string_view::npos;
        const std::string_view value = has_value ? token.substr(equals + 1) : std::string_view{};
        if (!valid_keyword(key) || (has_value && !valid_value(value))) return bad_parameter;
        if (auto error = apply(key, value, has_value)) return error;
    }
}

}  // namespace

command parse_command(std::string_view line) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    const std::size_t space = line.find(' ');
    const std::string_view name = line.substr(0, space);
    const std::string_view argument =
        space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    for (const verb_name& candidate : verb_names) {
        if (detail::iequals(name, candidate.name)) return {candidate.verb, argument};
    }
    return {verb::unknown, argument};
}

namespace {

enum parameter_bit : unsigned { size_bit = 1, body_bit = 2, utf8_bit = 4, ret_bit = 8,
                                envid_bit = 16, notify_bit = 32, orcpt_bit = 64,
                                auth_bit = 128 };

// Records `bit` in `seen`; false if the parameter was already given.
bool first_time(unsigned& seen, unsigned bit) {
    if (seen & bit) return false;
    seen |= bit;
    return true;
}

std::optional<path_error> apply_mail_parameter(mail_params& params, unsigned& seen,
                                               std::string_view key, std::string_view value,
                                               bool has_value) {
    using detail::iequals;
    using body = mail_params::body_type;
    if (iequals(key, "SIZE")) {
        if (!first_time(seen, size_bit)) return duplicate_parameter;
        if (!parse_size(value, params.size)) return bad_parameter;
        params.size_given = true;
    } else if (iequals(key, "BODY")) {
        if (!first_time(seen, body_bit)) return duplicate_parameter;
        if (iequals(value, "7BIT")) {
            params.body = body::seven_bit;
        } else if (iequals(value, "8BITMIME")) {
            params.body = body::eight_bit_mime;
        } else if (iequals(value, "BINARYMIME")) {
            params.body = body::binary_mime;
        } else {
            return bad_parameter;
        }
    } else if (iequals(key, "SMTPUTF8")) {
        if (!first_time(seen, utf8_bit)) return duplicate_parameter;
        if (has_value) return bad_parameter;
        params.smtputf8 = true;
    } else if (iequals(key, "RET")) {
        if (!first_time(seen, ret_bit)) return duplicate_parameter;
        if (!iequals(value, "FULL") && !iequals(value, "HDRS")) return bad_parameter;
        params.ret = upper(value);
    } else if (iequals(key, "ENVID")) {
        if (!first_time(seen, envid_bit)) return duplicate_parameter;
        if (value.empty() || value.size() > envid_bytes_max || !valid_xtext(value)) {
            return bad_parameter;
        }
        params.envid.assign(value);
    } else if (iequals(key, "AUTH")) {
        // "<>" or an xtext-encoded mailbox; a relay that does not trust the client
        // treats it as "<>" (RFC 4954 section 5): ringmta keeps it only as sent.
        if (!first_time(seen, auth_bit)) return duplicate_parameter;
        if (value != "<>" && (value.empty() || value.size() > auth_bytes_max ||
                              !valid_xtext(value))) {
            return bad_parameter;
        }
        params.auth.assign(value);
    } else {
        return unknown_parameter;
    }
    return std::nullopt;
}

// NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY, each at most once.
bool parse_notify(std::string_view value, std::string& notify) {
    if (detail::iequals(value, "NEVER")) {
        notify = "NEVER";
        return true;
    }
    const std::string_view list = value;
    unsigned seen = 0;
    while (true) {
        const std::size_t comma = value.find(',');
        const std::string_view item = value.substr(0, comma);
        unsigned bit = 0;
        if (detail::iequals(item, "SUCCESS")) bit = 1;
        if (detail::iequals(item, "FAILURE")) bit = 2;
        if (detail::iequals(item, "DELAY")) bit = 4;
        if (!bit || !first_time(seen, bit)) return false;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    notify = upper(list);
    return true;
}

std::optional<path_error> apply_rcpt_parameter(rcpt_params& params, unsigned& seen,
                                               std::string_view key, std::string_view value) {
    using detail::iequals;
    if (iequals(key, "NOTIFY")) {
        if (!first_time(seen, notify_bit)) return duplicate_parameter;
        if (!parse_notify(value, params.notify)) return bad_parameter;
    } else if (iequals(key, "ORCPT")) {
        if (!first_time(seen, orcpt_bit)) return duplicate_parameter;
        const std::size_t semicolon = value.find(';');
        if (semicolon == std::string_view::npos || semicolon == 0 ||
            value.size() > orcpt_bytes_max || !valid_keyword(value.substr(0, semicolon)) ||
            !valid_xtext(value.substr(semicolon + 1))) {
            return bad_parameter;
        }
        params.orcpt.assign(value);
    } else {
        return unknown_parameter;
    }
    return std::nullopt;
}

}  // namespace

std::optional<path_error> parse_mail(std::string_view argument, std::string& mailbox,
                                     mail_params& params) {
    mailbox.clear();
    params = mail_params{};
    argument = detail::trim_spaces(argument);
    if (!detail::istarts_with(argument, "FROM:")) return syntax_mail;
    std::string_view path;
    std::string_view rest;
    if (!split_path(argument.substr(5), path, rest)) return bad_sender;
    if (path.size() + 2 > path_bytes_max) return bad_sender;
    if (!strip_source_route(path)) return bad_sender;
    if (!path.empty() && !valid_mailbox(path)) return bad_sender;
    unsigned seen = 0;
    auto error = parse_parameters(rest, [&](std::string_view key, std::string_view value,
                                            bool has_value) {
        return apply_mail_parameter(params, seen, key, value, has_value);
    });
    if (error) {
        params = mail_params{};
        return error;
    }
    mailbox.assign(path);
    return std::nullopt;
}

std::optional<path_error> parse_rcpt(std::string_view argument, std::string& mailbox,
                                     rcpt_params& params) {
    mailbox.clear();
    params = rcpt_params{};
    argument = detail::trim_spaces(argument);
    if (!detail::istarts_with(argument, "TO:")) return syntax_rcpt;
    std::string_view path;
    std::string_view rest;
    if (!split_path(argument.substr(3), path, rest)) return bad_recipient;
    if (path.size() + 2 > path_bytes_max) return bad_recipient;
    if (!strip_source_route(path) || path.empty()) return bad_recipient;
    const bool postmaster = detail::iequals(path, "postmaster");
    if (!postmaster && !valid_mailbox(path)) return bad_recipient;
    unsigned seen = 0;
    auto error = parse_parameters(rest, [&](std::string_view key, std::string_view value,
                                            bool /*has_value*/) {
        return apply_rcpt_parameter(params, seen, key, value);
    });
    if (error) {
        params = rcpt_params{};
        return error;
    }
    mailbox.assign(postmaster ? std::string_view{"postmaster"} : path);
    return std::nullopt;
}

}  // namespace ringmta::smtp
