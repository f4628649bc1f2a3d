// In-memory client/server plumbing for the tls tests; see tls_pair.h.
#include "tls_pair.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace ringmta::tls::test {

context_options server_options(const std::string& cert, const std::string& key) {
    context_options o;
    o.side = role::server;
    o.cert_file = cert;
    o.key_file = key;
    return o;
}

context_options client_options(verify_mode verify, const std::string& ca_file) {
    context_options o;
    o.side = role::client;
    o.verify = verify;
    o.ca_file = ca_file;
    return o;
}

std::unique_ptr<context> must_create(const context_options& options) {
    std::string error;
    auto ctx = context::create(options, error);
    if (!ctx) {
        std::fprintf(stderr, "tls test: context::create failed: %s\n", error.c_str());
        std::exit(1);
    }
    return ctx;
}

session::status deliver(std::string_view ciphertext, session& to, std::string& plaintext,
                        std::size_t piece_bytes) {
    session::status last = session::status::want_input;
    while (!ciphertext.empty()) {
        const std::size_t n = std::min({piece_bytes, ciphertext.size(), to.input_room()});
        to.put_input(ciphertext.substr(0, n));
        ciphertext.remove_prefix(n);
        last = to.established() ? to.read(plaintext) : to.handshake();
        if (last == session::status::failed || last == session::status::closed) return last;
    }
    return last;
}

session::status pump(session& from, session& to, std::string& plaintext,
                     std::size_t piece_bytes) {
    std::string wire;
    from.take_output(wire);
    return deliver(wire, to, plaintext, piece_bytes);
}

namespace {

bool finished(session::status s) { return s != session::status::want_input; }

// Moves one side's output to the other and drives the receiver's handshake.
session::status move_and_drive(session& from, session& to) {
    std::string wire;
    from.take_output(wire);
    if (!wire.empty()) {
        const std::size_t n = std::min(wire.size(), to.input_room());
        to.put_input(std::string_view(wire).substr(0, n));
    }
    return to.handshake();
}

}  // namespace

handshake_result run_handshake(session& client, session& server, int rounds_max) {
    handshake_result r;
    r.client = client.handshake();
    for (r.rounds = 1; r.rounds <= rounds_max; ++r.rounds) {
        r.server = move_and_drive(client, server);
        r.client = move_and_drive(server, client);
        const bool failed = r.client == session::status::failed ||
                            r.server == session::status::failed;
        if ((finished(r.client) && finished(r.server)) || failed) {
            // Deliver a pending alert so the other side sees why.
            if (failed) {
                r.server = move_and_drive(client, server);
                r.client = move_and_drive(server, client);
            }
            break;
        }
    }
    return r;
}

pair connect(context& client_ctx, context& server_ctx, std::string_view name) {
    pair p;
    p.client = std::make_unique<session>(client_ctx, name);
    p.server = std::make_unique<session>(server_ctx, "");
    p.result = run_handshake(*p.client, *p.server);
    return p;
}

}  // namespace ringmta::tls::test
