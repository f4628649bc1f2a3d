// wolfSSL callbacks over a session's buffers; see session_callbacks.h.
#include "session_callbacks.h"

#include <cstring>

#include "ringmta/runtime/assert.h"
#include "ringmta/tls/session.h"

namespace ringmta::tls {

int session_callbacks::receive(WOLFSSL*, char* buf, int size, void* ctx) {
    auto* self = static_cast<session*>(ctx);
    RINGMTA_ASSERT(size >= 0, "tls: negative receive size %d", size);
    const std::size_t available = self->_input.size() - self->_input_consumed_bytes;
    if (available == 0) return WOLFSSL_CBIO_ERR_WANT_READ;
    const std::size_t n = available < static_cast<std::size_t>(size)
                              ? available
                              : static_cast<std::size_t>(size);
    std::memcpy(buf, self->_input.data() + self->_input_consumed_bytes, n);
    self->_input_consumed_bytes += n;
    if (self->_input_consumed_bytes == self->_input.size()) {
        self->_input.clear();
        self->_input_consumed_bytes = 0;
    }
    return static_cast<int>(n);
}

int session_callbacks::send(WOLFSSL*, char* buf, int size, void* ctx) {
    auto* self = static_cast<session*>(ctx);
    RINGMTA_ASSERT(size >= 0, "tls: negative send size %d", size);
    self->_output.append(buf, static_cast<std::size_t>(size));
    return size;
}

int session_callbacks::verify(int preverify_ok, WOLFSSL_X509_STORE_CTX* store) {
    // userCtx is what wolfSSL_SetCertCbCtx() stored: the session.
    auto* self = static_cast<session*>(store->userCtx);
    RINGMTA_ASSERT(self != nullptr, "tls: verify callback without a session");
    if (store->error_depth == 0) self->_peer_cert_checked = true;
    if (!preverify_ok && self->_verify_error == 0) {
        self->_verify_error = store->error != 0 ? store->error : -1;
        self->_verify_error_depth = store->error_depth;
    }
    // Opportunistic TLS: any certificate beats plaintext; peer_verified() tells the truth.
    if (self->_verify == verify_mode::none) return 1;
    return preverify_ok;
}

}  // namespace ringmta::tls
