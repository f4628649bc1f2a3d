// describe(): the effective configuration as a commented TOML document, printed
// by `ringmta --check-config`. Loading the output again yields the same settings,
// so an operator can start from it as a complete configuration file.
#include <ringmta/config/config.h>

#include "text.h"

#include <thread>

namespace ringmta::config {

namespace {

constexpr std::size_t comment_column = 44;

void add_line(std::string& out, std::string_view key, const std::string& value,
              std::string_view comment = {}) {
    std::size_t start = out.size();
    out += key;
    out += " = ";
    out += value;
    if (!comment.empty()) {
        std::size_t width = out.size() - start;
        out.append(width < comment_column ? comment_column - width : 1, ' ');
        out += "# ";
        out += comment;
    }
    out += '\n';
}

template <class T>
std::string list(const std::vector<T>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ", ";
        out += detail::quote(items[i].text);
    }
    return out + "]";
}

std::string quoted_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (const std::string& item : items) {
        if (out.size() > 1) out += ", ";
        out += detail::quote(item);
    }
    return out + "]";
}

std::string quoted_duration(duration_ms duration) {
    return detail::quote(format_duration(duration));
}

void describe_server(std::string& out, const server_config& server) {
    out += "[server]\n";
    add_line(out, "hostname", detail::quote(server.hostname));
    std::string cpus = std::to_string(std::thread::hardware_concurrency());
    add_line(out, "shards", std::to_string(server.shards),
             server.shards == 0 ? "0: one per CPU, " + cpus + " here" : "");
    add_line(out, "spool_dir", detail::quote(server.spool_dir));
    add_line(out, "log_file", detail::quote(server.log_file),
             server.log_file.empty() ? "\"\": standard error" : "");
    add_line(out, "accounting_log", detail::quote(server.accounting_log),
             server.accounting_log.empty() ? "\"\": none" : "");
}

void describe_ingress(std::string& out, const ingress_config& ingress) {
    out += "\n[ingress]\n";
    add_line(out, "listen", list(ingress.listen));
    add_line(out, "relay_networks", list(ingress.relay_networks),
             ingress.relay_networks.empty() ? "only authenticated clients relay" : "");
    add_line(out, "max_message_size", detail::quote(format_size(ingress.max_message_size)),
             std::to_string(ingress.max_message_size) + " bytes");
    add_line(out, "max_recipients", std::to_string(ingress.max_recipients));
    add_line(out, "idle_timeout", quoted_duration(ingress.idle_timeout));
    add_line(out, "tls_cert_file", detail::quote(ingress.tls_cert_file),
             ingress.tls_cert_file.empty() ? "\"\": no STARTTLS" : "");
    add_line(out, "tls_key_file", detail::quote(ingress.tls_key_file));
    add_line(out, "auth_users_file", detail::quote(ingress.auth_users_file),
             ingress.auth_users_file.empty() ? "\"\": no AUTH" : "");
    add_line(out, "max_connections", std::to_string(ingress.max_connections));
    add_line(out, "max_errors", std::to_string(ingress.max_errors));
    add_line(out, "auth_allow_plaintext", ingress.auth_allow_plaintext ? "true" : "false",
             ingress.auth_allow_plaintext ? "AUTH without TLS too" : "AUTH after STARTTLS only");
    add_line(out, "max_connections_per_ip", std::to_string(ingress.max_connections_per_ip),
             ingress.max_connections_per_ip == 0 ? "no limit" : "relay_networks exempt");
    add_line(out, "connection_rate_per_ip",
             detail::quote(format_rate(ingress.connection_rate_per_ip)),
             ingress.connection_rate_per_ip.unlimited() ? "no limit" : "relay_networks exempt");
    add_line(out, "data_timeout", quoted_duration(ingress.data_timeout));
    add_line(out, "priority_header", detail::quote(ingress.priority_header),
             ingress.priority_header.empty() ? "no priorities" : "\"high\": delivered first");
}

void describe_delivery(std::string& out, const delivery_config& delivery,
                       const std::string& hostname) {
    out += "\n[delivery]\n";
    add_line(out, "retry_min", quoted_duration(delivery.retry_min));
    add_line(out, "retry_max", quoted_duration(delivery.retry_max));
    add_line(out, "max_age", quoted_duration(delivery.max_age));
    add_line(out, "max_connections", std::to_string(delivery.max_connections),
             "per destination, all shards together");
    add_line(out, "max_messages_per_connection",
             std::to_string(delivery.max_messages_per_connection));
    add_line(out, "max_recipients_per_transaction",
             std::to_string(delivery.max_recipients_per_transaction));
    add_line(out, "connect_timeout", quoted_duration(delivery.connect_timeout));
    add_line(out, "reply_timeout", quoted_duration(delivery.reply_timeout));
    add_line(out, "data_timeout", quoted_duration(delivery.data_timeout));
    add_line(out, "connection_idle_timeout", quoted_duration(delivery.connection_idle_timeout));
    add_line(out, "ehlo_name", detail::quote(delivery.ehlo_name),
             delivery.ehlo_name.empty() ? "\"\": server.hostname, " + hostname : "");
    add_line(out, "port", std::to_string(delivery.port), "exchangers' SMTP port");
    add_line(out, "source_address", detail::quote(delivery.source_address.text),
             delivery.source_address.address_len == 0 ? "\"\": the kernel's choice" : "");
    add_line(out, "tls_ca_file", detail::quote(delivery.tls_ca_file), "for tls = \"verify\"");
    add_line(out, "host_down_time", quoted_duration(delivery.host_down_time),
             "skip an exchanger that failed this long");
}

void describe_dns(std::string& out, const dns_config& dns) {
    out += "\n[dns]\n";
    add_line(out, "resolvers", list(dns.resolvers),
             dns.resolvers.empty() ? "[]: the nameservers of /etc/resolv.conf" : "");
    add_line(out, "timeout", quoted_duration(dns.timeout), "one query to one resolver");
    add_line(out, "attempts", std::to_string(dns.attempts), "passes over all resolvers");
    add_line(out, "cache_entries", std::to_string(dns.cache_entries), "per shard");
}

// The limit keys; a destination's 0 in the first three means "the [delivery]
// default" and is left out (0 is out of range there).
void describe_limits(std::string& out, const throttle_limits& limits, bool for_source) {
    auto count = [&](std::string_view key, std::uint64_t value) {
        if (value != 0 || for_source) {
            add_line(out, key, std::to_string(value), value == 0 ? "no limit" : "");
        }
    };
    count("max_connections", limits.max_connections);
    count("max_messages_per_connection", limits.max_messages_per_connection);
    count("max_recipients_per_message", limits.max_recipients_per_message);
    add_line(out, "message_rate", detail::quote(format_rate(limits.message_rate)),
             limits.message_rate.unlimited() ? "no limit" : "");
    add_line(out, "connection_rate", detail::quote(format_rate(limits.connection_rate)),
             limits.connection_rate.unlimited() ? "no limit" : "");
    add_line(out, "max_deliveries_per_day", std::to_string(limits.max_deliveries_per_day),
             limits.max_deliveries_per_day == 0 ? "no limit" : "per UTC day");
}

void describe_backoff(std::string& out, const backoff_policy& backoff) {
    add_line(out, "backoff_patterns", quoted_list(backoff.patterns),
             "besides 421, refusals, timeouts");
    add_line(out, "backoff_suspend_after", std::to_string(backoff.suspend_after),
             backoff.suspend_after == 0 ? "never suspend" : "consecutive failures");
    add_line(out, "backoff_suspend_time", quoted_duration(backoff.suspend_time));
    add_line(out, "backoff_floor_percent", std::to_string(backoff.floor_percent));
}

void describe_sources(std::string& out, const std::string& path,
                      const std::vector<source_limits>& sources) {
    for (const source_limits& source : sources) {
        out += "\n[" + path + "." + detail::quote(source.address) + "]\n";
        describe_limits(out, source.limits, true);
    }
}

void describe_domains(std::string& out, const std::vector<domain_policy>& domains) {
    if (domains.empty()) {
        out += "\n# [domains.\"example.net\"]: none; every domain uses tls = "
               "\"opportunistic\" and the [delivery] limits\n";
    }
    for (const domain_policy& entry : domains) {
        std::string path = "domains." + detail::quote(entry.domain);
        out += "\n[" + path + "]\n";
        add_line(out, "tls", detail::quote(tls_policy_name(entry.tls)));
        describe_limits(out, entry.limits, false);
        describe_backoff(out, entry.backoff);
        describe_sources(out, path + ".sources", entry.sources);
    }
}

void describe_groups(std::string& out, const std::vector<group_policy>& groups) {
    for (const group_policy& group : groups) {
        std::string path = "groups." + detail::quote(group.name);
        out += "\n[" + path + "]\n";
        add_line(out, "domains", quoted_list(group.domains));
        add_line(out, "mx", quoted_list(group.mx));
        describe_limits(out, group.limits, false);
        describe_backoff(out, group.backoff);
        describe_sources(out, path + ".sources", group.sources);
    }
}

void describe_admin(std::string& out, const admin_config& admin) {
    out += "\n[admin]\n";
    add_line(out, "allow_remote", admin.allow_remote ? "true" : "false",
             admin.allow_remote ? "UNAUTHENTICATED, reachable off this host" : "loopback only");
    add_line(out, "listen", detail::quote(admin.listen.text),
             admin.listen.address_len == 0 ? "\"\": no admin endpoint" : "ringmta-ctl --admin");
}

void describe_journal(std::string& out, const journal_config& journal) {
    out += "\n[journal]\n";
    bool fsync = journal.durability == durability::fsync;
    add_line(out, "durability", fsync ? "\"fsync\"" : "\"nosync\"",
             fsync ? "a 250 waits for fdatasync" : "BENCHMARKS ONLY: accepted mail can be lost");
    add_line(out, "segment_size", detail::quote(format_size(journal.segment_size)));
    add_line(out, "max_spool_size", detail::quote(format_size(journal.max_spool_size)),
             journal.max_spool_size == 0 ? "no limit but the disk" : "");
    add_line(out, "cache_size", detail::quote(format_size(journal.cache_size)),
             journal.cache_size == 0 ? "every body is read back from the journal" : "");
    add_line(out, "commit_delay", detail::quote(format_duration(journal.commit_delay)));
    add_line(out, "recycle_segments", journal.recycle_segments ? "true" : "false");
    add_line(out, "direct_io", journal.direct_io ? "true" : "false");
    add_line(out, "zero_fill_segments", journal.zero_fill_segments ? "true" : "false");
}

void describe_routes(std::string& out, const std::vector<route>& routes) {
    out += "\n[routes]\n";
    if (routes.empty()) out += "# none: every domain is delivered to its MX hosts\n";
    for (const route& entry : routes) {
        add_line(out, detail::quote(entry.domain), list(entry.next_hops));
    }
}

}  // namespace

std::string describe(const config& settings) {
    std::string out = "# ringmta configuration in effect, from " + detail::quote(settings.source);
    out += "\n# Sizes: KB, MB and GB are 1024-based (1MB = 1048576 bytes).\n\n";
    describe_server(out, settings.server);
    describe_ingress(out, settings.ingress);
    describe_delivery(out, settings.delivery, settings.server.hostname);
    describe_journal(out, settings.journal);
    describe_dns(out, settings.dns);
    describe_admin(out, settings.admin);
    describe_domains(out, settings.domains);
    describe_groups(out, settings.groups);
    describe_sources(out, "sources", settings.sources);
    describe_routes(out, settings.routes);
    return out;
}

}  // namespace ringmta::config
