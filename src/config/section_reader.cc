// The toml++ side of the loader shared by every section: positions, value
// descriptions and section_reader's typed reads. See section_reader.h.
#include "section_reader.h"

#include "text.h"

#include <sstream>

namespace ringmta::config::detail {

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

void section_reader::read_count(std::string_view key, std::uint64_t& out, std::uint64_t min,
                                std::uint64_t max) {
    const toml::node* node = find(key);
    if (node == nullptr) return;
    attempt(*node, key, [&] {
        const auto* number = node->as_integer();
        if (number == nullptr) {
            throw config_error("expected an integer, got " + kind_and_value(*node));
        }
        std::int64_t value = number->get();
        if (value < 0 || static_cast<std::uint64_t>(value) < min ||
            static_cast<std::uint64_t>(value) > max) {
            throw config_error(std::to_string(value) + " is out of range (" +
                               std::to_string(min) + " to " + std::to_string(max) + ")");
        }
        out = static_cast<std::uint64_t>(value);
    });
}

void section_reader::read_unsigned(std::string_view key, unsigned& out, unsigned min,
                                   unsigned max) {
    std::uint64_t value = out;
    read_count(key, value, min, max);
    out = static_cast<unsigned>(value);
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

bool section_reader::list_items(const toml::node& node, std::string_view key,
                                std::vector<const toml::node*>& items) {
    if (node.is_string()) {
        items.push_back(&node);
    } else if (const auto* array = node.as_array()) {
        for (const toml::node& item : *array) items.push_back(&item);
    } else {
        fail(node, key, "expected a list of strings, got " + kind_and_value(node));
        return false;
    }
    return true;
}

bool section_reader::read_text_list(std::string_view key, std::vector<std::string>& out,
                                    std::string (*normalize)(std::string_view),
                                    std::size_t items_max) {
    const toml::node* node = find(key);
    if (node == nullptr) return true;
    std::vector<const toml::node*> items;
    if (!list_items(*node, key, items)) return false;
    if (items.size() > items_max) {
        fail(*node, key, std::to_string(items.size()) + " items are too many (at most " +
                             std::to_string(items_max) + ")");
        return false;
    }
    std::vector<std::string> values;
    bool ok = true;
    for (const toml::node* item : items) {
        ok &= attempt(*item, key, [&] {
            const auto* text = item->as_string();
            if (text == nullptr) {
                throw config_error("expected a string, got " + kind_and_value(*item));
            }
            std::string value = normalize(text->get());
            if (std::find(values.begin(), values.end(), value) != values.end()) {
                throw config_error(quote(text->get()) + " is listed twice");
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

}  // namespace ringmta::config::detail
