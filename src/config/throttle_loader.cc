// The throttle sections: [domains], [groups], [sources]. See throttle_loader.h.
#include "throttle_loader.h"

#include "text.h"

#include <algorithm>

namespace ringmta::config::detail {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t pattern_chars_max = 200;

// The limit keys of a table. A source table may say 0 (no limit) everywhere; a
// destination leaves a key out for the [delivery] default instead.
void read_limits(section_reader& reader, throttle_limits& out, bool for_source) {
    const unsigned low = for_source ? 0 : 1;
    reader.read_unsigned("max_connections", out.max_connections, low,
                         destination_connections_max);
    reader.read_unsigned("max_messages_per_connection", out.max_messages_per_connection, low,
                         messages_per_connection_max);
    reader.read_unsigned("max_recipients_per_message", out.max_recipients_per_message, low,
                         recipients_max);
    reader.read_rate("message_rate", out.message_rate);
    reader.read_rate("connection_rate", out.connection_rate);
    reader.read_count("max_deliveries_per_day", out.max_deliveries_per_day, 0,
                      deliveries_per_day_max);
}

std::string normalize_pattern(std::string_view text) {
    std::string value = lowercase(text);
    if (value.empty()) {
        throw config_error("\"\" is empty; a pattern is text a throttling reply contains, "
                           "e.g. \"try again later\"");
    }
    if (value.size() > pattern_chars_max) {
        throw config_error(quote(text.substr(0, 20)) + "... is longer than " +
                           std::to_string(pattern_chars_max) + " characters");
    }
    return value;
}

void read_backoff(section_reader& reader, backoff_policy& out) {
    reader.read_text_list("backoff_patterns", out.patterns, normalize_pattern,
                          backoff_patterns_max);
    reader.read_unsigned("backoff_suspend_after", out.suspend_after, 0, suspend_after_max);
    reader.read_duration("backoff_suspend_time", out.suspend_time, 1s, 24h * 7);
    reader.read_unsigned("backoff_floor_percent", out.floor_percent, 1, 100);
}

// A key left out of `own` takes the "*" entry's value (its default when "*" left
// it out too, so copying unconditionally is right).
void inherit(const toml::table& own, const domain_policy& star, throttle_limits& limits,
             backoff_policy& backoff) {
    auto unset = [&](std::string_view key) { return !own.contains(key); };
    const throttle_limits& from = star.limits;
    if (unset("max_connections")) limits.max_connections = from.max_connections;
    if (unset("max_messages_per_connection")) {
        limits.max_messages_per_connection = from.max_messages_per_connection;
    }
    if (unset("max_recipients_per_message")) {
        limits.max_recipients_per_message = from.max_recipients_per_message;
    }
    if (unset("message_rate")) limits.message_rate = from.message_rate;
    if (unset("connection_rate")) limits.connection_rate = from.connection_rate;
    if (unset("max_deliveries_per_day")) {
        limits.max_deliveries_per_day = from.max_deliveries_per_day;
    }
    if (unset("backoff_patterns")) backoff.patterns = star.backoff.patterns;
    if (unset("backoff_suspend_after")) backoff.suspend_after = star.backoff.suspend_after;
    if (unset("backoff_suspend_time")) backoff.suspend_time = star.backoff.suspend_time;
    if (unset("backoff_floor_percent")) backoff.floor_percent = star.backoff.floor_percent;
}

// The [<section>.sources."ip"] tables under one entry (or the top-level
// [sources]); `section` is the entry's key path, e.g. domains."example.com".
std::vector<source_limits> read_sources(const toml::node* node, const std::string& section,
                                        issue_list& issues) {
    std::vector<source_limits> out;
    if (node == nullptr) return out;
    const std::string path = section.empty() ? "sources" : section + ".sources";
    const toml::table* table = node->as_table();
    if (table == nullptr) {
        issues.add(position_of(node->source()), path,
                   "expected a table of source addresses, e.g. [" + path +
                       ".\"192.0.2.10\"], got " + kind_and_value(*node));
        return out;
    }
    std::vector<placed<source_limits>> entries;
    for (const auto& [key, value] : *table) {
        position where = position_of(key.source());
        const std::string entry_key = path + "." + display_key(key.str());
        source_limits entry;
        try {
            entry.address = parse_address(key.str()).text;
        } catch (const config_error& error) {
            issues.add(where, entry_key, error.what());
            continue;
        }
        const toml::table* settings = value.as_table();
        if (settings == nullptr) {
            issues.add(where, entry_key,
                       "expected a table of limits, e.g. message_rate = \"10/s\" under [" +
                           entry_key + "], got " + kind_and_value(value));
            continue;
        }
        section_reader reader(entry_key, settings, issues);
        read_limits(reader, entry.limits, true);
        reader.check_unknown(source_keys);
        entries.push_back({where, std::move(entry)});
    }
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.where < b.where; });
    for (std::size_t i = 0; i < entries.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            if (entries[j].value.address != entries[i].value.address) continue;
            issues.add(entries[i].where, path + "." + display_key(entries[i].value.address),
                       "limits for " + quote(entries[i].value.address) +
                           " are already given on line " + std::to_string(entries[j].where.line));
        }
    }
    for (placed<source_limits>& entry : entries) out.push_back(std::move(entry.value));
    return out;
}

struct domain_entry {
    position where;
    domain_policy value;
    const toml::table* table;
};

// One [domains."x"] table; false (and an issue) when the key or the node is wrong.
bool read_domain(std::string_view key, const toml::node& node, position where,
                 issue_list& issues, domain_entry& out) {
    std::string domain = route_domain(key);
    const toml::table* settings = node.as_table();
    if (settings == nullptr) {
        issues.add(where, "domains." + display_key(key),
                   "expected a table of settings, e.g. [domains.\"example.net\"] with "
                   "tls = \"required\" under it, got " + kind_and_value(node));
        return false;
    }
    if (domain.empty() || (domain != "*" && domain.find('.') == std::string::npos &&
                           settings->size() == 1 && settings->cbegin()->second.is_table() &&
                           !settings->contains("sources"))) {
        std::string path = dotted_path(key, node);
        issues.add(where, "domains." + display_key(key),
                   domain.empty() ? quote(key) + " is not a domain name (use "
                                    "\"example.net\", \".example.net\" for its "
                                    "subdomains, or \"*\")"
                                  : "write the domain in quotes, [domains." +
                                        quote(path.substr(0, path.rfind('.'))) +
                                        "]; unquoted, its dots make nested TOML tables");
        return false;
    }
    std::string section = "domains." + display_key(key);
    section_reader reader(section, settings, issues);
    out = {where, domain_policy{domain}, settings};
    std::string tls;
    reader.read_string("tls", tls, check_tls_policy);
    if (!tls.empty()) out.value.tls = parse_tls_policy(tls);
    read_limits(reader, out.value.limits, false);
    read_backoff(reader, out.value.backoff);
    out.value.sources = read_sources(reader.find("sources"), section, issues);
    reader.check_unknown(domain_keys);
    return true;
}

// [domains."example.net"] tables, in file order; keys as in [routes].
void read_domains(const toml::table& root, issue_list& issues, config& out) {
    const toml::table* table = section_table(root, "domains");
    if (table == nullptr) return;
    std::vector<domain_entry> read;
    for (const auto& [key, node] : *table) {
        domain_entry entry;
        if (read_domain(key.str(), node, position_of(key.source()), issues, entry)) {
            read.push_back(std::move(entry));
        }
    }
    auto star = std::find_if(read.begin(), read.end(),
                             [](const domain_entry& e) { return e.value.domain == "*"; });
    // A copy: the entries are moved out below, "*" among them.
    const domain_policy defaults = star != read.end() ? star->value : domain_policy{"*"};
    std::vector<placed<domain_policy>> entries;
    for (domain_entry& entry : read) {
        if (star != read.end() && &entry != &*star) {
            inherit(*entry.table, defaults, entry.value.limits, entry.value.backoff);
            if (!entry.table->contains("tls")) entry.value.tls = defaults.tls;
        }
        entries.push_back({entry.where, std::move(entry.value)});
    }
    out.domains = in_file_order(std::move(entries), "domains", "settings for", "are", issues);
}

std::string normalize_group_domain(std::string_view text) {
    std::string domain = route_domain(text);
    if (domain.empty() || domain == "*" || domain.front() == '.') {
        throw config_error(quote(text) + " is not a domain name (a group lists whole "
                                         "domains, e.g. \"gmail.com\")");
    }
    return domain;
}

std::string normalize_mx_pattern(std::string_view text) {
    std::string pattern = lowercase(text);
    if (pattern.size() > 1 && pattern.back() == '.') pattern.pop_back();
    std::string_view name = pattern;
    if (name.starts_with("*.")) name.remove_prefix(2);
    if (!is_domain_name(name)) {
        throw config_error(quote(text) + " is not an exchanger host or pattern (use "
                                         "\"mx.example.net\" or \"*.google.com\")");
    }
    return pattern;
}

bool is_group_name(std::string_view name) {
    return !name.empty() && name.size() <= 64 &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
           });
}

}  // namespace

namespace {

// One [groups."name"] table into out; false (and an issue) when it is unusable.
bool read_group(std::string_view key, const toml::node& node, position where,
                issue_list& issues, const domain_policy* star, group_policy& out) {
    const std::string section = "groups." + display_key(key);
    if (!is_group_name(key)) {
        issues.add(where, section,
                   quote(key) + " is not a group name (lower-case letters, digits, '_' and "
                                "'-', at most 64)");
        return false;
    }
    const toml::table* settings = node.as_table();
    if (settings == nullptr) {
        issues.add(where, section,
                   "expected a table of settings, e.g. [groups.\"google\"] with mx = "
                   "[\"*.google.com\"] under it, got " + kind_and_value(node));
        return false;
    }
    section_reader reader(section, settings, issues);
    out.name = std::string(key);
    bool lists_ok = reader.read_text_list("domains", out.domains, normalize_group_domain,
                                          group_names_max);
    lists_ok &= reader.read_text_list("mx", out.mx, normalize_mx_pattern, group_names_max);
    read_limits(reader, out.limits, false);
    read_backoff(reader, out.backoff);
    out.sources = read_sources(reader.find("sources"), section, issues);
    reader.check_unknown(group_keys);
    if (star != nullptr) inherit(*settings, *star, out.limits, out.backoff);
    if (lists_ok && out.domains.empty() && out.mx.empty()) {
        issues.add(where, section,
                   "the group has no members; give domains = [\"gmail.com\", ...] or "
                   "mx = [\"*.google.com\", ...]");
        return false;
    }
    return true;
}

// A domain may belong to one group only: its budget must have one owner.
void check_group_domains(const std::vector<placed<group_policy>>& groups, issue_list& issues,
                         const toml::table& table) {
    for (std::size_t i = 0; i < groups.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            for (const std::string& domain : groups[i].value.domains) {
                if (!groups[j].value.has_domain(domain)) continue;
                const std::string& name = groups[i].value.name;
                const toml::node* list = table.get(name)->as_table()->get("domains");
                issues.add(position_of(list->source()), "groups." + display_key(name) +
                           ".domains", quote(domain) + " is already in group " +
                           quote(groups[j].value.name) + " (line " +
                           std::to_string(groups[j].where.line) +
                           "); a domain belongs to one group");
            }
        }
    }
}

void read_groups(const toml::table& root, issue_list& issues, config& out) {
    const toml::table* table = section_table(root, "groups");
    if (table == nullptr) return;
    const domain_policy* star = nullptr;
    for (const domain_policy& entry : out.domains) {
        if (entry.domain == "*") star = &entry;
    }
    std::vector<placed<group_policy>> groups;
    for (const auto& [key, node] : *table) {
        group_policy group;
        position where = position_of(key.source());
        if (read_group(key.str(), node, where, issues, star, group)) {
            groups.push_back({where, std::move(group)});
        }
    }
    std::sort(groups.begin(), groups.end(),
              [](const auto& a, const auto& b) { return a.where < b.where; });
    check_group_domains(groups, issues, *table);
    for (placed<group_policy>& group : groups) out.groups.push_back(std::move(group.value));
}

}  // namespace

void read_throttle_sections(const toml::table& root, issue_list& issues, config& out) {
    read_domains(root, issues, out);
    read_groups(root, issues, out);
    out.sources = read_sources(root.get("sources"), "", issues);
}

}  // namespace ringmta::config::detail
