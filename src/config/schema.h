// Private: what ringmta.toml may contain, apart from toml++. The sections and
// their keys, the bounds of every number, the checks on string values, and the
// messages that point a mistyped key or section at what was meant.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <ringmta/config/config.h>

namespace ringmta::config::detail {

inline constexpr std::array<std::string_view, 10> section_names{
    "server", "ingress", "delivery", "journal", "dns", "admin", "domains", "groups",
    "sources", "routes"};
inline constexpr std::array<std::string_view, 5> server_keys{
    "hostname", "shards", "spool_dir", "log_file", "accounting_log"};
inline constexpr std::array<std::string_view, 15> ingress_keys{
    "listen",        "relay_networks", "max_message_size", "max_recipients",  "idle_timeout",
    "tls_cert_file", "tls_key_file",   "auth_users_file",  "max_connections", "max_errors",
    "auth_allow_plaintext", "max_connections_per_ip", "connection_rate_per_ip",
    "data_timeout", "priority_header"};
inline constexpr std::array<std::string_view, 15> delivery_keys{
    "retry_min",       "retry_max",     "max_age",
    "max_connections", "max_messages_per_connection", "max_recipients_per_transaction",
    "connect_timeout", "reply_timeout", "data_timeout",
    "connection_idle_timeout", "ehlo_name", "port", "source_address", "tls_ca_file",
    "host_down_time"};
inline constexpr std::array<std::string_view, 8> journal_keys{
    "durability", "segment_size", "max_spool_size", "cache_size", "commit_delay",
    "recycle_segments", "direct_io", "zero_fill_segments"};
inline constexpr std::array<std::string_view, 4> dns_keys{"resolvers", "timeout", "attempts",
                                                          "cache_entries"};
inline constexpr std::array<std::string_view, 2> admin_keys{"listen", "allow_remote"};
// The keys of one [domains."example.net"] table, of one [groups."name"] table and
// of one [sources."192.0.2.10"] table (also nested: [domains."x".sources."ip"]).
inline constexpr std::array<std::string_view, 12> domain_keys{
    "tls", "max_connections", "max_messages_per_connection", "max_recipients_per_message",
    "message_rate", "connection_rate", "max_deliveries_per_day", "backoff_patterns",
    "backoff_suspend_after", "backoff_suspend_time", "backoff_floor_percent", "sources"};
inline constexpr std::array<std::string_view, 13> group_keys{
    "domains", "mx", "max_connections", "max_messages_per_connection",
    "max_recipients_per_message", "message_rate", "connection_rate",
    "max_deliveries_per_day", "backoff_patterns", "backoff_suspend_after",
    "backoff_suspend_time", "backoff_floor_percent", "sources"};
inline constexpr std::array<std::string_view, 6> source_keys{
    "max_connections", "max_messages_per_connection", "max_recipients_per_message",
    "message_rate", "connection_rate", "max_deliveries_per_day"};

// Bounds of every number a user can set. Lower bounds keep a typo from turning a
// limit off; upper bounds keep one from exhausting memory or file descriptors.
inline constexpr unsigned shards_max = 256;
inline constexpr std::uint64_t message_size_min = 1ull << 10;
inline constexpr std::uint64_t message_size_max = 4ull << 30;
inline constexpr std::uint64_t segment_size_min = 1ull << 20;
inline constexpr std::uint64_t segment_size_max = 4ull << 30;
inline constexpr std::uint64_t spool_size_max = 1ull << 50;  // 1 PB: a typo guard
inline constexpr unsigned recipients_max = 100'000;
inline constexpr unsigned connections_max = 1'000'000;
inline constexpr unsigned errors_max = 1000;
inline constexpr unsigned destination_connections_max = 10'000;
inline constexpr unsigned messages_per_connection_max = 1'000'000;
inline constexpr unsigned dns_attempts_max = 10;
inline constexpr unsigned dns_cache_entries_max = 10'000'000;
inline constexpr std::uint64_t deliveries_per_day_max = 1'000'000'000;
inline constexpr unsigned suspend_after_max = 1000;
inline constexpr std::size_t backoff_patterns_max = 64;
inline constexpr std::size_t group_names_max = 10'000;   // domains or mx patterns a group lists

bool contains(std::span<const std::string_view> names, std::string_view name);

// A key as written back to the operator: bare when TOML allows it, else quoted.
std::string display_key(std::string_view key);

// For a key not in section: where it belongs, what was likely meant, or the list.
std::string unknown_key_message(std::string_view section, std::string_view name,
                                std::span<const std::string_view> known);
std::string unknown_section_message(std::string_view name);

// Value checks: each throws config_error with a message that quotes the value.
void check_host_name(const std::string& value);
void check_ehlo_name(const std::string& value);  // "" allowed: server.hostname
void check_directory(const std::string& value);
void check_file(const std::string& value);       // "" allowed: not used
void check_durability(const std::string& value);
void check_tls_policy(const std::string& value);
void check_header_name(const std::string& value);   // "" allowed: not used
tls_policy parse_tls_policy(const std::string& value);  // after check_tls_policy

// The lower-cased domain of a route key ("Example.NET." -> "example.net",
// ".example.net", "*"), or "" when the key is not a valid one.
std::string route_domain(std::string_view key);

}  // namespace ringmta::config::detail
