// Errors collected while reading the file; the first in the file is thrown.
#include "issue_list.h"

#include <ringmta/config/config_error.h>

#include "loader.h"

#include <algorithm>

namespace ringmta::config::detail {

void issue_list::add(position where, std::string key, std::string message) {
    _issues.push_back({where, std::move(key), std::move(message)});
}

void issue_list::throw_first(std::string_view source_name) const {
    if (_issues.empty()) return;
    // min_element keeps the first added among equal positions.
    auto earlier = [](const issue& a, const issue& b) { return a.where < b.where; };
    auto first = std::min_element(_issues.begin(), _issues.end(), earlier);
    throw config_error(located(source_name, first->where.line, first->where.column, first->key,
                               first->message));
}

}  // namespace ringmta::config::detail
