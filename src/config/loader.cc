// Reads ringmta.toml with toml++ and validates it into a config. This is the only
// file that includes toml++ (a heavy header; compile time matters on small hosts).
// Every error is collected with its position and the one first in the file is
// thrown, so an operator fixes them top to bottom rather than in toml++'s
// (alphabetical) key order. Cross-field rules run once every value is valid.
#include "loader.h"

#include "issue_list.h"
#include "schema.h"
#include "text.h"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <span>
#include <sstream>
#include <vector>

namespace ringmta::config::detail {

namespace {

using namespace std::chrono_literals;

position position_of(const toml::source_region& region) {
    if (!region.begin) return {};
    return {region.begin.line, region.begin.column};
}

// "an integer (5)", "a string (\"5\")": what the operator wrote, named and quoted.
std::string kind_and_value(const toml::node& node) {
    std::ostringstream text;
    switch (node.type()) {
        case toml::node_type::string:
            return "a string (" + quote(node.as_string()->get()) + ")";
        case toml::node_type::integer: text << "an integer (" << *node.as_integer(); break;
        case toml::node_type::floating_point:
            text << "a floating-point number (" << *node.as_floating_point();
            break;
        case toml::node_type::boolean: text << "a boolean (" << *node.as_boolean(); break;
        case toml::node_type::date: text << "a date (" << *node.as_date(); break;
        case toml::node_type::time: text << "a time (" << *node.as_time(); break;
        case toml::node_type::date_time: text << "a date-time (" << *node.as_date_time(); break;
        case toml::node_type::array: return "a list";
        case toml::node_type::table: return "a table";
        default: return "nothing";
    }
    text << ")";
    return text.str();
}

// Reads the keys of one section into typed fields. A missing key keeps the
// default; a bad one becomes an issue at its value and leaves the field alone.
class section_reader {
public:
    section_reader(std::string_view section, const toml::table* table, issue_list& issues)
        : _section(section), _table(table), _issues(issues) {}

    const toml::node* find(std::string_view key) const {
        return _table == nullptr ? nullptr : _table->get(key);
    }

    std::string full_key(std::string_view key) const {
        return std::string(_section) + "." + display_key(key);
    }

    void fail(const toml::node& node, std::string_view key, std::string message) {
        _issues.add(position_of(node.source()), full_key(key), std::move(message));
    }

    // Runs convert(); a config_error it throws becomes an issue at node.
    template <class Convert>
    bool attempt(const toml::node& node, std::string_view key, Convert&& convert) {
        try {
            convert();
            return true;
        } catch (const config_error& error) {
            fail(node, key, error.what());
            return false;
        }
    }

    void read_string(std::string_view key, std::string& out,
                     void (*check)(const std::string&) = nullptr);
    void read_unsigned(std::string_view key, unsigned& out, unsigned min, unsigned max);
    void read_bool(std::string_view key, bool& out);
    void read_rate(std::string_view key, rate& out);
    void read_size(std::string_view key, std::uint64_t& out, std::uint64_t min,
                   std::uint64_t max);
    void read_duration(std::string_view key, duration_ms& out, duration_ms min,
                       duration_ms max);
    // A list of strings (or one string) parsed into T; empty_message is the error
    // for an empty list, or empty when an empty list is allowed.
    template <class T>
    bool read_list(std::string_view key, std::vector<T>& out, T (*parse)(std::string_view),
                   std::string_view empty_message);
    void check_unknown(std::span<const std::string_view> known);

private:
    std::string_view _section;
    const toml::table* _table;
    issue_list& _issues;
};

void section_reader::read_string(std::string_view key, std::string& out,
                                 void (*check)(const std::string&)) {
    const toml::node* node = find(key);
    if (node == nullptr) return;
    attempt(*node, key, [&] {
        const auto* text = node->as_string();
        if (text == nullptr) throw config_error("expected a string, got " + kind_and_value(*node));
        std::string value = text->get();
        if (value.find('\0') != std::string::npos) {
            throw config_error(quote(value) + " contains a NUL character");
        }
        if (check != nullptr) check(value);
        out = std::move(value);
    });
}

void section_reader::read_unsigned(std::string_view key, unsigned& out, unsigned min,
                                   unsigned max) {
    const toml::node* node = find(key);
    if (node == nullptr) return;
    attempt(*node, key, [&] {
        const auto* number = node->as_integer();
        if (number == nullptr) {
            throw config_error("expected an integer, got " + kind_and_value(*node));
        }
        std::int64_t value = number->get();
        if (value < min || value > max) {
            throw config_error(std::to_string(value) + " is out of range (" +
                               std::to_string(min) + " to " + std::to_string(max) + ")");
        }
        out = static_cast<unsigned>(value);
    });
}

void section_reader::read_bool(std::string_view key, bool& out) {
    const toml::node* node = find(key);
    if (node == nullptr) return;
    attempt(*node, key, [&] {
        const auto* value = node->as_boolean();
        if (value == nullptr) {
            throw config_error("expected true or false, got " + kind_and_value(*node));
        }
        out = value->get();
    });
}

void section_reader::read_rate(std::string_view key, rate& out) {
    const toml::node* node = find(key);
    if (node == nullptr) return;
    attempt(*node, key, [&] {
        if (const auto* number = node->as_integer(); number != nullptr && number->get() == 0) {
            out = rate{};
            return;
        }
        const auto* text = node->as_string();
        if (text == nullptr) {
            throw config_error("expected a rate such as \"100/s\" or \"5000/h\", got " +
                               kind_and_value(*node));
        }
        out = parse_rate(text->get());
    });
}

void section_reader::read_size(std::string_view key, std::uint64_t& out, std::uint64_t min,
                               std::uint64_t max) {
    const toml::node* node = find(key);
    if (node == nullptr) return;
    attempt(*node, key, [&] {
        std::uint64_t value = 0;
        std::string shown;
        if (const auto* number = node->as_integer()) {
            shown = std::to_string(number->get());
            if (number->get() < 0) throw config_error(shown + " is not a size (it is negative)");
            value = static_cast<std::uint64_t>(number->get());
        } else if (const auto* text = node->as_string()) {
            shown = quote(text->get());
            value = parse_size(text->get());
        } else {
            throw config_error("expected a size such as \"50MB\" or a number of bytes, got " +
                               kind_and_value(*node));
        }
        if (value < min || value > max) {
            throw config_error(shown + " is out of range (" + format_size(min) + " to " +
                               format_size(max) + ")");
        }
        out = value;
    });
}

void section_reader::read_duration(std::string_view key, duration_ms& out, duration_ms min,
                                   duration_ms max) {
    const toml::node* node = find(key);
    if (node == nullptr) return;
    attempt(*node, key, [&] {
        const auto* text = node->as_string();
        if (text == nullptr) {
            std::string hint;
            if (const auto* number = node->as_integer()) {
                hint = "; durations need a unit, e.g. \"" + std::to_string(number->get()) + "s\"";
            }
            throw config_error("expected a duration such as \"30s\" or \"5m\", got " +
                               kind_and_value(*node) + hint);
        }
        duration_ms value = parse_duration(text->get());
        if (value < min || value > max) {
            throw config_error(quote(text->get()) + " is out of range (" + format_duration(min) +
                               " to " + format_duration(max) + ")");
        }
        out = value;
    });
}

template <class T>
bool section_reader::read_list(std::string_view key, std::vector<T>& out,
                               T (*parse)(std::string_view), std::string_view empty_message) {
    const toml::node* node = find(key);
    if (node == nullptr) return true;
    std::vector<const toml::node*> items;
    if (node->is_string()) {
        items.push_back(node);
    } else if (const auto* array = node->as_array()) {
        for (const toml::node& item : *array) items.push_back(&item);
    } else {
        fail(*node, key, "expected a list of strings, got " + kind_and_value(*node));
        return false;
    }
    if (items.empty() && !empty_message.empty()) {
        fail(*node, key, std::string(empty_message));
        return false;
    }
    std::vector<T> values;
    bool ok = true;
    for (const toml::node* item : items) {
        ok &= attempt(*item, key, [&] {
            const auto* text = item->as_string();
            if (text == nullptr) {
                throw config_error("expected a string, got " + kind_and_value(*item));
            }
            T value = parse(text->get());
            for (const T& seen : values) {
                if (seen.text != value.text) continue;
                std::string as = value.text == text->get() ? "" : " (as " + quote(seen.text) + ")";
                throw config_error(quote(text->get()) + " is listed twice" + as);
            }
            values.push_back(std::move(value));
        });
    }
    if (ok) out = std::move(values);
    return ok;
}

void section_reader::check_unknown(std::span<const std::string_view> known) {
    if (_table == nullptr) return;
    for (const auto& [key, node] : *_table) {
        if (contains(known, key.str())) continue;
        _issues.add(position_of(key.source()), full_key(key.str()),
                    unknown_key_message(_section, key.str(), known));
    }
}

const toml::table* section_table(const toml::table& root, std::string_view name) {
    const toml::node* node = root.get(name);
    return node == nullptr ? nullptr : node->as_table();
}

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

// `example.net = [...]` without quotes is a table "example" holding "net".
std::string dotted_path(std::string_view key, const toml::node& node) {
    std::string path(key);
    const toml::node* at = &node;
    while (at->is_table() && !at->as_table()->empty()) {
        auto first = at->as_table()->cbegin();
        path += "." + std::string(first->first.str());
        at = &first->second;
    }
    return path;
}

template <class T>
struct placed {
    position where;
    T value;
};
using placed_route = placed<route>;

// Entries keyed by domain, in file order (so describe() lists them as the
// operator wrote them); a domain given twice is an issue at its second place.
// `what` names an entry in the message: "a route for", "settings for".
template <class T>
std::vector<T> in_file_order(std::vector<placed<T>> entries, std::string_view section,
                             std::string_view what, std::string_view verb,
                             issue_list& issues) {
    std::sort(entries.begin(), entries.end(),
              [](const placed<T>& a, const placed<T>& b) { return a.where < b.where; });
    std::vector<T> values;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const std::string& domain = entries[i].value.domain;
        for (std::size_t j = 0; j < i; ++j) {
            if (entries[j].value.domain != domain) continue;
            issues.add(entries[i].where, std::string(section) + "." + display_key(domain),
                       std::string(what) + " " + quote(domain) + " " + std::string(verb) +
                           " already given on line " + std::to_string(entries[j].where.line) +
                           " (domains ignore case)");
        }
    }
    for (placed<T>& entry : entries) values.push_back(std::move(entry.value));
    return values;
}

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

// [domains."example.net"] tables, in file order; keys as in [routes].
void read_domains(const toml::table& root, issue_list& issues,
                  std::vector<domain_policy>& out) {
    const toml::table* table = section_table(root, "domains");
    if (table == nullptr) return;
    std::vector<placed<domain_policy>> entries;
    for (const auto& [key, node] : *table) {
        position where = position_of(key.source());
        std::string domain = route_domain(key.str());
        const toml::table* settings = node.as_table();
        if (settings == nullptr) {
            issues.add(where, "domains." + display_key(key.str()),
                       "expected a table of settings, e.g. [domains.\"example.net\"] with "
                       "tls = \"required\" under it, got " + kind_and_value(node));
            continue;
        }
        if (domain.empty() || (domain != "*" && domain.find('.') == std::string::npos &&
                               settings->size() == 1 && settings->cbegin()->second.is_table())) {
            std::string path = dotted_path(key.str(), node);
            issues.add(where, "domains." + display_key(key.str()),
                       domain.empty() ? quote(key.str()) + " is not a domain name (use "
                                        "\"example.net\", \".example.net\" for its "
                                        "subdomains, or \"*\")"
                                      : "write the domain in quotes, [domains." +
                                            quote(path.substr(0, path.rfind('.'))) +
                                            "]; unquoted, its dots make nested TOML tables");
            continue;
        }
        std::string section = "domains." + display_key(key.str());
        section_reader reader(section, settings, issues);
        domain_policy value{domain};
        std::string tls;
        reader.read_string("tls", tls, check_tls_policy);
        if (!tls.empty()) value.tls = parse_tls_policy(tls);
        reader.check_unknown(domain_keys);
        entries.push_back({where, std::move(value)});
    }
    out = in_file_order(std::move(entries), "domains", "settings for", "are", issues);
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
    read_domains(root, issues, settings.domains);
    read_routes(root, issues, settings.routes);
    issues.throw_first(source_name);
    check_relations(root, issues, settings);
    issues.throw_first(source_name);
}

}  // namespace ringmta::config::detail
