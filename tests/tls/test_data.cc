// Application data after the handshake: byte-exact both ways for small messages, a
// 1 MiB payload written in uneven pieces and delivered in uneven pieces, 1-byte
// writes delivered one ciphertext byte at a time, and close_notify: the peer's read
// reports closed after the data sent before it.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "test_pki.h"
#include "tls_pair.h"

using namespace ringmta::tls;
using namespace ringmta::tls::test;
using status = session::status;

namespace {

struct fixture {
    std::unique_ptr<context> server_ctx;
    std::unique_ptr<context> client_ctx;
    pair p;

    explicit fixture(bool tls12 = false) {
        const auto& k = test_pki();
        auto server = server_options(k.ec_cert, k.ec_key);
        server.tls12_only = tls12;
        server_ctx = must_create(server);
        client_ctx = must_create(client_options(verify_mode::none));
        p = connect(*client_ctx, *server_ctx, test_host);
        REQUIRE(p.result.client == status::done);
        REQUIRE(p.result.server == status::done);
    }
};

std::string random_bytes(std::size_t size, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(size, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
}

// Writes `data` from `from` in pieces of 1..piece_max bytes, moving the ciphertext
// to `to` in pieces of 1..wire_max bytes; returns what `to` decrypted.
std::string send_in_pieces(session& from, session& to, std::string_view data,
                           std::size_t piece_max, std::size_t wire_max, unsigned seed) {
    std::mt19937 rng(seed);
    std::string received;
    while (!data.empty()) {
        const std::size_t n = std::min<std::size_t>(data.size(), 1 + rng() % piece_max);
        REQUIRE(from.write(data.substr(0, n)) == status::done);
        data.remove_prefix(n);
        std::string wire;
        from.take_output(wire);
        std::string_view rest = wire;
        while (!rest.empty()) {
            const std::size_t piece = std::min<std::size_t>(rest.size(), 1 + rng() % wire_max);
            const status s = deliver(rest.substr(0, piece), to, received, piece);
            REQUIRE((s == status::done || s == status::want_input));
            rest.remove_prefix(piece);
        }
    }
    return received;
}

}  // namespace

TEST_CASE("small messages cross byte-exact both ways, TLS 1.3 and TLS 1.2") {
    for (const bool tls12 : {false, true}) {
        CAPTURE(tls12);
        fixture f(tls12);
        session& client = *f.p.client;
        session& server = *f.p.server;
        std::string got;
        CHECK(client.read(got) == status::want_input);  // nothing yet
        REQUIRE(client.write("EHLO client.example\r\n") == status::done);
        CHECK(client.wants_output());
        CHECK(pump(client, server, got) == status::done);
        CHECK(got == "EHLO client.example\r\n");
        got.clear();
        constexpr char raw[] = "\0\r\n.\xff\x80 250 ok\r\n";
        const std::string binary(raw, sizeof raw - 1);
        REQUIRE(server.write(binary) == status::done);
        CHECK(pump(server, client, got) == status::done);
        CHECK(got == binary);
    }
}

TEST_CASE("1 MiB crosses byte-exact in uneven pieces, each way") {
    fixture f;
    const std::string payload = random_bytes(1 << 20, 7);
    CHECK(send_in_pieces(*f.p.client, *f.p.server, payload, 70000, 40000, 1) == payload);
    CHECK(send_in_pieces(*f.p.server, *f.p.client, payload, 9000, 3000, 2) == payload);
    // One write of the whole MiB: 64 records, delivered within the input bound.
    REQUIRE(f.p.client->write(payload) == status::done);
    CHECK(f.p.client->output_bytes() > payload.size());
    std::string got;
    CHECK(pump(*f.p.client, *f.p.server, got, 65536) == status::done);
    CHECK(got == payload);
}

TEST_CASE("1-byte writes delivered one ciphertext byte at a time stay byte-exact") {
    fixture f;
    const std::string payload = random_bytes(3000, 11);
    CHECK(send_in_pieces(*f.p.client, *f.p.server, payload, 1, 1, 3) == payload);
    CHECK(send_in_pieces(*f.p.server, *f.p.client, payload, 1, 1, 4) == payload);
}

TEST_CASE("shutdown sends close_notify: the peer reads the data, then closed") {
    fixture f;
    session& client = *f.p.client;
    session& server = *f.p.server;
    REQUIRE(client.write("QUIT\r\n") == status::done);
    client.shutdown();
    client.shutdown();  // once only
    std::string wire;
    client.take_output(wire);
    REQUIRE(server.input_room() >= wire.size());
    server.put_input(wire);
    std::string got;
    CHECK(server.read(got) == status::closed);
    CHECK(got == "QUIT\r\n");
    CHECK(server.read(got) == status::closed);
    CHECK(server.write("late") == status::closed);
    // The server answers with its own close_notify; the client sees closed too.
    server.shutdown();
    REQUIRE(server.wants_output());
    got.clear();
    CHECK(pump(server, client, got) == status::closed);
    CHECK(got.empty());
}
