// Reads ringmta.toml with toml++ and validates it into a config. Only this file,
// section_reader.cc and throttle_loader.cc include toml++ (a heavy header; compile
// time matters on small hosts).
// Every error is collected with its position and the one first in the file is
// thrown, so an operator fixes them top to bottom rather than in toml++'s
// (alphabetical) key order. Cross-field rules run once every value is valid.
#include "loader.h"

#include "section_reader.h"
#include "text.h"
#include "throttle_loader.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>

namespace ringmta::config::detail {

namespace {

using namespace std::chrono_literals;

void check_root(const toml::table& root, issue_list& issues) {
    for (const auto& [key, node] : root) {
        std::string_view name = key.str();
        position where = position_of(key.source());
        if (!contains(section_names, name)) {
            issues.add(where, display_key(name), unknown_section_message(name));
        } else if (!node.is_table()) {
            issues.add(where, display_key(name),
                       "expected a table ([" + std::string(name) + "]), got " +
                           kind_and_value(node));
        }
    }
}

void read_server(const toml::table& root, issue_list& issues, server_config& out) {
    section_reader reader("server", section_table(root, "server"), issues);
    reader.read_string("hostname", out.hostname, check_host_name);
    reader.read_unsigned("shards", out.shards, 0, shards_max);
    reader.read_string("spool_dir", out.spool_dir, check_directory);
    reader.read_string("log_file", out.log_file);
    reader.read_string("accounting_log", out.accounting_log);
    reader.check_unknown(server_keys);
}

void read_ingress(const toml::table& root, issue_list& issues, ingress_config& out) {
    section_reader reader("ingress", section_table(root, "ingress"), issues);
    reader.read_list("listen", out.listen, parse_endpoint,
                     "the list is empty; give at least one address to listen on, "
                     "e.g. [\"127.0.0.1:2525\"]");
    reader.read_list("relay_networks", out.relay_networks, parse_cidr, {});
    reader.read_size("max_message_size", out.max_message_size, message_size_min,
                     message_size_max);
    reader.read_unsigned("max_recipients", out.max_recipients, 1, recipients_max);
    reader.read_duration("idle_timeout", out.idle_timeout, 1s, 1h);
    reader.read_string("tls_cert_file", out.tls_cert_file, check_file);
    reader.read_string("tls_key_file", out.tls_key_file, check_file);
    reader.read_string("auth_users_file", out.auth_users_file, check_file);
    reader.read_unsigned("max_connections", out.max_connections, 1, connections_max);
    reader.read_unsigned("max_errors", out.max_errors, 1, errors_max);
    reader.read_bool("auth_allow_plaintext", out.auth_allow_plaintext);
    reader.read_unsigned("max_connections_per_ip", out.max_connections_per_ip, 0,
                         connections_max);
    reader.read_rate("connection_rate_per_ip", out.connection_rate_per_ip);
    reader.read_duration("data_timeout", out.data_timeout, 1s, 1h);
    reader.read_string("priority_header", out.priority_header, check_header_name);
    reader.check_unknown(ingress_keys);
}

void read_delivery(const toml::table& root, issue_list& issues, delivery_config& out) {
    section_reader reader("delivery", section_table(root, "delivery"), issues);
    reader.read_duration("retry_min", out.retry_min, 1s, 24h * 30);
    reader.read_duration("retry_max", out.retry_max, 1s, 24h * 30);
    // 0s is allowed: no retries, a temporary failure expires at once.
    reader.read_duration("max_age", out.max_age, 0s, 24h * 90);
    reader.read_unsigned("max_connections", out.max_connections, 1,
                         destination_connections_max);
    reader.read_unsigned("max_messages_per_connection", out.max_messages_per_connection, 1,
                         messages_per_connection_max);
    reader.read_unsigned("max_recipients_per_transaction", out.max_recipients_per_transaction,
                         1, recipients_max);
    reader.read_duration("connect_timeout", out.connect_timeout, 1s, 10min);
    reader.read_duration("reply_timeout", out.reply_timeout, 1s, 1h);
    reader.read_duration("data_timeout", out.data_timeout, 1s, 1h);
    // 0s is allowed: close a pooled connection as soon as it has no work.
    reader.read_duration("connection_idle_timeout", out.connection_idle_timeout, 0s, 1h);
    reader.read_string("ehlo_name", out.ehlo_name, check_ehlo_name);
    reader.read_unsigned("port", out.port, 1, 65535);
    if (const toml::node* node = reader.find("source_address")) {
        std::string text;
        reader.read_string("source_address", text);
        if (!text.empty()) {
            reader.attempt(*node, "source_address",
                           [&] { out.source_address = parse_address(text); });
        }
    }
    reader.read_string("tls_ca_file", out.tls_ca_file, check_file);
    reader.read_duration("host_down_time", out.host_down_time, 0s, 24h);
    reader.check_unknown(delivery_keys);
}

void read_journal(const toml::table& root, issue_list& issues, journal_config& out) {
    section_reader reader("journal", section_table(root, "journal"), issues);
    std::string mode;
    reader.read_string("durability", mode, check_durability);
    if (!mode.empty()) out.durability = mode == "nosync" ? durability::nosync : durability::fsync;
    reader.read_size("segment_size", out.segment_size, segment_size_min, segment_size_max);
    reader.read_size("max_spool_size", out.max_spool_size, 0, spool_size_max);
    reader.read_size("cache_size", out.cache_size, 0, spool_size_max);
    reader.read_duration("commit_delay", out.commit_delay, 0ms, 100ms);
    reader.read_bool("recycle_segments", out.recycle_segments);
    reader.read_bool("direct_io", out.direct_io);
    reader.read_bool("zero_fill_segments", out.zero_fill_segments);
    reader.check_unknown(journal_keys);
}

void read_dns(const toml::table& root, issue_list& issues, dns_config& out) {
    section_reader reader("dns", section_table(root, "dns"), issues);
    reader.read_list("resolvers", out.resolvers, parse_endpoint, {});
    reader.read_duration("timeout", out.timeout, 100ms, 1min);
    reader.read_unsigned("attempts", out.attempts, 1, dns_attempts_max);
    reader.read_unsigned("cache_entries", out.cache_entries, 0, dns_cache_entries_max);
    reader.check_unknown(dns_keys);
}

// True for 127.0.0.0/8 and ::1: the only addresses the unauthenticated admin
// endpoint listens on unless allow_remote says otherwise.
bool is_loopback(const endpoint& address) {
    if (address.address.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address.address);
        return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    }
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.address);
    return IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
}

void read_admin(const toml::table& root, issue_list& issues, admin_config& out) {
    section_reader reader("admin", section_table(root, "admin"), issues);
    reader.read_bool("allow_remote", out.allow_remote);
    if (const toml::node* node = reader.find("listen")) {
        std::string text;
        reader.read_string("listen", text);
        if (!text.empty()) {
            reader.attempt(*node, "listen", [&] {
                endpoint address = parse_endpoint(text);
                if (!out.allow_remote && !is_loopback(address)) {
                    throw config_error(quote(text) + " is not a loopback address; the admin "
                                       "endpoint has no authentication (set admin.allow_remote "
                                       "= true to listen there anyway)");
                }
                out.listen = address;
            });
        }
    }
    reader.check_unknown(admin_keys);
}

using placed_route = placed<route>;


std::vector<placed_route> read_route_entries(const toml::table& table, issue_list& issues) {
    section_reader reader("routes", &table, issues);
    std::vector<placed_route> entries;
    for (const auto& [key, node] : table) {
        position where = position_of(key.source());
        if (node.is_table()) {
            std::string path = dotted_path(key.str(), node);
            issues.add(where, "routes." + path,
                       "write the domain in quotes, " + quote(path) +
                           " = [...]; unquoted, its dots make nested TOML tables");
            continue;
        }
        std::string domain = route_domain(key.str());
        if (domain.empty()) {
            issues.add(where, reader.full_key(key.str()),
                       quote(key.str()) + " is not a domain name (use \"example.net\", "
                                          "\".example.net\" for its subdomains, or \"*\")");
            continue;
        }
        route value{domain, {}};
        if (reader.read_list(key.str(), value.next_hops, parse_endpoint,
                             "the list is empty; give at least one next hop, "
                             "e.g. [\"192.0.2.1:25\"]")) {
            entries.push_back({where, std::move(value)});
        }
    }
    return entries;
}

void read_routes(const toml::table& root, issue_list& issues, std::vector<route>& out) {
    const toml::table* table = section_table(root, "routes");
    if (table == nullptr) return;
    out = in_file_order(read_route_entries(*table, issues), "routes", "a route for", "is",
                        issues);
}

// The raw text of a key's value, or the effective value marked as the default.
std::string shown_duration(const section_reader& reader, std::string_view key,
                           duration_ms value) {
    const toml::node* node = reader.find(key);
    if (node != nullptr && node->is_string()) return quote(node->as_string()->get());
    return format_duration(value) + ", the default";
}

void check_relations(const toml::table& root, issue_list& issues, const config& settings) {
    section_reader delivery("delivery", section_table(root, "delivery"), issues);
    const delivery_config& d = settings.delivery;
    if (d.retry_min > d.retry_max) {
        if (const toml::node* node = delivery.find("retry_min")) {
            delivery.fail(*node, "retry_min",
                          shown_duration(delivery, "retry_min", d.retry_min) +
                              " is more than delivery.retry_max (" +
                              shown_duration(delivery, "retry_max", d.retry_max) + ")");
        } else if (const toml::node* max_node = delivery.find("retry_max")) {
            delivery.fail(*max_node, "retry_max",
                          shown_duration(delivery, "retry_max", d.retry_max) +
                              " is less than delivery.retry_min (" +
                              shown_duration(delivery, "retry_min", d.retry_min) + ")");
        }
    }
    section_reader journal("journal", section_table(root, "journal"), issues);
    const journal_config& j = settings.journal;
    const std::uint64_t shards = std::max(1u, settings.server.shards);
    if (j.max_spool_size != 0 && j.max_spool_size < 2 * shards * j.segment_size) {
        if (const toml::node* node = journal.find("max_spool_size")) {
            journal.fail(*node, "max_spool_size",
                         quote(format_size(j.max_spool_size)) + " leaves room for fewer than "
                         "two segments (journal.segment_size " + format_size(j.segment_size) +
                         ") per shard; each shard needs one to write and one to roll into");
        }
    }
    section_reader ingress("ingress", section_table(root, "ingress"), issues);
    const ingress_config& i = settings.ingress;
    const std::array<std::string_view, 2> tls_keys{"tls_cert_file", "tls_key_file"};
    const std::array<const std::string*, 2> tls_values{&i.tls_cert_file, &i.tls_key_file};
    for (std::size_t set = 0; set < 2; ++set) {
        std::size_t other = 1 - set;
        const toml::node* node = ingress.find(tls_keys[set]);
        if (node == nullptr || tls_values[set]->empty() || !tls_values[other]->empty()) continue;
        ingress.fail(*node, tls_keys[set],
                     quote(*tls_values[set]) + " is set but ingress." +
                         std::string(tls_keys[other]) +
                         " is not; STARTTLS needs both the certificate and its key");
    }
}

}  // namespace

void apply_toml(std::string_view toml_text, std::string_view source_name, config& settings) {
    toml::table root;
    try {
        root = toml::parse(toml_text, source_name);
    } catch (const toml::parse_error& error) {
        position where = position_of(error.source());
        throw config_error(
            located(source_name, where.line, where.column, "syntax", error.description()));
    }
    issue_list issues;
    check_root(root, issues);
    read_server(root, issues, settings.server);
    read_ingress(root, issues, settings.ingress);
    read_delivery(root, issues, settings.delivery);
    read_journal(root, issues, settings.journal);
    read_dns(root, issues, settings.dns);
    read_admin(root, issues, settings.admin);
    read_throttle_sections(root, issues, settings);
    read_routes(root, issues, settings.routes);
    issues.throw_first(source_name);
    check_relations(root, issues, settings);
    issues.throw_first(source_name);
}

}  // namespace ringmta::config::detail
