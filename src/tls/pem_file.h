// Reads a certificate, key or CA bundle file into memory for wolfSSL's *_buffer
// loaders, so a missing or unreadable file is reported with its errno, apart from
// wolfSSL's parse errors. Only while a context is built (start-up or reload), on the
// shard that builds it; never on the data path.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringmta::tls {

// A CA bundle is ~200 KiB; anything near this limit is not a PEM file we want.
inline constexpr std::size_t pem_file_bytes_max = 16 * 1024 * 1024;

// On failure: false and error = "<what> '<path>': <reason>" (what = "cert_file", ...).
bool read_pem_file(std::string_view what, const std::string& path, std::string& text,
                   std::string& error);

}  // namespace ringmta::tls
