// Private: errors found while reading the file, each with its position, so the
// loader can report the one first in the file whatever order it found them in.
#pragma once

#include <compare>
#include <string>
#include <string_view>
#include <vector>

namespace ringmta::config::detail {

struct position {
    unsigned line = 1;
    unsigned column = 1;
    auto operator<=>(const position&) const = default;
};

struct issue {
    position where;
    std::string key;
    std::string message;
};

class issue_list {
public:
    void add(position where, std::string key, std::string message);
    bool empty() const { return _issues.empty(); }
    // Throws config_error for the issue first in the file; nothing when there is none.
    void throw_first(std::string_view source_name) const;

private:
    std::vector<issue> _issues;
};

}  // namespace ringmta::config::detail
