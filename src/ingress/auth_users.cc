// The AUTH users file (see auth_users.h). Read with blocking file I/O: only at
// start and on SIGHUP, like the TLS certificate.
#include "ringmta/ingress/auth_users.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "ringmta/ingress/password_hash.h"

namespace ringmta::ingress {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

// "" when `name` may be a user name, else why not.
std::string name_problem(std::string_view name) {
    if (name.empty()) return "the user name is empty";
    if (name.size() > auth_users::name_bytes_max) return "the user name is over 255 octets";
    for (char c : name) {
        const auto octet = static_cast<unsigned char>(c);
        if (octet <= 0x20 || octet == 0x7f) {
            return "the user name has a space or a control character";
        }
    }
    return {};
}

}  // namespace

std::unique_ptr<auth_users> auth_users::parse(std::string_view text, std::string_view name,
                                              std::string& error) {
    auto users = std::make_unique<auth_users>();
    std::size_t line_number = 0;
    while (!text.empty()) {
        ++line_number;
        const std::size_t lf = text.find('\n');
        const std::string_view line = trim(text.substr(0, lf));
        text.remove_prefix(lf == std::string_view::npos ? text.size() : lf + 1);
        if (line.empty() || line.front() == '#') continue;
        const std::string where = std::string(name) + ":" + std::to_string(line_number) + ": ";
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            error = where + "expected name:hash (no ':' on the line)";
            return nullptr;
        }
        const std::string_view user = line.substr(0, colon);
        const std::string_view hash = line.substr(colon + 1);
        if (std::string problem = name_problem(user); !problem.empty()) {
            error = where + problem;
            return nullptr;
        }
        if (!password_hash_iterations(hash)) {
            error = where + "user '" + std::string(user) +
                    "': not a $pbkdf2-sha256$ hash (make one with `ringmta hash-password`)";
            return nullptr;
        }
        if (!users->_hashes.emplace(user, hash).second) {
            error = where + "user '" + std::string(user) + "' is listed twice";
            return nullptr;
        }
        if (users->_decoy_hash.empty()) users->_decoy_hash.assign(hash);
    }
    return users;
}

std::unique_ptr<auth_users> auth_users::load(const std::string& path, std::string& error) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        error = path + ": " + std::strerror(errno);
        return nullptr;
    }
    std::string text;
    char chunk[64 * 1024];
    while (file.read(chunk, sizeof(chunk)) || file.gcount() > 0) {
        text.append(chunk, static_cast<std::size_t>(file.gcount()));
        if (text.size() > file_bytes_max) {
            error = path + ": over 16 MiB; is this the users file?";
            return nullptr;
        }
    }
    if (file.bad()) {
        error = path + ": read failed";
        return nullptr;
    }
    return parse(text, path, error);
}

const std::string* auth_users::find(std::string_view user) const {
    auto it = _hashes.find(std::string(user));
    return it == _hashes.end() ? nullptr : &it->second;
}

}  // namespace ringmta::ingress
