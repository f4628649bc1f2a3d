// Password hashes for SMTP AUTH users (auth_users_file) and `ringmta hash-password`.
//
// Format, compatible with Python passlib's pbkdf2_sha256 (modular crypt format):
//   $pbkdf2-sha256$<iterations>$<salt>$<hash>
// salt and hash in passlib's "adapted base64" (A-Z a-z 0-9 . /, no padding);
// verify_password also accepts standard base64 ('+' for '.', '=' padding).
// The hash is 32 bytes of PBKDF2-HMAC-SHA256 (wolfCrypt wc_PBKDF2).
//
// Cost: one verify at the default 200000 iterations is roughly 0.1 s of CPU.
// A shard must not call verify_password on its reactor thread: ingress runs it on
// a worker thread per shard (auth_verifier.h) and caches successes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringmta::ingress {

inline constexpr unsigned password_iterations_default = 200'000;
// verify_password rejects hashes above this, so that a hostile or mistyped users
// file cannot make one AUTH attempt burn minutes of CPU.
inline constexpr unsigned password_iterations_max = 10'000'000;

// A fresh 16-byte salt from getrandom(). Throws std::system_error when the kernel
// gives no randomness, std::invalid_argument for a password over 1MB.
std::string hash_password(std::string_view password);

// Deterministic, for tests: salt is raw bytes (at most 1024), iterations from 1 to
// password_iterations_max. Throws std::invalid_argument outside those bounds.
std::string hash_password(std::string_view password, std::string_view salt,
                          unsigned iterations);

// True when password matches encoded. The comparison is constant-time; a
// malformed or unsupported encoded string gives false, never an exception.
bool verify_password(std::string_view password, std::string_view encoded) noexcept;

// The iteration count of a well-formed hash (one verify_password can use), else
// nullopt: the users file is checked with it when it is loaded.
std::optional<unsigned> password_hash_iterations(std::string_view encoded) noexcept;

}  // namespace ringmta::ingress
