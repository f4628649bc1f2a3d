// Interoperability with another TLS stack: OpenSSL's s_server and s_client over
// loopback TCP (the test moves the bytes; the module stays sans I/O). Covers the
// HelloRetryRequest path (a server with P-256 only), TLS 1.2 with an RSA chain, and
// an OpenSSL client verifying our server's chain and name through SNI.
#include <doctest/doctest.h>

#include <unistd.h>

#include <string>

#include "socket_peer.h"
#include "test_pki.h"
#include "tls_pair.h"

using namespace ringmta::tls;
using namespace ringmta::tls::test;
using status = session::status;

namespace {

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

int port_of(const std::string& accept_line) {
    const auto colon = accept_line.rfind(':');
    return colon == std::string::npos ? -1 : std::atoi(accept_line.c_str() + colon + 1);
}

// Our client against `openssl s_server -www`: GET / and read the status page.
std::string fetch_from_s_server(const std::string& server_args, session& client) {
    child_process server("openssl s_server -accept 127.0.0.1:0 -naccept 1 -www " +
                         server_args);
    const int port = port_of(server.read_until("ACCEPT"));
    REQUIRE(port > 0);
    const int fd = connect_loopback(port);
    REQUIRE(fd >= 0);
    const status hs = handshake_over(client, fd);
    std::string page;
    if (hs == status::done) {
        CHECK(write_over(client, fd, "GET / HTTP/1.0\r\n\r\n"));
        read_over(client, fd, page, "</HTML>");
    }
    ::close(fd);
    CHECK_MESSAGE(hs == status::done, client.error_text());
    return page;
}

}  // namespace

TEST_CASE("our client and OpenSSL s_server: HelloRetryRequest to P-256, verified") {
    const auto& k = test_pki();
    auto ctx = must_create(client_options(verify_mode::chain_and_name, k.ca_cert));
    session client(*ctx, test_host);
    const std::string page = fetch_from_s_server(
        "-cert " + k.leaf_cert + " -key " + k.leaf_key + " -groups P-256", client);
    CHECK(client.version() == "TLSv1.3");
    CHECK(client.key_exchange() == "SECP256R1");
    CHECK(client.peer_verified());
    CHECK(contains(page, "HTTP/1.0 200 ok"));
    CHECK(contains(page, std::string(client.cipher())));
}

TEST_CASE("our client and OpenSSL s_server: TLS 1.2 with an RSA chain") {
    const auto& k = test_pki();
    auto ctx = must_create(client_options(verify_mode::chain_and_name, k.ca_cert));
    session client(*ctx, test_host);
    const std::string page = fetch_from_s_server(
        "-cert " + k.rsa_leaf_cert + " -key " + k.rsa_leaf_key + " -no_tls1_3", client);
    CHECK(client.version() == "TLSv1.2");
    CHECK(client.cipher().substr(0, 14) == "TLS_ECDHE_RSA_");
    CHECK(client.peer_verified());
    CHECK(contains(page, "HTTP/1.0 200 ok"));
}

TEST_CASE("OpenSSL s_client verifies our server's chain and name, data both ways") {
    const auto& k = test_pki();
    auto ctx = must_create(server_options(k.chain_cert, k.chain_key));
    int port = 0;
    const int listen_fd = listen_loopback(port);
    REQUIRE(listen_fd >= 0);
    // stdin stays open a moment so s_client reads our answer before it quits.
    child_process client("sh -c \"(printf 'EHLO openssl\\n'; sleep 2) | openssl s_client "
                         "-connect 127.0.0.1:" + std::to_string(port) +
                         " -servername " + test_host + " -verify_hostname " + test_host +
                         " -CAfile " + k.ca_cert + " -verify_return_error -brief\"");
    const int fd = accept_one(listen_fd, 10000);
    ::close(listen_fd);
    REQUIRE(fd >= 0);
    session server(*ctx, "");
    const status hs = handshake_over(server, fd);
    CHECK_MESSAGE(hs == status::done, server.error_text());
    std::string got;
    if (hs == status::done) {
        CHECK(read_over(server, fd, got, "\n") == status::done);
        CHECK(write_over(server, fd, "250 hello openssl\n"));
        server.shutdown();
        CHECK(flush_over(server, fd));  // the close_notify
    }
    ::close(fd);
    const std::string out = client.read_rest();
    CHECK(got == "EHLO openssl\n");
    CHECK(server.server_name() == test_host);
    CHECK(contains(out, "Verification: OK"));
    CHECK(contains(out, "Protocol version: TLSv1.3"));
    CHECK(contains(out, "250 hello openssl"));
    MESSAGE("s_client said:\n" << out);
}
