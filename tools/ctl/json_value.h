// A small JSON reader for the admin endpoint's answers (RFC 8259): objects,
// arrays, strings (\uXXXX included), numbers, true, false, null. Depth and size
// bounded; enough for ringmta-ctl, not a general library.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringmta::ctl {

struct json_value {
    enum class kind { null, boolean, number, string, array, object } type = kind::null;
    bool boolean = false;
    double number = 0;
    std::string text;
    std::vector<json_value> items;                           // array
    std::vector<std::pair<std::string, json_value>> fields;  // object, in order

    // The field `name` of an object, or nullptr.
    const json_value* get(std::string_view name) const;
    std::string string_or(std::string_view name, std::string fallback = {}) const;
    double number_or(std::string_view name, double fallback = 0) const;
    bool bool_or(std::string_view name, bool fallback = false) const;
};

// The document, or nullopt if it is not JSON.
std::optional<json_value> parse_json(std::string_view text);

}  // namespace ringmta::ctl
