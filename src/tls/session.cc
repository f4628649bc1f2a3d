// One TLS connection over memory buffers; see ringmta/tls/session.h.
// State: handshaking -> established -> closed, or failed from any of them. wolfSSL
// is driven only from the calls below; its callbacks (session_callbacks.cc) move
// bytes between its record layer and _input/_output, never to a socket.
#include "ringmta/tls/session.h"

#include <wolfssl/options.h>  // first: it fixes the layout of wolfSSL's structs
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>

#include <arpa/inet.h>

#include <algorithm>

#include "error_text.h"
#include "ringmta/runtime/assert.h"
#include "session_callbacks.h"

namespace ringmta::tls {

namespace {

// One TLS record's plaintext at most: each wolfSSL_read() returns up to one record.
constexpr int read_chunk_bytes = 16384;
// Each read round yields at least one byte and the input is bounded, so this bound
// is never reached in practice; it only makes the loop's termination explicit.
constexpr std::size_t read_rounds_max = session::input_bytes_max;
// wolfSSL_write takes an int; larger plaintexts go in slices of this size.
constexpr std::size_t write_slice_bytes_max = 1 << 20;
// A DNS name has at most 253 characters; a longer SNI is not one we keep.
constexpr unsigned short server_name_bytes_max = 255;

bool is_ip_literal(std::string_view name) {
    char text[64];
    if (name.size() >= sizeof text) return false;
    name.copy(text, name.size());
    text[name.size()] = '\0';
    unsigned char address[16];
    return inet_pton(AF_INET, text, address) == 1 || inet_pton(AF_INET6, text, address) == 1;
}

}  // namespace

session::session(context& ctx, std::string_view peer_name)
    : _side(ctx._side), _verify(ctx._verify), _has_trust_anchors(ctx._has_trust_anchors) {
    _ssl = wolfSSL_new(ctx._ctx);
    if (_ssl == nullptr) {
        fail_with_text("wolfSSL_new failed (out of memory?)");
        return;
    }
    // The record layer's callbacks (set on the context) get this session as their ctx.
    wolfSSL_SetIOReadCtx(_ssl, this);
    wolfSSL_SetIOWriteCtx(_ssl, this);
    if (_side == role::server) return;

    _server_name = peer_name;
    // Every client checks the certificate through one callback, which records the
    // first error and overrides it only with verify_mode::none (opportunistic).
    wolfSSL_set_verify(_ssl, WOLFSSL_VERIFY_PEER, &session_callbacks::verify);
    wolfSSL_SetCertCbCtx(_ssl, this);
    // RFC 6066 section 3: SNI carries host names only, never IP literals.
    if (!peer_name.empty() && !is_ip_literal(peer_name) &&
        wolfSSL_UseSNI(_ssl, WOLFSSL_SNI_HOST_NAME, peer_name.data(),
                       static_cast<unsigned short>(peer_name.size())) != WOLFSSL_SUCCESS) {
        fail_with_text("wolfSSL refused the SNI name '" + _server_name + "'");
        return;
    }
    if (_verify != verify_mode::chain_and_name) return;
    if (peer_name.empty()) {
        fail_with_text("verify_mode::chain_and_name needs the expected peer name");
        return;
    }
    // Matched against the SAN DNS names (else the CN) during the handshake.
    if (wolfSSL_check_domain_name(_ssl, _server_name.c_str()) != WOLFSSL_SUCCESS) {
        fail_with_text("wolfSSL refused the expected name '" + _server_name + "'");
    }
}

session::~session() {
    if (_ssl != nullptr) wolfSSL_free(_ssl);
}

std::size_t session::input_room() const {
    return input_bytes_max - (_input.size() - _input_consumed_bytes);
}

void session::put_input(std::string_view ciphertext) {
    RINGMTA_ASSERT(ciphertext.size() <= input_room(),
                   "tls: put_input of %zu bytes with room for %zu: drive the session first",
                   ciphertext.size(), input_room());
    if (_input_consumed_bytes > 0) {
        _input.erase(0, _input_consumed_bytes);
        _input_consumed_bytes = 0;
    }
    _input.append(ciphertext);
}

void session::take_output(std::string& out) {
    if (out.empty()) {
        out.swap(_output);
    } else {
        out.append(_output);
    }
    _output.clear();
}

session::status session::handshake() {
    switch (_phase) {
    case phase::established: return status::done;
    case phase::closed: return status::closed;
    case phase::failed: return status::failed;
    case phase::handshaking: break;
    }
    const int ret = _side == role::client ? wolfSSL_connect(_ssl) : wolfSSL_accept(_ssl);
    if (ret != WOLFSSL_SUCCESS) {
        const status s = after_error(ret);
        if (s != status::closed) return s;
        fail_with_text("peer sent close_notify during the handshake");
        return status::failed;
    }
    _phase = phase::established;
    if (_side == role::server) {
        void* name = nullptr;
        const unsigned short size = wolfSSL_SNI_GetRequest(_ssl, WOLFSSL_SNI_HOST_NAME, &name);
        if (name != nullptr && size > 0 && size <= server_name_bytes_max) {
            _server_name.assign(static_cast<const char*>(name), size);
        }
    }
    return status::done;
}

session::status session::write(std::string_view plaintext) {
    if (_phase == phase::failed) return status::failed;
    if (_phase == phase::closed) return status::closed;
    RINGMTA_ASSERT(_phase == phase::established, "tls: write() before the handshake is done");
    RINGMTA_ASSERT(!_shutdown_sent, "tls: write() after shutdown()");
    while (!plaintext.empty()) {
        const std::size_t slice = std::min(plaintext.size(), write_slice_bytes_max);
        const int n = wolfSSL_write(_ssl, plaintext.data(), static_cast<int>(slice));
        if (n <= 0) {
            const status s = after_error(n);
            // The send callback never blocks, so wolfSSL never waits inside a write.
            RINGMTA_ASSERT(s != status::want_input, "tls: wolfSSL_write wants input");
            return s;
        }
        // Without partial-write mode wolfSSL_write takes the whole slice or fails.
        RINGMTA_ASSERT(static_cast<std::size_t>(n) == slice, "tls: short write %d of %zu", n,
                       slice);
        plaintext.remove_prefix(slice);
    }
    return status::done;
}

session::status session::read(std::string& plaintext_out) {
    if (_phase == phase::failed) return status::failed;
    if (_phase == phase::closed) return status::closed;
    RINGMTA_ASSERT(_phase == phase::established, "tls: read() before the handshake is done");
    bool appended = false;
    char chunk[read_chunk_bytes];
    for (std::size_t round = 0; round < read_rounds_max; ++round) {
        const int n = wolfSSL_read(_ssl, chunk, read_chunk_bytes);
        if (n > 0) {
            plaintext_out.append(chunk, static_cast<std::size_t>(n));
            appended = true;
            continue;
        }
        const status s = after_error(n);
        if (s == status::want_input && appended) return status::done;
        return s;
    }
    return status::done;  // more may be decryptable: the caller reads again
}

void session::shutdown() {
    if (_shutdown_sent || (_phase != phase::established && _phase != phase::closed)) return;
    _shutdown_sent = true;
    // One call queues our close_notify; SMTP closes after QUIT without waiting for the
    // peer's, so the "not done yet" result of a unidirectional shutdown is expected.
    wolfSSL_shutdown(_ssl);
}

std::string_view session::version() const {
    if (_phase != phase::established && _phase != phase::closed) return {};
    const char* name = wolfSSL_get_version(_ssl);
    return name != nullptr ? name : "";
}

std::string_view session::cipher() const {
    if (_phase != phase::established && _phase != phase::closed) return {};
    const int suite = wolfSSL_get_current_cipher_suite(_ssl);
    const char* name = wolfSSL_get_cipher_name_iana_from_suite(
        static_cast<unsigned char>((suite >> 8) & 0xff), static_cast<unsigned char>(suite & 0xff));
    return name != nullptr ? name : "";
}

std::string_view session::key_exchange() const {
    if (_phase != phase::established && _phase != phase::closed) return {};
    const char* name = wolfSSL_get_curve_name(_ssl);
    return name != nullptr ? name : "";
}

bool session::peer_verified() const {
    return _side == role::client &&
           (_phase == phase::established || _phase == phase::closed) && _has_trust_anchors &&
           _peer_cert_checked && _verify_error == 0;
}

session::status session::after_error(int ret) {
    const int error = wolfSSL_get_error(_ssl, ret);
    if (error == WOLFSSL_ERROR_WANT_READ) return status::want_input;
    if (error == WOLFSSL_ERROR_ZERO_RETURN) {
        _phase = phase::closed;
        return status::closed;
    }
    if (_verify_error != 0 && _verify != verify_mode::none) {
        fail_with_text(
            verify_failure_text(error, _verify_error, _verify_error_depth, _server_name));
        return status::failed;
    }
    std::string text = wolfssl_reason(error);
    WOLFSSL_ALERT_HISTORY alerts{};
    if (error == FATAL_ERROR && wolfSSL_get_alert_history(_ssl, &alerts) == WOLFSSL_SUCCESS) {
        text += ": peer sent alert " + alert_name(alerts.last_rx.code);
    }
    fail_with_text(std::move(text));
    return status::failed;
}

void session::fail_with_text(std::string text) {
    _phase = phase::failed;
    _error = std::move(text);
}

}  // namespace ringmta::tls
