// Defaults, loading from a file or a string, and route lookup. The main thread
// calls load_file once at start-up; find_route is noexcept and allocation-free.
#include <ringmta/config/config.h>

#include "loader.h"
#include "text.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringmta::config {

namespace {

// A configuration file larger than this is a mistake (a log or a core file given
// by accident), not a configuration; thousands of routes fit in far less.
constexpr std::size_t config_file_bytes_max = 16u << 20;

constexpr std::size_t host_name_bytes_max = 256;

std::string machine_host_name() {
    char buffer[host_name_bytes_max + 1] = {};
    if (::gethostname(buffer, host_name_bytes_max) != 0 || buffer[0] == '\0') {
        return "localhost";
    }
    return buffer;
}

[[noreturn]] void throw_file_error(const std::string& path, std::string_view message) {
    throw config_error(detail::located(path, 1, 1, "file", message));
}

std::string read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) throw_file_error(path, std::string("cannot open: ") + std::strerror(errno));
    struct fd_closer {
        int fd;
        ~fd_closer() { ::close(fd); }
    } closer{fd};
    struct stat status {};
    if (::fstat(fd, &status) != 0) {
        throw_file_error(path, std::string("cannot read: ") + std::strerror(errno));
    }
    if (!S_ISREG(status.st_mode)) throw_file_error(path, "not a regular file");
    std::string text;
    char buffer[65536];
    while (true) {
        ssize_t count = ::read(fd, buffer, sizeof buffer);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) throw_file_error(path, std::string("cannot read: ") + std::strerror(errno));
        if (count == 0) return text;
        if (text.size() + static_cast<std::size_t>(count) > config_file_bytes_max) {
            throw_file_error(path, "larger than 16MB; is this really the configuration file?");
        }
        text.append(buffer, static_cast<std::size_t>(count));
    }
}

}  // namespace

namespace detail {

std::string located(std::string_view source_name, unsigned line, unsigned column,
                    std::string_view key, std::string_view message) {
    std::string out(source_name);
    out += ':' + std::to_string(line) + ':' + std::to_string(column) + ": ";
    out += key;
    out += ": ";
    out += message;
    return out;
}

}  // namespace detail

config defaults() {
    config settings;
    settings.server.hostname = machine_host_name();
    settings.ingress.listen.push_back(parse_endpoint("127.0.0.1:2525"));
    settings.ingress.relay_networks.push_back(parse_cidr("127.0.0.0/8"));
    settings.ingress.relay_networks.push_back(parse_cidr("::1/128"));
    settings.source = "<defaults>";
    return settings;
}

config load_file(const std::string& path) {
    std::string text = read_file(path);
    return load_string(text, path);
}

config load_string(std::string_view toml_text, std::string_view source_name) {
    config settings = defaults();
    settings.source = std::string(source_name);
    detail::apply_toml(toml_text, source_name, settings);
    return settings;
}

namespace {

using detail::equals_lower;

// The entry for a domain among entries with a `domain` key: an exact match
// (case-insensitive, a trailing dot ignored), else the longest ".parent" suffix
// rule, else "*", else nullptr.
template <class Entry>
const Entry* best_match(const std::vector<Entry>& entries, std::string_view domain) noexcept {
    if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    const Entry* best_suffix = nullptr;
    const Entry* wildcard = nullptr;
    for (const Entry& candidate : entries) {
        std::string_view key = candidate.domain;
        if (key.empty()) continue;
        if (key == "*") {
            wildcard = &candidate;
        } else if (key.front() == '.') {
            // ".example.net" matches a.example.net and a.b.example.net, not example.net.
            bool matches = domain.size() > key.size() &&
                           equals_lower(domain.substr(domain.size() - key.size()), key);
            if (matches && (best_suffix == nullptr || key.size() > best_suffix->domain.size())) {
                best_suffix = &candidate;
            }
        } else if (equals_lower(domain, key)) {
            return &candidate;
        }
    }
    return best_suffix != nullptr ? best_suffix : wildcard;
}

const domain_policy default_domain_policy{"*"};

}  // namespace

const route* config::find_route(std::string_view domain) const noexcept {
    return best_match(routes, domain);
}

const domain_policy& config::policy_for(std::string_view domain) const noexcept {
    const domain_policy* found = best_match(domains, domain);
    return found != nullptr ? *found : default_domain_policy;
}

const char* tls_policy_name(tls_policy policy) {
    switch (policy) {
        case tls_policy::none: return "none";
        case tls_policy::opportunistic: return "opportunistic";
        case tls_policy::required: return "required";
        case tls_policy::verify: return "verify";
    }
    return "?";
}

}  // namespace ringmta::config
