// Internal to delivery: a destination's pool, its client connections, and the
// connection's transport (plain, or TLS after STARTTLS).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ringmta/delivery/engine.h"
#include "ringmta/observe/metrics.h"
#include "ringmta/runtime/net.h"
#include "ringmta/smtp/capabilities.h"
#include "ringmta/smtp/reply.h"
#include "ringmta/tls/session.h"

namespace ringmta::delivery {

// One address to try: a static route's next hop, or an exchanger's address.
struct candidate {
    runtime::socket_address address;
    std::string exchanger;   // the MX host name; "" for a static next hop
    std::string text;        // "192.0.2.1:25", for logs and the accounting log
};

struct engine::connection {
    int fd = -1;
    std::string exchanger;           // the MX host name, or the next hop for a static route
    std::string next_hop;            // "127.0.0.2:2626"
    std::string buffer;              // plaintext received, not yet parsed
    std::unique_ptr<char[]> receive; // socket reads land here
    std::unique_ptr<tls::session> tls;   // after STARTTLS
    std::uint64_t timeout_ms = 0;    // for the reads and writes of the step under way
    smtp::reply_parser parser;
    smtp::capabilities caps;
    runtime::notifier work;          // woken when a job is waiting or on quit
    bool quit = false;
    std::uint64_t idle_since_ms = 0;
    // Jobs the connection takes when woken: more than one when it pipelines
    // several transactions in one write (transaction.cc, batch_jobs_max).
    unsigned takes = 1;

    static constexpr std::size_t receive_bytes = 16 * 1024;
};

struct engine::pool {
    std::string key;                          // the route's domain key, or the mail domain
    const config::route* route = nullptr;     // nullptr: deliver by MX
    config::tls_policy tls = config::tls_policy::opportunistic;
    queue::destination* dest = nullptr;
    // The global budget the pool draws on (budget_table.h), or nullptr: then
    // connections_max is this shard's share of delivery.max_connections.
    // Qualified: a member may not change the meaning of the type name in its class.
    delivery::budget* budget = nullptr;
    // Every budget it draws on, in the order an attempt takes them: `budget`,
    // then source budgets (budget_table::join). Empty: no budget at all.
    std::vector<delivery::budget*> budgets;
    std::uint64_t daily_waiting = 0;          // recipients waiting for a daily block
    // Routed by MX while a group has mx patterns: the budget waits for the
    // exchangers' names (group_decided), before the first connection.
    bool group_pending = false;
    bool group_resolving = false;
    unsigned connections_max = 1;             // this shard's share
    unsigned recipients_max = 0;              // RCPTs per transaction (0: the job's all)
    unsigned connections = 0;                 // alive
    unsigned starting = 0;                    // spawned, no job taken yet
    unsigned next_hop_turn = 0;               // spreads connections over static next hops
    std::vector<connection*> idle;            // waiting for a job
    std::uint64_t dead_until_ms = 0;          // every candidate failed: pause new connections

    // What the operator sees (admin.cc): the name in /queue and the metrics'
    // "domain" label (the budget's key, else the pool's key), recipients taken
    // by connections and not yet settled, the last failure, and the operator's
    // suspension (unix ms; suspended_forever: until resumed).
    std::string label;
    std::uint64_t in_flight = 0;
    std::string last_error;
    std::uint64_t last_error_unix_ms = 0;
    std::uint64_t suspended_until_unix_ms = 0;
    static constexpr std::uint64_t suspended_forever = ~std::uint64_t{0};
    bool suspended(std::uint64_t now_unix_ms) const { return suspended_until_unix_ms > now_unix_ms; }
    // The label's series, made with the pool (shared by pools of one label).
    observe::counter* delivered = nullptr;
    observe::counter* deferred = nullptr;
    observe::counter* bounced = nullptr;
    observe::counter* connections_opened = nullptr;
    observe::gauge* queued_gauge = nullptr;
    observe::gauge* in_flight_gauge = nullptr;
    observe::gauge* connections_gauge = nullptr;
    observe::gauge* suspended_gauge = nullptr;   // set by the label's owner shard only
};

// Where an outcome happened, for the accounting log and DSNs.
struct engine::outcome_context {
    std::string_view exchanger;     // MX host name / static next hop; "" if none
    std::string_view next_hop;      // "ip:port" of the connection; "" if none
    std::uint64_t now_unix_ms = 0;
    std::string_view tls_version, tls_cipher;
    bool peer_dsn = false;          // the next hop offered DSN (RFC 3461): it reports
    // The pool whose job this is, for its counters; in_flight: the job was taken
    // by a connection (not so for an operator's bounce of queued mail).
    engine::pool* from = nullptr;
    bool in_flight = true;
};

runtime::task<void> run_connection(engine* e, engine::pool* p);

// The connection's byte stream, plaintext or through TLS: 0 or -errno (-EPROTO
// for a TLS failure or a malformed reply, -ETIMEDOUT after c->timeout_ms).
runtime::task<int> read_reply(engine::connection* c, smtp::reply* out);
runtime::task<int> send_plain(engine::connection* c, std::string_view data);
// `head` then `tail` as one write (one sendmsg, or one run of TLS records).
runtime::task<int> send_plain(engine::connection* c, std::string_view head,
                              std::string_view tail);
// `pieces` in order as one write (sendmsg of them all, or one run of TLS records):
// several pipelined transactions' commands and contents. The caller keeps the
// pieces alive until the task ends.
runtime::task<int> send_pieces(engine::connection* c, std::span<const std::string_view> pieces);
// The client side of a TLS handshake on the connection: "" or why it failed.
runtime::task<std::string> start_tls(engine::connection* c, tls::context* ctx,
                                     std::string peer_name);

// Where to deliver the pool's mail: static next hops, or the domain's exchangers
// from DNS. An empty list comes with `*why`: a 5xx reply (bounce: null MX,
// NXDOMAIN, ...) or a 4xx one (defer: DNS failure, every exchanger down).
// Whether the pool's budget is decided; a pending one starts its MX lookup
// (once), after which budget_table::regroup may move the pool into a group.
bool group_decided(engine* e, engine::pool* p);

runtime::task<std::vector<candidate>> find_candidates(engine* e, engine::pool* p,
                                                      smtp::reply* why);
// Connects to the first candidate that greets, says EHLO (HELO fallback) and
// negotiates STARTTLS by the pool's policy, trying the next candidate after a
// connection failure, a 421 or a TLS refusal. On failure `*why` says why.
runtime::task<bool> open_connection(engine* e, engine::pool* p, engine::connection* c,
                                    std::vector<candidate> candidates, smtp::reply* why);

}  // namespace ringmta::delivery
