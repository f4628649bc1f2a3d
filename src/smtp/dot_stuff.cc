// Client-side DATA writer (RFC 5321 4.5.2 transparency, 2.3.8 line ends): see
// ringmta/smtp/dot.h. Hot path of delivery: lines are found with memchr and copied
// with one append each; only bare CR/LF and leading dots take the slow path.
#include <cstring>

#include "ringmta/smtp/dot.h"

namespace ringmta::smtp {

void dot_stuff(std::string_view content, std::string& out, dot_stuff_state& state) {
    const char* p = content.data();
    const std::size_t n = content.size();
    std::size_t i = 0;
    while (i < n) {
        if (state.last_was_cr) {
            // CRLF was already written for the CR; its LF (if that is what follows) is
            // part of the same line end.
            state.last_was_cr = false;
            if (p[i] == '\n') {
                ++i;
                continue;
            }
        }
        if (state.at_line_start) {
            state.at_line_start = false;
            if (p[i] == '.') out += '.';
        }
        const void* lf = std::memchr(p + i, '\n', n - i);
        const std::size_t end = lf ? std::size_t(static_cast<const char*>(lf) - p) : n;
        const bool crlf = lf != nullptr && end > i && p[end - 1] == '\r';
        const std::size_t text_end = crlf ? end - 1 : end;
        const void* cr = std::memchr(p + i, '\r', text_end - i);
        if (cr != nullptr) {
            // A CR that is not part of a CRLF ends the line too (RFC 5321 2.3.8).
            const std::size_t at = std::size_t(static_cast<const char*>(cr) - p);
            out.append(p + i, at - i);
            out += "\r\n";
            state.last_was_cr = true;
            state.at_line_start = true;
            i = at + 1;
            continue;
        }
        if (lf == nullptr) {
            out.append(p + i, n - i);
            return;
        }
        out.append(p + i, text_end - i);
        out += "\r\n";  // CRLF as sent, or a bare LF made CRLF
        state.at_line_start = true;
        i = end + 1;
    }
}

void dot_stuff_finish(std::string& out, dot_stuff_state& state) {
    if (!state.at_line_start) out += "\r\n";
    out += ".\r\n";
    state = dot_stuff_state{};
}

}  // namespace ringmta::smtp
