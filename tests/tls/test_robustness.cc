// Hostile and awkward input: random garbage and plaintext SMTP where a handshake is
// expected fail cleanly (no crash, no hang, bounded input); the server's first
// flight split at every byte boundary, or fed byte by byte, still completes; a
// corrupted or oversized record after the handshake fails the session.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "test_pki.h"
#include "tls_pair.h"

using namespace ringmta::tls;
using namespace ringmta::tls::test;
using status = session::status;

namespace {

struct contexts {
    std::unique_ptr<context> server = must_create(server_options(test_pki().ec_cert,
                                                                 test_pki().ec_key));
    std::unique_ptr<context> client = must_create(client_options(verify_mode::none));
};

// Feeds `input` to `s` in pieces of 1..piece_max, driving the handshake after each,
// until it fails; returns the status after the last piece.
status feed_handshake(session& s, std::string_view input, std::size_t piece_max, unsigned seed) {
    std::mt19937 rng(seed);
    status last = s.handshake();
    while (!input.empty() && last == status::want_input) {
        const std::size_t n = std::min<std::size_t>(input.size(), 1 + rng() % piece_max);
        REQUIRE(n <= s.input_room());
        s.put_input(input.substr(0, n));
        input.remove_prefix(n);
        last = s.handshake();
    }
    return last;
}

// The client's hello and the server's answer to it, from a fresh pair.
struct first_flight {
    std::unique_ptr<session> client;
    std::unique_ptr<session> server;
    std::string flight;  // the server's first flight (ServerHello .. Finished)
};

first_flight start(contexts& c) {
    first_flight f;
    f.client = std::make_unique<session>(*c.client, test_host);
    f.server = std::make_unique<session>(*c.server, "");
    REQUIRE(f.client->handshake() == status::want_input);
    std::string hello;
    f.client->take_output(hello);
    f.server->put_input(hello);
    REQUIRE(f.server->handshake() == status::want_input);
    f.server->take_output(f.flight);
    REQUIRE(!f.flight.empty());
    return f;
}

// Finishes the handshake after the client has the whole first flight.
void finish(first_flight& f) {
    std::string wire;
    f.client->take_output(wire);
    f.server->put_input(wire);
    REQUIRE(f.server->handshake() == status::done);
}

}  // namespace

TEST_CASE("garbage instead of a handshake fails both roles without hanging") {
    contexts c;
    for (unsigned seed = 1; seed <= 200; ++seed) {
        CAPTURE(seed);
        std::mt19937 rng(seed);
        std::string garbage(1 + rng() % 3000, '\0');
        for (auto& ch : garbage) ch = static_cast<char>(rng());
        if (seed % 2 == 0) garbage[0] = 0x16;  // a handshake record type, sometimes
        session server(*c.server, "");
        const status s = feed_handshake(server, garbage, 700, seed);
        // Either wolfSSL rejected it, or it is waiting for the rest of a record it
        // cannot have yet (a length beyond what we sent): never done, never stuck.
        CHECK(s != status::done);
        CHECK(server.input_room() > 0);
        session client(*c.client, test_host);
        CHECK(feed_handshake(client, garbage, 700, seed) != status::done);
    }
    session server(*c.server, "");
    CHECK(feed_handshake(server, "EHLO client.example\r\n", 100, 1) == status::failed);
    CHECK_FALSE(server.error_text().empty());
    MESSAGE("plaintext EHLO: " << server.error_text());
}

TEST_CASE("a record header announcing more than a record can hold fails at once") {
    contexts c;
    session server(*c.server, "");
    CHECK(feed_handshake(server, std::string("\x16\x03\x03\xff\xff", 5), 5, 1) ==
          status::failed);
    auto p = connect(*c.client, *c.server, test_host);
    REQUIRE(p.result.server == status::done);
    p.server->put_input(std::string("\x17\x03\x03\xff\xff", 5));
    std::string got;
    CHECK(p.server->read(got) == status::failed);
    MESSAGE("oversized record: " << p.server->error_text());
}

TEST_CASE("a corrupted record after the handshake fails the reader") {
    contexts c;
    auto p = connect(*c.client, *c.server, test_host);
    REQUIRE(p.result.server == status::done);
    REQUIRE(p.client->write("MAIL FROM:<a@example.org>\r\n") == status::done);
    std::string wire;
    p.client->take_output(wire);
    wire[wire.size() / 2] ^= 0x40;
    p.server->put_input(wire);
    std::string got;
    CHECK(p.server->read(got) == status::failed);
    CHECK(got.empty());
    CHECK_FALSE(p.server->error_text().empty());
    CHECK(p.server->read(got) == status::failed);  // stays failed
    CHECK(p.server->write("x") == status::failed);
    MESSAGE("corrupted record: " << p.server->error_text());
}

TEST_CASE("the server's first flight split at every byte boundary still completes") {
    contexts c;
    std::size_t size = start(c).flight.size();
    for (std::size_t cut = 0; cut <= size; ++cut) {
        CAPTURE(cut);
        first_flight f = start(c);
        size = f.flight.size();  // ECDSA signatures vary in length by a byte or two
        const std::size_t at = std::min(cut, size);
        f.client->put_input(std::string_view(f.flight).substr(0, at));
        const status first = f.client->handshake();
        REQUIRE(first == (at == size ? status::done : status::want_input));
        f.client->put_input(std::string_view(f.flight).substr(at));
        REQUIRE(f.client->handshake() == status::done);
        finish(f);
    }
    MESSAGE("server first flight: " << size << " bytes, every split point tried");
}

TEST_CASE("the server's first flight fed one byte at a time completes") {
    contexts c;
    first_flight f = start(c);
    for (std::size_t i = 0; i < f.flight.size(); ++i) {
        f.client->put_input(std::string_view(f.flight).substr(i, 1));
        const status s = f.client->handshake();
        REQUIRE(s == (i + 1 == f.flight.size() ? status::done : status::want_input));
    }
    finish(f);
    CHECK(f.client->established());
    CHECK(f.server->established());
}

TEST_CASE("input is bounded: the room shrinks with unread input and comes back") {
    contexts c;
    auto p = connect(*c.client, *c.server, test_host);
    REQUIRE(p.result.server == status::done);
    CHECK(p.server->input_room() == session::input_bytes_max);
    const std::string payload(200000, 'x');
    REQUIRE(p.client->write(payload) == status::done);
    std::string wire;
    p.client->take_output(wire);
    const std::size_t room = p.server->input_room();
    p.server->put_input(std::string_view(wire).substr(0, room));
    CHECK(p.server->input_room() == 0);
    std::string got;
    CHECK(p.server->read(got) == status::done);
    // Only a partial record can remain unread.
    CHECK(p.server->input_room() > session::input_bytes_max - session::record_bytes_max);
    CHECK(deliver(std::string_view(wire).substr(room), *p.server, got) == status::done);
    CHECK(got == payload);
}
