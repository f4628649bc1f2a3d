// A client and a server session talking through memory, for the tls tests and the
// handshake-rate program: contexts from options, a bounded handshake pump, and
// helpers that move ciphertext into a session without overrunning its input bound.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "ringmta/tls/context.h"
#include "ringmta/tls/session.h"

namespace ringmta::tls::test {

// Server options with the given chain and key; client options with a policy.
context_options server_options(const std::string& cert, const std::string& key);
context_options client_options(verify_mode verify, const std::string& ca_file = "");

// Builds a context or aborts the test program with its error (for set-up only).
std::unique_ptr<context> must_create(const context_options& options);

struct handshake_result {
    session::status client = session::status::want_input;
    session::status server = session::status::want_input;
    int rounds = 0;
};

// Drives both sides and moves every output across until both are done, one fails
// (its alert is still delivered to the other), or rounds_max exchanges passed.
handshake_result run_handshake(session& client, session& server, int rounds_max = 16);

// Puts `ciphertext` into `to` in pieces of at most piece_bytes (and never more than
// its input room), reading after each piece into `plaintext`. Returns the last read
// status: done / want_input while all is well, closed or failed otherwise.
session::status deliver(std::string_view ciphertext, session& to, std::string& plaintext,
                        std::size_t piece_bytes = 16384);

// Takes `from`'s output and delivers it to `to` (see deliver).
session::status pump(session& from, session& to, std::string& plaintext,
                     std::size_t piece_bytes = 16384);

// A connected pair over the given contexts (handshake already done, asserted by caller).
struct pair {
    std::unique_ptr<session> client;
    std::unique_ptr<session> server;
    handshake_result result;
};
pair connect(context& client_ctx, context& server_ctx, std::string_view name);

}  // namespace ringmta::tls::test
