// Private: the toml++ side of the configuration loader, shared by loader.cc and
// throttle_loader.cc (the only files that include this header and so toml++, a
// heavy header). section_reader reads one table's keys into typed fields and
// turns every bad value into an issue at its position.
#pragma once

#include "issue_list.h"
#include "schema.h"
#include "text.h"

#include <toml++/toml.h>

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringmta::config::detail {

position position_of(const toml::source_region& region);

// "an integer (5)", "a string (\"5\")": what the operator wrote, named and quoted.
std::string kind_and_value(const toml::node& node);

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
    void read_count(std::string_view key, std::uint64_t& out, std::uint64_t min,
                    std::uint64_t max);
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
    // A list of strings (or one string), each made canonical by normalize (which
    // throws config_error for a bad one); a value given twice is an issue. At most
    // items_max items.
    bool read_text_list(std::string_view key, std::vector<std::string>& out,
                        std::string (*normalize)(std::string_view), std::size_t items_max);
    void check_unknown(std::span<const std::string_view> known);

private:
    // The items of a list value, or the one string; false (an issue) otherwise.
    bool list_items(const toml::node& node, std::string_view key,
                    std::vector<const toml::node*>& items);

    std::string_view _section;
    const toml::table* _table;
    issue_list& _issues;
};

template <class T>
inline bool section_reader::read_list(std::string_view key, std::vector<T>& out,
                               T (*parse)(std::string_view), std::string_view empty_message) {
    const toml::node* node = find(key);
    if (node == nullptr) return true;
    std::vector<const toml::node*> items;
    if (!list_items(*node, key, items)) return false;
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

const toml::table* section_table(const toml::table& root, std::string_view name);

// `example.net = [...]` without quotes is a table "example" holding "net".
std::string dotted_path(std::string_view key, const toml::node& node);

template <class T>
struct placed {
    position where;
    T value;
};

// Entries keyed by domain, in file order (so describe() lists them as the
// operator wrote them); a domain given twice is an issue at its second place.
// `what` names an entry in the message: "a route for", "settings for".
template <class T>
inline std::vector<T> in_file_order(std::vector<placed<T>> entries, std::string_view section,
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

}  // namespace ringmta::config::detail
