// ringmta's configuration: one TOML file, every key with a default, so the daemon
// starts with no file at all. The main thread loads and validates it at start-up
// (load_file) and hands each shard a const copy; nothing here runs on a shard's
// hot path except the noexcept lookups config::find_route and cidr::contains.
//
// Errors are config_error exceptions whose what() is exactly
//   FILE:LINE:COLUMN: KEY: MESSAGE
// e.g. ringmta.toml:7:20: ingress.max_message_size: "50XB" is not a size (...).
// KEY is "section.key", routes."domain" for routes, "syntax" for TOML syntax
// errors and "file" when the file itself cannot be read (reported at 1:1).
#pragma once

#include <ringmta/config/cidr.h>
#include <ringmta/config/config_error.h>
#include <ringmta/config/endpoint.h>
#include <ringmta/config/throttle.h>
#include <ringmta/config/units.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringmta::config {

enum class durability {
    fsync,   // a 250 waits for the covering fdatasync (DESIGN.md invariant 1)
    nosync,  // benchmarks only: skips fdatasync; every report must name this mode
};

// Outbound STARTTLS policy for a destination domain ([domains."x"] tls).
enum class tls_policy {
    none,           // never STARTTLS
    opportunistic,  // STARTTLS when offered; any certificate; plaintext when not offered
    required,       // STARTTLS or defer (4.7.4); any certificate
    verify,         // STARTTLS with a certificate chain to a trusted CA, matching the MX name
};
const char* tls_policy_name(tls_policy policy);

struct server_config {
    std::string hostname;          // default: the machine's host name (gethostname)
    unsigned shards = 0;           // 0: one per CPU (hardware_concurrency); max 256
    std::string spool_dir = "var/spool";
    std::string log_file;          // "": stderr
    std::string accounting_log;    // "": none
};

struct ingress_config {
    std::vector<endpoint> listen;              // default {"127.0.0.1:2525"}; never empty
    std::vector<cidr> relay_networks;          // default {"127.0.0.0/8", "::1/128"}
    std::uint64_t max_message_size = 50ull << 20;
    unsigned max_recipients = 1000;
    duration_ms idle_timeout = std::chrono::minutes(5);
    // Readable regular files when set; both TLS files or neither.
    std::string tls_cert_file, tls_key_file, auth_users_file;
    unsigned max_connections = 10000;          // per process; more get 421 4.7.0
    unsigned max_errors = 20;
    // AUTH offered without TLS too (default: only after STARTTLS, RFC 4954 section 4).
    bool auth_allow_plaintext = false;
    // Per client address (IPv6: per /64), except clients in relay_networks; each
    // shard enforces its share (split like max_connections). 0 / "0": no limit.
    unsigned max_connections_per_ip = 100;
    rate connection_rate_per_ip{100, std::chrono::seconds(1)};
    // RFC 5321 4.5.3.2: waiting for more DATA/BDAT content (idle_timeout: commands).
    duration_ms data_timeout = std::chrono::minutes(3);
    // A message whose first header field of this name says "high" (any case) is
    // delivered before the normal mail to its destination; "": no priorities.
    std::string priority_header = "X-Ringmta-Priority";
};

struct delivery_config {
    duration_ms retry_min = std::chrono::minutes(1);
    duration_ms retry_max = std::chrono::hours(1);   // retry_min <= retry_max
    duration_ms max_age = std::chrono::days(5);
    unsigned max_connections = 20;                   // per destination, all shards together
    unsigned max_messages_per_connection = 1000;
    unsigned max_recipients_per_transaction = 100;
    duration_ms connect_timeout = std::chrono::seconds(30);
    duration_ms reply_timeout = std::chrono::minutes(5);    // RFC 5321 4.5.3.2 replies
    duration_ms data_timeout = std::chrono::minutes(10);    // final reply after the data
    duration_ms connection_idle_timeout = std::chrono::seconds(2);  // pooled, without work
    std::string ehlo_name;                           // "": server.hostname
    unsigned port = 25;                              // exchangers' SMTP port (MX routing)
    // Outbound source address, an IP literal; address_len 0: the kernel's choice.
    endpoint source_address;
    // CA certificates for tls = "verify" (PEM bundle).
    std::string tls_ca_file = "/etc/ssl/certs/ca-certificates.crt";
    // An exchanger that refused a connection, timed out or answered 421 is skipped
    // (the next one is tried) for this long: the dead-destination cache.
    duration_ms host_down_time = std::chrono::minutes(1);
};

// The operator's HTTP endpoint (GET /metrics, /queue; POST suspend, resume,
// retry, bounce, delete) used by ringmta-ctl.
struct admin_config {
    endpoint listen;                 // address_len 0: no admin endpoint (the default)
    // A listen address outside 127.0.0.0/8 and ::1 is refused unless this is set:
    // the endpoint has no authentication.
    bool allow_remote = false;
};

struct dns_config {
    // Recursive resolvers ("127.0.0.1:53"); empty: the nameservers of /etc/resolv.conf.
    std::vector<endpoint> resolvers;
    duration_ms timeout = std::chrono::seconds(2);   // one query to one resolver
    unsigned attempts = 2;                           // passes over all resolvers
    unsigned cache_entries = 100000;                 // per shard; 0: no cache
};

// [domains."example.net"]: settings for mail to a domain. Keys as in [routes]:
// "example.net", ".example.net" (its subdomains) or "*" (every other domain).
// A key an entry does not set takes the "*" entry's value, else the default.
// A ".example.net" or "*" entry gives each matching domain a budget of its own.
struct domain_policy {
    std::string domain;
    tls_policy tls = tls_policy::opportunistic;
    throttle_limits limits;               // see throttle.h; config::limits_for resolves 0s
    backoff_policy backoff;
    std::vector<source_limits> sources;   // [domains."x".sources."ip"]: x from that ip
};

// The budget one delivery attempt to a domain draws on (config::throttle_for).
struct throttle_scope {
    std::string key;                      // "example.net", or "group:google" for a group
    throttle_limits limits;               // resolved: no 0 where [delivery] has a default
    const backoff_policy* backoff = nullptr;            // points into the config
    const std::vector<source_limits>* sources = nullptr;  // per-source limits of the key
    const group_policy* group = nullptr;  // the group, or nullptr
};

struct journal_config {
    // Qualified: a member may not change the meaning of the type name in its class.
    ringmta::config::durability durability = ringmta::config::durability::fsync;
    std::uint64_t segment_size = 64ull << 20;        // 1MB to 4GB
    // The most disk the spool's segments may take (all shards together); 0: no limit
    // but the disk. When it (or the disk) is full, ingress answers 452 4.3.1.
    std::uint64_t max_spool_size = 0;
    // Message envelopes and bodies kept in memory for delivery (all shards
    // together); the rest are read back from the journal when due. 0: always read back.
    std::uint64_t cache_size = 64ull << 20;
    // Group commit: how long a batch waits for more appends before its write and
    // fdatasync (0: written at the end of the reactor turn that made it).
    duration_ms commit_delay = duration_ms(0);
    // Reuse a removed segment's file for the next segment: appends then go into
    // blocks already written, and a group commit is one device write, not two.
    bool recycle_segments = true;
    // Write segments with O_DIRECT where the file system takes it: no page-cache
    // copy, and on a recycled segment the write is submitted inline instead of in
    // an io-wq worker (docs/benchmarks.md, "Buffered or O_DIRECT writes").
    bool direct_io = true;
    // At start-up, write the first segment and a spare with zeros: appends into
    // preallocated ("unwritten") blocks change the file's extent map, which every
    // fdatasync must then write as well (docs/benchmarks.md, "Zero-filled segments").
    bool zero_fill_segments = true;
};

// A static route: mail for the domain goes to these next hops instead of its MX.
struct route {
    std::string domain;              // lower case: "example.net", ".example.net" or "*"
    std::vector<endpoint> next_hops; // never empty, in the order written
};

struct config {
    server_config server;
    ingress_config ingress;
    delivery_config delivery;
    journal_config journal;
    dns_config dns;
    admin_config admin;
    // In file order; policy_for() picks the one for a domain.
    std::vector<domain_policy> domains;
    // [groups."name"]: domains sharing one budget, in file order.
    std::vector<group_policy> groups;
    // [sources."192.0.2.10"]: limits on everything sent from a source address.
    std::vector<source_limits> sources;
    // [routes] "example.net" = ["127.0.0.2:2626", ...]. "*" is the default route;
    // ".example.net" matches any subdomain of example.net (not example.net itself).
    std::vector<route> routes;
    std::string source;              // the file path, the source name, or "<defaults>"

    // The route for a domain: an exact match (case-insensitive, a trailing dot
    // ignored), else the longest ".parent" suffix rule, else "*", else nullptr
    // (deliver by MX). Allocates nothing.
    const route* find_route(std::string_view domain) const noexcept;
    // The [domains] entry for a domain by the same rules as find_route, else the
    // built-in defaults (tls = "opportunistic"). Allocates nothing.
    const domain_policy& policy_for(std::string_view domain) const noexcept;
    // The group a domain belongs to: one listing it in `domains`, else the first
    // whose `mx` patterns match one of the domain's exchanger hosts; nullptr if
    // none. Allocates nothing.
    const group_policy* group_for(std::string_view domain,
                                  std::span<const std::string> mx_hosts = {}) const noexcept;
    // `limits` with 0 in max_connections, max_messages_per_connection and
    // max_recipients_per_message replaced by the [delivery] defaults.
    throttle_limits limits_for(const throttle_limits& limits) const noexcept;
    // The budget for mail to `domain` (its group's, if it has one) with resolved
    // limits. Called when a destination's queue is created, not per message.
    throttle_scope throttle_for(std::string_view domain,
                                std::span<const std::string> mx_hosts = {}) const;
    // The budget of a group ("group:<name>"), as throttle_for gives it to members.
    throttle_scope group_scope(const group_policy& group) const;
    // [sources."ip"] for an outbound source address (canonical text), or nullptr.
    const source_limits* source_for(std::string_view address) const noexcept;
};

config defaults();
config load_file(const std::string& path);
config load_string(std::string_view toml_text, std::string_view source_name);

// The effective settings as a TOML document with comments (for --check-config).
// Loading it again gives the same settings.
std::string describe(const config& settings);

}  // namespace ringmta::config
