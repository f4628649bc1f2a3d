// Header fields of a message (see header.h).
#include "ringmta/smtp/header.h"

#include "text.h"

namespace ringmta::smtp {

namespace {

// The line starting at `at` without its line end, and where the next one starts.
std::string_view line_at(std::string_view content, std::size_t at, std::size_t* next) {
    const std::size_t newline = content.find('\n', at);
    *next = newline == std::string_view::npos ? content.size() : newline + 1;
    std::string_view line = content.substr(at, *next - at);
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

bool is_fold(std::string_view line) {
    return !line.empty() && (line.front() == ' ' || line.front() == '\t');
}

}  // namespace

std::string_view header_section(std::string_view content) {
    for (std::size_t at = 0, next = 0; at < content.size(); at = next) {
        if (line_at(content, at, &next).empty()) return content.substr(0, at);
    }
    return content;
}

std::optional<std::string_view> header_value(std::string_view content, std::string_view name) {
    const std::string_view headers = header_section(content);
    for (std::size_t at = 0, next = 0; at < headers.size(); at = next) {
        std::string_view line = line_at(headers, at, &next);
        if (!detail::istarts_with(line, name)) continue;
        // RFC 5322 allows no space before the colon; obsolete syntax (4.5.3) does.
        std::size_t colon = name.size();
        while (colon < line.size() && (line[colon] == ' ' || line[colon] == '\t')) ++colon;
        if (name.empty() || colon >= line.size() || line[colon] != ':') continue;
        const std::size_t value_at = at + colon + 1;
        std::size_t end = next;
        while (end < headers.size()) {
            std::size_t after = 0;
            if (!is_fold(line_at(headers, end, &after))) break;
            end = after;
        }
        while (end > value_at && (headers[end - 1] == '\n' || headers[end - 1] == '\r')) --end;
        return detail::trim_spaces(headers.substr(value_at, end - value_at));
    }
    return std::nullopt;
}

}  // namespace ringmta::smtp
