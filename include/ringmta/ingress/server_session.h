// Ingress: listeners and SMTP server sessions on one shard (DESIGN.md, ingress).
//
// One coroutine per connection drives smtp::server_protocol: it reads with the
// idle timeout, feeds the protocol, and answers pipelined commands in one send.
// When a message is complete it is appended to the shard's journal and the 250
// is sent only after durable() reports the covering fdatasync complete
// (invariant 1). Relay policy: recipients are accepted only from clients inside
// relay_networks or after a successful AUTH (invariant 4); others get 554 5.7.1
// at RCPT.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include "ringmta/config/config.h"
#include "ringmta/ingress/auth_verifier.h"
#include "ringmta/ingress/client_limits.h"
#include "ringmta/journal/id_generator.h"
#include "ringmta/journal/journal.h"
#include "ringmta/queue/scheduler.h"
#include "ringmta/runtime/acceptor.h"
#include "ringmta/runtime/buffer_ring.h"
#include "ringmta/runtime/task.h"
#include "ringmta/smtp/server_protocol.h"
#include "ringmta/tls/context.h"

namespace ringmta::ingress {

struct ingress_stats {
    std::uint64_t connections = 0;
    std::uint64_t messages = 0;
    std::uint64_t recipients = 0;
    std::uint64_t bytes = 0;
    std::uint64_t relay_denied = 0;
    std::uint64_t auth_succeeded = 0;
    std::uint64_t auth_failed = 0;
    std::uint64_t refused_per_ip = 0;   // max_connections_per_ip or connection_rate_per_ip
};

// What one shard's ingress needs; owned by the shard, outlives every session.
struct ingress_context {
    const config::config* cfg = nullptr;
    smtp::server_settings settings;
    journal::journal* log = nullptr;
    journal::id_generator* ids = nullptr;
    tls::context* tls = nullptr;         // STARTTLS offered when set (tls_cert_file/key)
    auth_verifier* auth = nullptr;       // AUTH offered when set (auth_users_file)
    // A wrong password is answered after this pause (a timer on the ring), which
    // slows guessing on one connection down to one try per pause.
    std::uint64_t auth_failure_delay_ms = 1000;
    unsigned shard = 0;
    // Hands a durable message to delivery (same shard).
    std::function<void(queue::message_ptr, queue::content_ptr)> accepted;
    ingress_stats stats;
    std::unordered_set<int> sessions;    // open session sockets, for shutdown
    std::size_t sessions_max = 10000;    // this shard's share of ingress.max_connections
    // This shard's share of max_connections_per_ip / connection_rate_per_ip; clients
    // in relay_networks are exempt. Null: no per-client limits.
    std::unique_ptr<client_limits> limits;
    // Plaintext receive buffers (io_uring provided buffers, group 1 of this shard's
    // ring), made by the first run_listener; null where the kernel lacks them.
    std::unique_ptr<runtime::buffer_ring> receive_buffers;
    bool receive_buffers_tried = false;
    bool stopping = false;
};

// Accepts connections on `listener` until it is stopped, one session each.
runtime::task<void> run_listener(ingress_context* ctx, runtime::acceptor* listener);
// `limited`: the connection was admitted by ctx->limits (released at the end).
runtime::task<void> serve_session(ingress_context* ctx, int fd, bool limited);
// The share of a per-process limit that one of `shards` shards enforces: the limit
// divided by the shards, rounded up (0 stays 0: no limit).
unsigned shard_share(unsigned limit, unsigned shards);
std::unique_ptr<client_limits> make_client_limits(const config::ingress_config& ingress,
                                                  unsigned shards);
// Ends every session at its next read (shutdown(SHUT_RD)): sessions then close.
void end_sessions(ingress_context* ctx);

}  // namespace ringmta::ingress
