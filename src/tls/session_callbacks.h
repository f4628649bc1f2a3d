// wolfSSL's callbacks for a session: record I/O over the session's memory buffers
// (installed on every context with wolfSSL_CTX_SetIORecv/SetIOSend; wolfSSL 5.5.4
// has no per-WOLFSSL setter) and certificate verification (set per session).
// Contract: never blocks and never touches a socket; the I/O context pointer is the
// session, set with wolfSSL_SetIOReadCtx/WriteCtx. Runs on the session's shard.
#pragma once

#include <wolfssl/options.h>  // first: it fixes the layout of wolfSSL's structs
#include <wolfssl/ssl.h>

namespace ringmta::tls {

struct session_callbacks {
    // Copies unread input; WOLFSSL_CBIO_ERR_WANT_READ when there is none.
    static int receive(WOLFSSL* ssl, char* buf, int size, void* ctx);
    // Appends to the output; never short, never WANT_WRITE (the caller drains it).
    static int send(WOLFSSL* ssl, char* buf, int size, void* ctx);
    // Records the first certificate error; overrides it only with verify_mode::none.
    static int verify(int preverify_ok, WOLFSSL_X509_STORE_CTX* store);
};

}  // namespace ringmta::tls
