// Client-side certificate policies against real chains: chain_and_name with the
// right CA and name (also through an intermediate), and clear failures for a wrong
// name, an unknown CA and an expired certificate (the server sees the alert);
// chain without a name check; opportunistic none with self-signed certificates.
#include <doctest/doctest.h>

#include <string>

#include "test_pki.h"
#include "tls_pair.h"

using namespace ringmta::tls;
using namespace ringmta::tls::test;
using status = session::status;

namespace {

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

pair connect_with(const std::string& cert, const std::string& key, verify_mode verify,
                  const std::string& ca, std::string_view name) {
    auto server_ctx = must_create(server_options(cert, key));
    auto client_ctx = must_create(client_options(verify, ca));
    // Sessions keep their wolfSSL_CTX alive: the context objects may go first.
    return connect(*client_ctx, *server_ctx, name);
}

void check_rejected(const pair& p, std::string_view reason) {
    CHECK(p.result.client == status::failed);
    CHECK(p.result.server == status::failed);
    CHECK_FALSE(p.client->established());
    CHECK_FALSE(p.client->peer_verified());
    CHECK(contains(p.client->error_text(), "certificate verify failed"));
    CHECK(contains(p.client->error_text(), reason));
    // The client told the server why with a fatal alert.
    CHECK(contains(p.server->error_text(), "peer sent alert"));
    MESSAGE("client: " << p.client->error_text());
    MESSAGE("server: " << p.server->error_text());
}

}  // namespace

TEST_CASE("chain_and_name accepts a CA-signed certificate for the expected name") {
    const auto& k = test_pki();
    auto p = connect_with(k.leaf_cert, k.leaf_key, verify_mode::chain_and_name, k.ca_cert,
                          test_host);
    REQUIRE(p.result.client == status::done);
    REQUIRE(p.result.server == status::done);
    CHECK(p.client->peer_verified());
    CHECK_FALSE(p.server->peer_verified());  // a server asks no client certificate
    auto rsa = connect_with(k.rsa_leaf_cert, k.rsa_leaf_key, verify_mode::chain_and_name,
                            k.ca_cert, test_host);
    REQUIRE(rsa.result.client == status::done);
    CHECK(rsa.client->peer_verified());
}

TEST_CASE("chain_and_name accepts a chain sent with its intermediate") {
    const auto& k = test_pki();
    auto p = connect_with(k.chain_cert, k.chain_key, verify_mode::chain_and_name, k.ca_cert,
                          test_host);
    REQUIRE(p.result.client == status::done);
    CHECK(p.client->peer_verified());
}

TEST_CASE("chain_and_name rejects a trusted certificate for another name") {
    const auto& k = test_pki();
    auto p = connect_with(k.leaf_cert, k.leaf_key, verify_mode::chain_and_name, k.ca_cert,
                          "mx.other.example");
    check_rejected(p, "domain name mismatch");
    CHECK(contains(p.client->error_text(), "mx.other.example"));
}

TEST_CASE("chain and chain_and_name reject a certificate from an unknown CA") {
    const auto& k = test_pki();
    for (const auto mode : {verify_mode::chain, verify_mode::chain_and_name}) {
        auto p = connect_with(k.leaf_cert, k.leaf_key, mode, k.other_ca_cert, test_host);
        check_rejected(p, "unknown CA");
        auto self = connect_with(k.ec_cert, k.ec_key, mode, k.ca_cert, test_host);
        check_rejected(self, "certificate verify failed");
    }
}

TEST_CASE("chain_and_name rejects an expired certificate") {
    const auto& k = test_pki();
    auto p = connect_with(k.expired_cert, k.expired_key, verify_mode::chain_and_name,
                          k.ca_cert, test_host);
    check_rejected(p, "certificate expired");
}

TEST_CASE("chain checks the chain but not the name") {
    const auto& k = test_pki();
    auto p = connect_with(k.leaf_cert, k.leaf_key, verify_mode::chain, k.ca_cert,
                          "mx.other.example");
    REQUIRE(p.result.client == status::done);
    CHECK(p.client->peer_verified());
}

TEST_CASE("none (opportunistic) accepts self-signed, wrong-name and expired certificates") {
    const auto& k = test_pki();
    auto wrong = connect_with(k.wrong_cert, k.wrong_key, verify_mode::none, "", test_host);
    REQUIRE(wrong.result.client == status::done);
    REQUIRE(wrong.result.server == status::done);
    CHECK_FALSE(wrong.client->peer_verified());
    auto expired = connect_with(k.expired_cert, k.expired_key, verify_mode::none, k.ca_cert,
                                test_host);
    REQUIRE(expired.result.client == status::done);
    CHECK_FALSE(expired.client->peer_verified());
    // With a CA bundle given, none still reports a chain that verifies.
    auto good = connect_with(k.leaf_cert, k.leaf_key, verify_mode::none, k.ca_cert, test_host);
    REQUIRE(good.result.client == status::done);
    CHECK(good.client->peer_verified());
}

TEST_CASE("chain_and_name without a name fails at once, before any byte is sent") {
    const auto& k = test_pki();
    auto client_ctx = must_create(client_options(verify_mode::chain_and_name, k.ca_cert));
    session client(*client_ctx, "");
    CHECK(client.handshake() == status::failed);
    CHECK(contains(client.error_text(), "needs the expected peer name"));
    CHECK_FALSE(client.wants_output());
}
