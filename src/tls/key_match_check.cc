// The self-test handshake of a server context; see key_match_check.h.
#include "key_match_check.h"

#include <algorithm>

#include "ringmta/tls/session.h"

namespace ringmta::tls {

namespace {

using status = session::status;

// A 1-RTT handshake needs 2 exchanges; a few more cover TLS 1.2 and HelloRetryRequest.
constexpr int self_test_rounds_max = 8;

// Moves `from`'s output into `to` within its input bound, driving `to` as it goes.
status move_and_drive(session& from, session& to) {
    std::string wire;
    from.take_output(wire);
    std::string_view rest = wire;
    status s = to.handshake();
    while (!rest.empty() && s == status::want_input) {
        const std::size_t n = std::min(rest.size(), to.input_room());
        to.put_input(rest.substr(0, n));
        rest.remove_prefix(n);
        s = to.handshake();
    }
    return s;
}

}  // namespace

bool key_matches_certificate(context& server_ctx, std::string& reason) {
    context_options options;
    options.side = role::client;
    options.verify = verify_mode::none;  // only the key's signature is under test
    auto client_ctx = context::create(options, reason);
    if (!client_ctx) return false;
    session client(*client_ctx, "");
    session server(server_ctx, "");
    status client_status = client.handshake();
    status server_status = status::want_input;
    for (int round = 0; round < self_test_rounds_max; ++round) {
        server_status = move_and_drive(client, server);
        client_status = move_and_drive(server, client);
        if (client_status == status::done && server_status == status::done) return true;
        if (client_status == status::failed || server_status == status::failed) break;
    }
    reason = !client.error_text().empty()   ? std::string(client.error_text())
             : !server.error_text().empty() ? std::string(server.error_text())
                                            : "the test handshake did not complete";
    return false;
}

}  // namespace ringmta::tls
