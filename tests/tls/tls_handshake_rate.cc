// Full TLS handshakes per second on one core: a client and a server session in one
// thread, in memory, so the figure is both sides' CPU cost together (no network).
// Also splits the time into the server's share (ingress) and the client's
// (delivery). Rates use this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so a
// shared, busy machine skews them less than wall time would. Not a test: it prints
// figures and asserts nothing about speed.
// Usage: tls_handshake_rate [seconds_per_row]   (default 2)
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "test_pki.h"
#include "tls_pair.h"

using namespace ringmta::tls;
using namespace ringmta::tls::test;
// This thread's CPU time, as a std::chrono clock.
struct clock_type {
    using duration = std::chrono::nanoseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<clock_type>;
    static constexpr bool is_steady = true;
    static time_point now() {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
    }
};
using status = session::status;

namespace {

struct row_result {
    long handshakes = 0;
    double total_s = 0, server_s = 0, client_s = 0;
};

// Times one side's handshake() call after moving the other side's output to it.
status timed_step(session& from, session& to, double& side_s) {
    std::string wire;
    from.take_output(wire);
    const auto start = clock_type::now();
    to.put_input(wire);
    const status s = to.handshake();
    side_s += std::chrono::duration<double>(clock_type::now() - start).count();
    return s;
}

bool one_handshake(context& client_ctx, context& server_ctx, std::string_view name,
                   row_result& r) {
    auto start = clock_type::now();
    session client(client_ctx, name);
    status c = client.handshake();
    r.client_s += std::chrono::duration<double>(clock_type::now() - start).count();
    start = clock_type::now();
    session server(server_ctx, "");
    r.server_s += std::chrono::duration<double>(clock_type::now() - start).count();
    status s = status::want_input;
    for (int round = 0; round < 8 && !(c == status::done && s == status::done); ++round) {
        s = timed_step(client, server, r.server_s);
        c = timed_step(server, client, r.client_s);
        if (c == status::failed || s == status::failed) return false;
    }
    return c == status::done && s == status::done && client.version() == "TLSv1.3";
}

void run_row(const char* label, const context_options& server_o,
             const context_options& client_o, double seconds) {
    auto server_ctx = must_create(server_o);
    auto client_ctx = must_create(client_o);
    row_result r;
    const auto start = clock_type::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    while (clock_type::now() < end) {
        if (!one_handshake(*client_ctx, *server_ctx, test_host, r)) {
            std::fprintf(stderr, "%s: handshake failed\n", label);
            std::exit(1);
        }
        ++r.handshakes;
    }
    r.total_s = std::chrono::duration<double>(clock_type::now() - start).count();
    std::printf("%-40s %8.0f /s   server side %8.0f /s   client side %8.0f /s\n", label,
                r.handshakes / r.total_s, r.handshakes / r.server_s,
                r.handshakes / r.client_s);
}

}  // namespace

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
    const auto& k = test_pki();
    std::printf("TLS 1.3 full handshakes per second of one core's CPU time, client and\n"
                "server in one thread (%.1f CPU s per row); 'side' rates count only that\n"
                "side's CPU time (session set-up and handshake() calls)\n", seconds);
    auto client_none = client_options(verify_mode::none);
    client_none.tls13_only = true;
    run_row("ECDSA P-256, client verify none", server_options(k.ec_cert, k.ec_key),
            client_none, seconds);
    run_row("RSA 2048, client verify none", server_options(k.rsa_cert, k.rsa_key),
            client_none, seconds);
    auto client_verify = client_options(verify_mode::chain_and_name, k.ca_cert);
    client_verify.tls13_only = true;
    run_row("ECDSA P-256 CA-signed, chain_and_name", server_options(k.leaf_cert, k.leaf_key),
            client_verify, seconds);
    run_row("RSA 2048 CA-signed, chain_and_name",
            server_options(k.rsa_leaf_cert, k.rsa_leaf_key), client_verify, seconds);
    return 0;
}
