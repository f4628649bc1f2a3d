// Private text helpers: quoting, name checks, suggestions. See text.h.
#include "text.h"

#include <ringmta/config/config_error.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace ringmta::config::detail {

std::string quote(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (byte < 0x20 || byte == 0x7f) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
            out += escaped;
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

std::string lowercase(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

bool equals_lower(std::string_view text, std::string_view lower_key) noexcept {
    if (text.size() != lower_key.size()) return false;
    for (std::size_t i = 0; i < lower_key.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != lower_key[i]) return false;
    }
    return true;
}

namespace {

constexpr std::size_t domain_chars_max = 253;  // RFC 1035 2.3.4, without the root dot
constexpr std::size_t label_chars_max = 63;

bool is_label_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-';
}

bool is_label(std::string_view label) {
    if (label.empty() || label.size() > label_chars_max) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    return std::all_of(label.begin(), label.end(), is_label_char);
}

bool is_ip_literal(int family, std::string_view text) {
    char buffer[INET6_ADDRSTRLEN + 1];
    if (text.size() >= sizeof buffer) return false;
    text.copy(buffer, text.size());
    buffer[text.size()] = '\0';
    unsigned char address[16];
    return inet_pton(family, buffer, address) == 1;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t above = row[j];
            std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
            row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace

bool is_domain_name(std::string_view text) {
    if (text.empty() || text.size() > domain_chars_max) return false;
    std::size_t start = 0;
    while (true) {
        std::size_t dot = text.find('.', start);
        std::string_view label = text.substr(start, dot - start);
        if (!is_label(label)) return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

bool is_ehlo_name(std::string_view text) {
    if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
        std::string_view inner = text.substr(1, text.size() - 2);
        constexpr std::string_view v6_tag = "IPv6:";
        if (inner.substr(0, v6_tag.size()) == v6_tag) {
            return is_ip_literal(AF_INET6, inner.substr(v6_tag.size()));
        }
        return is_ip_literal(AF_INET, inner);
    }
    return is_domain_name(text);
}

std::optional<std::string_view> closest_name(std::string_view name,
                                             std::span<const std::string_view> candidates) {
    std::size_t limit = name.size() <= 4 ? 1 : 2;
    std::optional<std::string_view> best;
    std::size_t best_distance = limit + 1;
    for (std::string_view candidate : candidates) {
        std::size_t distance = edit_distance(lowercase(name), candidate);
        if (distance < best_distance) {
            best = candidate;
            best_distance = distance;
        }
    }
    return best;
}

void check_readable_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        throw config_error(quote(path) + " cannot be read: " + std::strerror(errno));
    }
    struct stat status {};
    int rc = ::fstat(fd, &status);
    int saved_errno = errno;
    ::close(fd);
    if (rc != 0) {
        throw config_error(quote(path) + " cannot be read: " + std::strerror(saved_errno));
    }
    if (!S_ISREG(status.st_mode)) {
        throw config_error(quote(path) + " is not a regular file");
    }
}

}  // namespace ringmta::config::detail
