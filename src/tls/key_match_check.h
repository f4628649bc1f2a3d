// Proves that a server context's certificate and private key belong together with
// one handshake in memory against a throwaway client context. Why: Debian's wolfSSL
// 5.5.4 (no WOLFSSL_VALIDATE_ECC_IMPORT) has wolfSSL_CTX_check_private_key accept
// any P-256 key for any P-256 certificate; only RSA pairs are really compared.
// Cold path: context creation only (about one handshake's CPU), on the creating shard.
#pragma once

#include <string>

#include "ringmta/tls/context.h"

namespace ringmta::tls {

// true when the handshake completes; else false and reason = why it failed.
bool key_matches_certificate(context& server_ctx, std::string& reason);

}  // namespace ringmta::tls
