// The keys of ringmta.toml, the checks on string values and the messages for
// unknown keys and sections. See schema.h.
#include "schema.h"

#include <ringmta/config/config_error.h>

#include "text.h"

#include <algorithm>

namespace ringmta::config::detail {

namespace {

struct section_keys {
    std::string_view section;
    std::span<const std::string_view> keys;
};
constexpr std::array<section_keys, 6> keys_by_section{
    section_keys{"server", server_keys}, section_keys{"ingress", ingress_keys},
    section_keys{"delivery", delivery_keys}, section_keys{"journal", journal_keys},
    section_keys{"dns", dns_keys}, section_keys{"admin", admin_keys}};

}  // namespace

bool contains(std::span<const std::string_view> names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

std::string display_key(std::string_view key) {
    bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
    return bare ? std::string(key) : quote(key);
}

std::string unknown_key_message(std::string_view section, std::string_view name,
                                std::span<const std::string_view> known) {
    for (const section_keys& other : keys_by_section) {
        if (other.section != section && contains(other.keys, name)) {
            return "unknown key in [" + std::string(section) + "]; it belongs in [" +
                   std::string(other.section) + "]";
        }
    }
    if (auto close = closest_name(name, known)) {
        return "unknown key (did you mean " + quote(*close) + "?)";
    }
    std::string message = "unknown key ([" + std::string(section) + "] has: ";
    for (std::string_view key : known) {
        if (key != known.front()) message += ", ";
        message += key;
    }
    return message + ")";
}

std::string unknown_section_message(std::string_view name) {
    for (const section_keys& owner : keys_by_section) {
        if (contains(owner.keys, name)) {
            return "keys go in a section; this one belongs in [" + std::string(owner.section) +
                   "]";
        }
    }
    if (auto close = closest_name(name, section_names)) {
        return "unknown section (did you mean [" + std::string(*close) + "]?)";
    }
    return "unknown section (sections are: [server], [ingress], [delivery], [journal], "
           "[dns], [admin], [domains], [groups], [sources], [routes])";
}

void check_host_name(const std::string& value) {
    if (is_domain_name(value)) return;
    throw config_error(quote(value) + " is not a host name (letters, digits and hyphens in "
                                      "dot-separated labels, e.g. \"mx1.example.com\")");
}

void check_ehlo_name(const std::string& value) {
    if (value.empty() || is_ehlo_name(value)) return;
    throw config_error(quote(value) + " is not a host name or address literal (e.g. "
                                      "\"mx1.example.com\" or \"[192.0.2.1]\")");
}

void check_directory(const std::string& value) {
    if (!value.empty()) return;
    throw config_error("\"\" is empty; give a directory, e.g. \"var/spool\"");
}

void check_file(const std::string& value) {
    if (!value.empty()) check_readable_file(value);
}

void check_header_name(const std::string& value) {
    // RFC 5322 2.2: a field name is printable US-ASCII but the colon; capped so
    // that a pasted header line is caught.
    constexpr std::size_t name_bytes_max = 76;
    auto field_char = [](char c) { return c >= 33 && c <= 126 && c != ':'; };
    bool ok = value.size() <= name_bytes_max &&
              std::all_of(value.begin(), value.end(), field_char);
    if (ok) return;
    throw config_error(quote(value) + " is not a header field name (printable ASCII without "
                                      "spaces or ':', e.g. \"X-Ringmta-Priority\")");
}

void check_durability(const std::string& value) {
    if (value == "fsync" || value == "nosync") return;
    throw config_error(quote(value) + " is not a durability mode (use \"fsync\", or "
                                      "\"nosync\" for benchmarks only)");
}

void check_tls_policy(const std::string& value) {
    if (value == "none" || value == "opportunistic" || value == "required" || value == "verify") {
        return;
    }
    throw config_error(quote(value) + " is not a TLS policy (use \"none\", \"opportunistic\", "
                                      "\"required\" or \"verify\")");
}

tls_policy parse_tls_policy(const std::string& value) {
    if (value == "none") return tls_policy::none;
    if (value == "required") return tls_policy::required;
    if (value == "verify") return tls_policy::verify;
    return tls_policy::opportunistic;
}

std::string route_domain(std::string_view key) {
    std::string domain = lowercase(key);
    if (domain == "*") return domain;
    if (domain.size() > 1 && domain.back() == '.') domain.pop_back();
    std::string_view name = domain;
    if (!name.empty() && name.front() == '.') name.remove_prefix(1);
    return is_domain_name(name) ? domain : "";
}

}  // namespace ringmta::config::detail
