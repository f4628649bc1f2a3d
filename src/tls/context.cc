// Building a wolfSSL_CTX from context_options; see ringmta/tls/context.h.
// Every wolfSSL setting below carries its reason. Runs on the shard that will use the
// context (start-up or reload), never on the data path: it reads files.
#include "ringmta/tls/context.h"

#include <wolfssl/options.h>  // first: it fixes the layout of wolfSSL's structs
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <mutex>

#include "error_text.h"
#include "key_match_check.h"
#include "pem_file.h"
#include "session_callbacks.h"

namespace ringmta::tls {

namespace {

// Debian's wolfSSL also compiles in NULL, anonymous, RC4, 3DES and integrity-only
// TLS 1.3 suites (HAVE_NULL_CIPHER, HAVE_ANON, WOLFSSL_ALLOW_RC4): name what we allow.
// TLS 1.2 keeps the ECDHE CBC suites: opportunistic TLS to old MX hosts beats plaintext.
constexpr const char* cipher_list =
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:"
    "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:"
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA";

struct ctx_deleter {
    void operator()(WOLFSSL_CTX* ctx) const { wolfSSL_CTX_free(ctx); }
};
using ctx_ptr = std::unique_ptr<WOLFSSL_CTX, ctx_deleter>;

// wolfSSL_Init sets up process-wide state (RNG seed source, error queue): once.
bool initialize_wolfssl() {
    static std::once_flag once;
    static int result = 0;
    std::call_once(once, [] { result = wolfSSL_Init(); });
    return result == WOLFSSL_SUCCESS;
}

bool check_options(const context_options& o, std::string& error) {
    if (o.tls13_only && o.tls12_only) {
        error = "tls13_only and tls12_only are both set";
        return false;
    }
    if (o.side == role::server && (o.cert_file.empty() || o.key_file.empty())) {
        error = "a server context needs cert_file and key_file";
        return false;
    }
    if (o.cert_file.empty() != o.key_file.empty()) {
        error = o.cert_file.empty() ? "key_file '" + o.key_file + "' given without cert_file"
                                    : "cert_file '" + o.cert_file + "' given without key_file";
        return false;
    }
    return true;
}

WOLFSSL_METHOD* pick_method(const context_options& o) {
    // A fixed-version method pins the version; the flexible one negotiates 1.2 or 1.3.
    if (o.side == role::server) {
        if (o.tls13_only) return wolfTLSv1_3_server_method();
        if (o.tls12_only) return wolfTLSv1_2_server_method();
        return wolfSSLv23_server_method();
    }
    if (o.tls13_only) return wolfTLSv1_3_client_method();
    if (o.tls12_only) return wolfTLSv1_2_client_method();
    return wolfSSLv23_client_method();
}

bool set_groups(WOLFSSL_CTX* ctx, bool tls12_only) {
    int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_SECP384R1,
                    WOLFSSL_ECC_SECP521R1};
    // wolfSSL_CTX_set_groups refuses a TLS 1.2-only method; there the list is the
    // supported_groups extension alone.
    if (!tls12_only) return wolfSSL_CTX_set_groups(ctx, groups, 4) == WOLFSSL_SUCCESS;
    for (const int group : groups) {
        const auto name = static_cast<unsigned short>(group);
        if (wolfSSL_CTX_UseSupportedCurve(ctx, name) != WOLFSSL_SUCCESS) return false;
    }
    return true;
}

bool configure_protocol(WOLFSSL_CTX* ctx, const context_options& o, std::string& error) {
    // TLS 1.0/1.1 are deprecated (RFC 8996); the flexible method would otherwise allow them.
    if (wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS) {
        error = "wolfSSL refused TLS 1.2 as the minimum version";
        return false;
    }
    if (wolfSSL_CTX_set_cipher_list(ctx, cipher_list) != WOLFSSL_SUCCESS) {
        error = "wolfSSL refused the cipher list";
        return false;
    }
    // X25519 first: Debian's build has no x86_64 P-256 code (no WOLFSSL_HAVE_SP_ECC), so
    // a P-256 key share costs ~2.7x an X25519 one; the NIST curves stay for other peers.
    if (!set_groups(ctx, o.tls12_only)) {
        error = "wolfSSL refused the key exchange groups";
        return false;
    }
    // wolfSSL's session cache is process-wide behind a lock: shared-nothing shards
    // keep out of it (no resumption for now; full handshakes only).
    wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
    if (o.side == role::server) {
        // Ticket keys would be per shard while SO_REUSEPORT spreads a client's
        // connections over all shards: most resumptions would miss. Don't issue any.
        wolfSSL_CTX_no_ticket_TLSv13(ctx);
        wolfSSL_CTX_NoTicketTLSv12(ctx);
        // Ingress asks no client certificate (AUTH is SMTP's business).
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, nullptr);
    }
    // Record I/O over the session's memory buffers: the ring does the socket I/O.
    wolfSSL_CTX_SetIORecv(ctx, &session_callbacks::receive);
    wolfSSL_CTX_SetIOSend(ctx, &session_callbacks::send);
    return true;
}

bool load_identity(WOLFSSL_CTX* ctx, const context_options& o, std::string& error) {
    if (o.cert_file.empty()) return true;
    std::string pem;
    if (!read_pem_file("cert_file", o.cert_file, pem, error)) return false;
    const auto* data = reinterpret_cast<const unsigned char*>(pem.data());
    const long size = static_cast<long>(pem.size());
    int ret = wolfSSL_CTX_use_certificate_chain_buffer(ctx, data, size);
    if (ret != WOLFSSL_SUCCESS) {
        error = "cert_file '" + o.cert_file + "': no usable PEM certificate chain (" +
                wolfssl_reason(ret) + ")";
        return false;
    }
    if (!read_pem_file("key_file", o.key_file, pem, error)) return false;
    data = reinterpret_cast<const unsigned char*>(pem.data());
    ret = wolfSSL_CTX_use_PrivateKey_buffer(ctx, data, static_cast<long>(pem.size()),
                                            WOLFSSL_FILETYPE_PEM);
    if (ret != WOLFSSL_SUCCESS) {
        error = "key_file '" + o.key_file + "': no usable PEM private key, or not the key of '" +
                o.cert_file + "' (" + wolfssl_reason(ret) + ")";
        return false;
    }
    if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
        error = "key_file '" + o.key_file + "' does not match the certificate in cert_file '" +
                o.cert_file + "'";
        return false;
    }
    return true;
}

bool load_trust(WOLFSSL_CTX* ctx, const context_options& o, bool& loaded, std::string& error) {
    loaded = false;
    if (o.side == role::server) return true;
    std::string path = o.ca_file;
    if (path.empty()) {
        if (o.verify == verify_mode::none) return true;
        path = system_ca_file;
    }
    std::string pem;
    if (!read_pem_file("ca_file", path, pem, error)) return false;
    const auto* data = reinterpret_cast<const unsigned char*>(pem.data());
    const int ret = wolfSSL_CTX_load_verify_buffer(ctx, data, static_cast<long>(pem.size()),
                                                   WOLFSSL_FILETYPE_PEM);
    if (ret != WOLFSSL_SUCCESS) {
        error = "ca_file '" + path + "': no usable PEM CA certificate (" +
                wolfssl_reason(ret) + ")";
        return false;
    }
    loaded = true;
    return true;
}

// A certificate and a key that wolfSSL loaded may still not belong together (see
// key_match_check.h): a server proves it with a handshake; a client certificate is
// proven the same way through a throwaway server context built from the same files.
bool prove_identity(context& ctx, const context_options& o, std::string& error) {
    if (o.cert_file.empty()) return true;
    if (o.side == role::client) {
        context_options as_server = o;
        as_server.side = role::server;
        as_server.verify = verify_mode::none;
        as_server.ca_file.clear();
        return context::create(as_server, error) != nullptr;
    }
    std::string reason;
    if (key_matches_certificate(ctx, reason)) return true;
    error = "key_file '" + o.key_file + "' does not match the certificate in cert_file '" +
            o.cert_file + "' (a test handshake failed: " + reason + ")";
    return false;
}

}  // namespace

void release_thread_state() {
#ifdef FP_ECC
    wc_ecc_fp_free();  // the fixed-point ECC cache is per thread (thread-local)
#endif
}

std::unique_ptr<context> context::create(const context_options& options, std::string& error) {
    error.clear();
    if (!check_options(options, error)) return nullptr;
    if (!initialize_wolfssl()) {
        error = "wolfSSL_Init failed";
        return nullptr;
    }
    ctx_ptr ctx(wolfSSL_CTX_new(pick_method(options)));
    if (!ctx) {
        error = "wolfSSL_CTX_new failed (out of memory?)";
        return nullptr;
    }
    bool has_trust_anchors = false;
    if (!configure_protocol(ctx.get(), options, error) ||
        !load_identity(ctx.get(), options, error) ||
        !load_trust(ctx.get(), options, has_trust_anchors, error)) {
        return nullptr;
    }
    std::unique_ptr<context> result(new context(ctx.release(), options, has_trust_anchors));
    if (!prove_identity(*result, options, error)) return nullptr;
    return result;
}

context::context(WOLFSSL_CTX* ctx, const context_options& options, bool has_trust_anchors)
    : _ctx(ctx), _side(options.side), _verify(options.verify),
      _has_trust_anchors(has_trust_anchors) {}

// Sessions hold their own reference (wolfSSL_new counts it), so this may run first.
context::~context() { wolfSSL_CTX_free(_ctx); }

}  // namespace ringmta::tls
