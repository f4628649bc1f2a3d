// Internal to delivery: a destination's pool and its client connections.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ringmta/delivery/engine.h"
#include "ringmta/smtp/capabilities.h"
#include "ringmta/smtp/reply.h"

namespace ringmta::delivery {

struct engine::connection {
    int fd = -1;
    std::string next_hop;            // "127.0.0.2:2626"
    std::string buffer;              // received, not yet parsed
    smtp::reply_parser parser;
    smtp::capabilities caps;
    runtime::notifier work;          // woken when a job is waiting or on quit
    bool quit = false;
    std::uint64_t idle_since_ms = 0;
};

struct engine::pool {
    std::string key;                          // the route's domain key
    const config::route* route = nullptr;
    queue::destination* dest = nullptr;
    unsigned connections_max = 1;             // this shard's share
    unsigned connections = 0;                 // alive
    unsigned starting = 0;                    // spawned, no job taken yet
    unsigned next_hop_turn = 0;               // spreads connections over next hops
    std::vector<connection*> idle;            // waiting for a job
    std::uint64_t dead_until_ms = 0;          // all next hops failed: pause new connections
};

// Where an outcome happened, for the accounting log and DSNs.
struct engine::outcome_context {
    std::string_view next_hop;
    std::uint64_t now_unix_ms = 0;
};

runtime::task<void> run_connection(engine* e, engine::pool* p);
// Reads one complete reply from the connection (buffered); 0 or -errno / -EPROTO.
runtime::task<int> read_reply(engine::connection* c, smtp::reply* out, std::uint64_t timeout_ms);
runtime::task<bool> open_connection(engine::pool* p, engine::connection* c,
                                    const config::delivery_config* d, std::string ehlo,
                                    smtp::reply* why);

}  // namespace ringmta::delivery
