// Readable reasons for wolfSSL failures: context errors and session::error_text().
// Pure functions over wolfSSL's error tables; any shard.
#pragma once

#include <string>
#include <string_view>

namespace ringmta::tls {

// "peer subject name mismatch (wolfSSL -322)"
std::string wolfssl_reason(int code);

// Why the certificate check failed: ssl_error is wolfSSL_get_error()'s code, store_error
// the one the verify callback saw (an X509_V_ERR code for chain errors, else wolfSSL's):
// "certificate verify failed: certificate expired (depth 0; ... (wolfSSL -151); X509 ...)".
std::string verify_failure_text(int ssl_error, int store_error, int depth,
                                std::string_view expected_name);

// "handshake_failure" style name of a TLS alert description code.
std::string alert_name(int code);

}  // namespace ringmta::tls
