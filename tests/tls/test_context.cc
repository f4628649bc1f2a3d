// context::create: errors name the file and the reason (missing, not PEM, key not
// matching the certificate, missing CA bundle), bad option combinations are
// refused, and sessions outlive the context they came from (reload).
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

std::string create_error(const context_options& options) {
    std::string error;
    auto ctx = context::create(options, error);
    CHECK(ctx == nullptr);
    CHECK_FALSE(error.empty());
    MESSAGE(error);
    return error;
}

}  // namespace

TEST_CASE("a missing certificate or key file is named with the system's reason") {
    const auto& k = test_pki();
    const std::string missing = k.dir + "/no-such-cert.pem";
    std::string error = create_error(server_options(missing, k.ec_key));
    CHECK(contains(error, "cert_file '" + missing + "'"));
    CHECK(contains(error, "No such file or directory"));
    error = create_error(server_options(k.ec_cert, k.dir + "/no-such-key.pem"));
    CHECK(contains(error, "key_file '" + k.dir + "/no-such-key.pem'"));
    CHECK(contains(error, "No such file or directory"));
}

TEST_CASE("a key that does not belong to the certificate is refused, naming both files") {
    const auto& k = test_pki();
    for (const auto& key : {k.rsa_key, k.leaf_key, k.wrong_key}) {  // RSA, then P-256 keys
        const std::string error = create_error(server_options(k.ec_cert, key));
        CHECK(contains(error, "key_file '" + key + "'"));
        CHECK(contains(error, k.ec_cert));
    }
}

TEST_CASE("files that are not PEM certificates or keys are named") {
    const auto& k = test_pki();
    const std::string junk = write_test_file("junk.pem", "this is not a certificate\n");
    const std::string empty = write_test_file("empty.pem", "");
    std::string error = create_error(server_options(junk, k.ec_key));
    CHECK(contains(error, "cert_file '" + junk + "'"));
    error = create_error(server_options(empty, k.ec_key));
    CHECK(contains(error, "empty file"));
    error = create_error(server_options(k.ec_cert, k.ec_cert));  // a certificate as the key
    CHECK(contains(error, "key_file '" + k.ec_cert + "'"));
    error = create_error(client_options(verify_mode::chain, junk));
    CHECK(contains(error, "ca_file '" + junk + "'"));
    error = create_error(client_options(verify_mode::chain, k.dir + "/no-ca.pem"));
    CHECK(contains(error, "ca_file '" + k.dir + "/no-ca.pem'"));
}

TEST_CASE("option combinations that cannot work are refused") {
    const auto& k = test_pki();
    CHECK(contains(create_error(server_options("", "")), "needs cert_file and key_file"));
    auto both = client_options(verify_mode::none);
    both.tls12_only = both.tls13_only = true;
    CHECK(contains(create_error(both), "both set"));
    auto half = client_options(verify_mode::none);
    half.cert_file = k.ec_cert;
    CHECK(contains(create_error(half), "without key_file"));
}

TEST_CASE("client contexts: system CA bundle by default, client certificate optional") {
    const auto& k = test_pki();
    std::string error;
    auto none = context::create(client_options(verify_mode::none), error);
    REQUIRE(none != nullptr);
    CHECK_FALSE(none->has_trust_anchors());
    auto system = context::create(client_options(verify_mode::chain_and_name), error);
    if (system == nullptr) {
        // Only where the ca-certificates package is missing; the error says so.
        CHECK(contains(error, std::string(system_ca_file)));
    } else {
        CHECK(system->has_trust_anchors());
        CHECK(system->verify() == verify_mode::chain_and_name);
    }
    auto with_cert = client_options(verify_mode::chain, k.ca_cert);
    with_cert.cert_file = k.rsa_cert;
    with_cert.key_file = k.rsa_key;
    auto ctx = context::create(with_cert, error);
    CHECK(ctx != nullptr);
    CHECK(error.empty());
    with_cert.cert_file = k.ec_cert;
    with_cert.key_file = k.leaf_key;  // P-256 too, but another key
    error = create_error(with_cert);
    CHECK(contains(error, "key_file '" + k.leaf_key + "' does not match"));
}

TEST_CASE("sessions outlive their context: a reload replaces it under live sessions") {
    const auto& k = test_pki();
    auto server_ctx = must_create(server_options(k.ec_cert, k.ec_key));
    auto client_ctx = must_create(client_options(verify_mode::none));
    auto p = connect(*client_ctx, *server_ctx, test_host);
    REQUIRE(p.result.server == status::done);
    server_ctx = must_create(server_options(k.rsa_cert, k.rsa_key));  // the reload
    client_ctx.reset();
    REQUIRE(p.client->write("still here") == status::done);
    std::string got;
    CHECK(pump(*p.client, *p.server, got) == status::done);
    CHECK(got == "still here");
}

TEST_CASE("an RSA key of another RSA certificate is refused") {
    const auto& k = test_pki();
    const std::string error = create_error(server_options(k.rsa_cert, k.rsa_leaf_key));
    CHECK(contains(error, "key_file '" + k.rsa_leaf_key + "'"));
}
