// Per-destination and per-source sending limits as ringmta.toml gives them
// ([domains."x"], [groups."name"], [sources."ip"] and the nested
// [domains."x".sources."ip"] / [groups."name".sources."ip"] tables). Plain values;
// the queue module's throttles enforce them (include/ringmta/queue/throttle.h).
//
// Every budget an attempt draws on must allow it: the destination's (a domain, or
// the group it belongs to), the source address's, and the destination-and-source
// pair's. 0 (or an unlimited rate) means "no limit" everywhere except a
// destination's max_connections, max_messages_per_connection and
// max_recipients_per_message, where 0 means "the [delivery] default"
// (config::limits_for resolves them).
#pragma once

#include <ringmta/config/units.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringmta::config {

struct throttle_limits {
    unsigned max_connections = 0;               // simultaneous, all shards together
    unsigned max_messages_per_connection = 0;   // then the connection is closed
    unsigned max_recipients_per_message = 0;    // RCPTs in one transaction
    rate message_rate;                          // messages sent (transactions)
    rate connection_rate;                       // connections opened
    std::uint64_t max_deliveries_per_day = 0;   // per UTC day (warm-up caps)
    bool operator==(const throttle_limits&) const = default;
};

// Adaptive backoff (AIMD): throttling replies shrink a destination's concurrency
// and rate; successes grow them back to the limits; repeated failures suspend it.
struct backoff_policy {
    // Lower-case substrings; a non-2xx reply whose text contains one counts as
    // throttling, like a 421, a refused connection or a timeout.
    std::vector<std::string> patterns;
    unsigned suspend_after = 10;                // consecutive failures; 0: never suspend
    duration_ms suspend_time = std::chrono::minutes(10);
    unsigned floor_percent = 10;                // never below this share of a limit (1..100)
    bool operator==(const backoff_policy&) const = default;
};

// Limits for mail sent from one source address (an IP literal, canonical text).
struct source_limits {
    std::string address;
    throttle_limits limits;
};

// [groups."google"]: domains that share exchangers share one budget.
struct group_policy {
    std::string name;                     // [a-z0-9_-]+
    std::vector<std::string> domains;     // exact domains, lower case
    // Exchanger host patterns, lower case: "mx.example.net" or "*.google.com" (any
    // host under google.com). A domain whose MX host matches joins the group.
    std::vector<std::string> mx;
    throttle_limits limits;               // for the whole group, all shards together
    backoff_policy backoff;
    std::vector<source_limits> sources;   // [groups."g".sources."ip"]: group from that ip

    bool matches_mx(std::string_view host) const noexcept;
    bool has_domain(std::string_view domain) const noexcept;
};

// The first entry whose address is `address`, or nullptr.
const source_limits* find_source(const std::vector<source_limits>& sources,
                                 std::string_view address) noexcept;

}  // namespace ringmta::config
