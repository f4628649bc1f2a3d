// Incremental client-side reply parser (RFC 5321 4.2): see ringmta/smtp/reply.h.
// The parser keeps the lines it has split so far, so a reply fed one byte at a time
// costs O(size) in all, not O(size^2): it never rescans bytes it has seen.
#include <algorithm>
#include <cstring>

#include "ringmta/runtime/assert.h"
#include "ringmta/smtp/reply.h"
#include "text.h"

namespace ringmta::smtp {

reply_parser::reply_parser(std::size_t line_max, std::size_t lines_max)
    : _line_max(line_max), _lines_max(lines_max) {
    RINGMTA_ASSERT(line_max >= 5 && lines_max >= 1, "reply_parser limits %zu/%zu too small",
                   line_max, lines_max);
}

void reply_parser::reset() {
    _scanned_bytes = 0;
    _searched_bytes = 0;
    _ready = false;
    _reply = reply{};
}

// An error leaves the parser ready for a fresh reply.
reply_parser::result reply_parser::fail() {
    reset();
    return {status::error, 0};
}

namespace {

// Parses "ddd" of a reply line; -1 if it is not a reply code (first digit 2..5).
int parse_code(std::string_view line) {
    if (line.size() < 3 || line[0] < '2' || line[0] > '5' || !detail::is_digit(line[1]) ||
        !detail::is_digit(line[2])) {
        return -1;
    }
    return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

}  // namespace

// Adds one line (without its line end) to the reply being built. Returns false when
// the line is malformed; sets _ready when it was the last line.
bool reply_parser::add_line(std::string_view line) {
    const int code = parse_code(line);
    if (code < 0) return false;
    if (!_reply.lines.empty() && code != _reply.code) return false;
    if (_reply.lines.size() >= _lines_max) return false;
    bool last = true;
    if (line.size() > 3) {
        if (line[3] == '-') {
            last = false;
        } else if (line[3] != ' ') {
            return false;
        }
    }
    std::string_view text = line.size() > 3 ? line.substr(4) : std::string_view{};
    const std::size_t enhanced_length = detail::enhanced_code_length(text);
    if (enhanced_length > 0 && text[0] == line[0]) {
        if (_reply.enhanced.empty()) _reply.enhanced.assign(text.substr(0, enhanced_length));
        text.remove_prefix(enhanced_length);
        if (!text.empty()) text.remove_prefix(1);  // the space after the code
    }
    _reply.code = code;
    _reply.lines.emplace_back(text);
    _ready = last;
    return true;
}

reply_parser::result reply_parser::parse(std::string_view in) {
    RINGMTA_ASSERT(!_ready, "reply_parser::parse before take() of the previous reply");
    RINGMTA_ASSERT(in.size() >= _scanned_bytes, "reply_parser input shrank: %zu < %zu",
                   in.size(), _scanned_bytes);
    std::size_t line_start = _scanned_bytes;
    std::size_t search_from = std::max(_searched_bytes, line_start);
    while (line_start < in.size()) {
        const void* lf = std::memchr(in.data() + search_from, '\n', in.size() - search_from);
        if (lf == nullptr) {
            // Even with just a LF to come, the line would be longer than allowed.
            if (in.size() - line_start >= _line_max) return fail();
            search_from = in.size();
            break;
        }
        const std::size_t end = std::size_t(static_cast<const char*>(lf) - in.data());
        if (end + 1 - line_start > _line_max) return fail();
        std::string_view line = in.substr(line_start, end - line_start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!add_line(line)) return fail();
        line_start = end + 1;
        search_from = line_start;
        if (_ready) {
            _scanned_bytes = 0;
            _searched_bytes = 0;
            return {status::ready, line_start};
        }
    }
    _scanned_bytes = line_start;
    _searched_bytes = search_from;
    return {status::need_more, 0};
}

reply reply_parser::take() {
    RINGMTA_ASSERT(_ready, "reply_parser::take without a ready reply");
    _ready = false;
    reply taken = std::move(_reply);
    _reply = reply{};
    return taken;
}

}  // namespace ringmta::smtp
