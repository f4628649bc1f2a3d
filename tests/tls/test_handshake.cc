// Handshakes between a client and a server session in memory: TLS 1.3 and forced
// TLS 1.2 with RSA and ECDSA certificates, version and cipher names, SNI as the
// server sees it, and version mismatches failing cleanly on both sides.
#include <doctest/doctest.h>

#include "test_pki.h"
#include "tls_pair.h"

using namespace ringmta::tls;
using namespace ringmta::tls::test;
using status = session::status;

namespace {

void check_established(const pair& p, std::string_view version) {
    REQUIRE(p.result.client == status::done);
    REQUIRE(p.result.server == status::done);
    CHECK(p.client->established());
    CHECK(p.server->established());
    CHECK(p.client->version() == version);
    CHECK(p.server->version() == version);
    CHECK(p.client->cipher() == p.server->cipher());
    CHECK(p.client->error_text().empty());
    CHECK(p.server->error_text().empty());
    CHECK_FALSE(p.client->wants_output());
}

}  // namespace

TEST_CASE("TLS 1.3 handshake with an ECDSA P-256 certificate") {
    const auto& k = test_pki();
    auto server_ctx = must_create(server_options(k.ec_cert, k.ec_key));
    auto client_ctx = must_create(client_options(verify_mode::none));
    auto p = connect(*client_ctx, *server_ctx, test_host);
    check_established(p, "TLSv1.3");
    CHECK(p.client->cipher().substr(0, 8) == "TLS_AES_");
    CHECK(p.result.rounds <= 2);  // 1-RTT: ClientHello, server flight, client Finished
    CHECK(p.server->server_name() == test_host);
    // X25519 is offered first (cheapest with Debian's build) and both sides use it.
    CHECK(p.client->key_exchange() == "X25519");
    CHECK(p.server->key_exchange() == "X25519");
    MESSAGE("TLS 1.3 ECDSA: " << p.client->cipher() << ", " << p.client->key_exchange());
}

TEST_CASE("TLS 1.3 handshake with an RSA 2048 certificate") {
    const auto& k = test_pki();
    auto server_ctx = must_create(server_options(k.rsa_cert, k.rsa_key));
    auto client_ctx = must_create(client_options(verify_mode::none));
    auto p = connect(*client_ctx, *server_ctx, test_host);
    check_established(p, "TLSv1.3");
    CHECK(p.client->cipher().substr(0, 8) == "TLS_AES_");
}

TEST_CASE("a TLS 1.2-only client gets TLS 1.2 with ECDHE-ECDSA") {
    const auto& k = test_pki();
    auto server_ctx = must_create(server_options(k.ec_cert, k.ec_key));
    auto options = client_options(verify_mode::none);
    options.tls12_only = true;
    auto client_ctx = must_create(options);
    auto p = connect(*client_ctx, *server_ctx, test_host);
    check_established(p, "TLSv1.2");
    CHECK(p.client->cipher().substr(0, 24) == "TLS_ECDHE_ECDSA_WITH_AES");
    CHECK(p.server->server_name() == test_host);
    CHECK(p.client->key_exchange() == "X25519");
    MESSAGE("TLS 1.2 ECDSA: " << p.client->cipher() << ", " << p.client->key_exchange());
}

TEST_CASE("a TLS 1.2-only server gets TLS 1.2 with ECDHE-RSA") {
    const auto& k = test_pki();
    auto options = server_options(k.rsa_cert, k.rsa_key);
    options.tls12_only = true;
    auto server_ctx = must_create(options);
    auto client_ctx = must_create(client_options(verify_mode::none));
    auto p = connect(*client_ctx, *server_ctx, test_host);
    check_established(p, "TLSv1.2");
    CHECK(p.client->cipher().substr(0, 22) == "TLS_ECDHE_RSA_WITH_AES");
}

TEST_CASE("a TLS 1.3-only client and a TLS 1.2-only server fail on both sides") {
    const auto& k = test_pki();
    auto server_opts = server_options(k.ec_cert, k.ec_key);
    server_opts.tls12_only = true;
    auto server_ctx = must_create(server_opts);
    auto client_opts = client_options(verify_mode::none);
    client_opts.tls13_only = true;
    auto client_ctx = must_create(client_opts);
    auto p = connect(*client_ctx, *server_ctx, test_host);
    CHECK(p.result.server == status::failed);
    CHECK(p.result.client == status::failed);
    CHECK_FALSE(p.server->error_text().empty());
    CHECK_FALSE(p.client->error_text().empty());
    CHECK(p.client->version().empty());
    MESSAGE("server: " << p.server->error_text());
    MESSAGE("client: " << p.client->error_text());
}

TEST_CASE("SNI: the server sees the name, none for an IP literal or an empty name") {
    const auto& k = test_pki();
    auto server_ctx = must_create(server_options(k.ec_cert, k.ec_key));
    auto client_ctx = must_create(client_options(verify_mode::none));
    for (const std::string_view name : {"mail.example.org", "192.0.2.25", "2001:db8::25", ""}) {
        CAPTURE(name);
        auto p = connect(*client_ctx, *server_ctx, name);
        REQUIRE(p.result.server == status::done);
        CHECK(p.client->server_name() == name);
        const bool host = name == "mail.example.org";
        CHECK(p.server->server_name() == (host ? name : ""));
    }
}
