// TLS context: one wolfSSL_CTX per shard and role, built from context_options
// (certificate, key, CA bundle, verification policy, protocol versions).
// Contract: create() never throws; a bad setting or file gives nullptr and an error
// that names the file and wolfSSL's reason. Shard: each shard creates its own
// (shared nothing: no WOLFSSL_CTX is used by two threads). A reload (SIGHUP) is a new
// context; sessions made from the old one keep its wolfSSL_CTX alive (refcounted).
#pragma once

#include <memory>
#include <string>
#include <string_view>

struct WOLFSSL_CTX;  // wolfSSL's type, kept out of this header (no options.h order issue)

namespace ringmta::tls {

enum class role { server, client };

// Client-side certificate policy. none is opportunistic TLS: any certificate is
// accepted, and peer_verified() still says whether the chain verified against an
// explicitly given ca_file. chain: trusted chain, any name. chain_and_name: trusted
// chain and the expected name in the certificate (SAN DNS, else CN; wildcards).
enum class verify_mode { none, chain, chain_and_name };

// Debian's CA bundle (package ca-certificates), used when verifying without ca_file.
inline constexpr std::string_view system_ca_file = "/etc/ssl/certs/ca-certificates.crt";

struct context_options {
    role side = role::client;
    std::string cert_file;  // PEM chain, leaf first. Server: required; client: optional
    std::string key_file;   // PEM private key of cert_file; required with cert_file
    std::string ca_file;    // client: PEM CA bundle; "" = system_ca_file for chain and
                            // chain_and_name, no CA at all for none
    verify_mode verify = verify_mode::none;  // client only; a server asks no client cert
    bool tls13_only = false;  // versions: TLS 1.2 minimum always; TLS 1.3 maximum
    bool tls12_only = false;  // at most one of the two
};

// Frees the calling thread's wolfSSL caches. Debian's wolfSSL is built with FP_ECC:
// each thread that does ECC keeps a bounded fixed-point table until it calls this.
// A shard calls it once, on its own thread, when it stops.
void release_thread_state();

class context {
public:
    // nullptr and `error` set ("cert_file '/x.pem': ...") when the context cannot be built.
    static std::unique_ptr<context> create(const context_options& options, std::string& error);

    ~context();
    context(const context&) = delete;
    context& operator=(const context&) = delete;

    role side() const { return _side; }
    verify_mode verify() const { return _verify; }
    // A CA bundle was loaded (always with chain modes; with none only if ca_file given).
    bool has_trust_anchors() const { return _has_trust_anchors; }

private:
    friend class session;

    context(WOLFSSL_CTX* ctx, const context_options& options, bool has_trust_anchors);

    WOLFSSL_CTX* _ctx;
    role _side;
    verify_mode _verify;
    bool _has_trust_anchors;
};

}  // namespace ringmta::tls
