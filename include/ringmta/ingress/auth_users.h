// The users SMTP AUTH accepts: ingress.auth_users_file, read at start and on
// SIGHUP by each shard on its own thread (shared nothing; the file is small).
//
// Format: one "name:hash" per line, hash as printed by `ringmta hash-password`
// ($pbkdf2-sha256$...). Blank lines and lines starting with '#' are skipped; spaces
// around a line are ignored. A name is 1 to 255 octets without controls, spaces or
// ':'; names are case-sensitive and unique. Every error names FILE:LINE.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ringmta::ingress {

class auth_users {
public:
    // The file at `path`; nullptr with `error` set ("FILE:LINE: why" or "FILE: why").
    static std::unique_ptr<auth_users> load(const std::string& path, std::string& error);
    // The same from text; `name` stands for the file in errors.
    static std::unique_ptr<auth_users> parse(std::string_view text, std::string_view name,
                                             std::string& error);

    // The hash of `user`, or nullptr for an unknown user.
    const std::string* find(std::string_view user) const;
    // A real entry's hash, checked against for unknown users and then ignored, so
    // that an unknown name costs as long as a known one (no user enumeration by
    // timing). Empty when the file has no users.
    const std::string& decoy_hash() const { return _decoy_hash; }
    std::size_t size() const { return _hashes.size(); }

    static constexpr std::size_t name_bytes_max = 255;
    static constexpr std::size_t file_bytes_max = 16u << 20;

private:
    std::unordered_map<std::string, std::string> _hashes;
    std::string _decoy_hash;
};

}  // namespace ringmta::ingress
