// Server-side DATA reader (RFC 5321 4.5.2 transparency, 4.1.1.4 end of data): see
// ringmta/smtp/dot.h. Lines are delimited by CRLF only: a '.' is unstuffed, and the
// end of data recognized, only at the start of a line that follows a real CRLF. Bare
// LF and bare CR are content and raise bare_lf(), so LF.LF, CR.CR, LF.CRLF and CRLF.LF
// never end a message (SMTP smuggling). Content is appended in runs that end only
// where a byte is dropped (a stuffed dot, the terminator), not line by line.
#include "ringmta/smtp/dot.h"

#include <cstring>

#include "ringmta/runtime/assert.h"

namespace ringmta::smtp {

dot_unstuffer::dot_unstuffer(std::size_t body_bytes_max, std::size_t line_bytes_max)
    : _body_bytes_max(body_bytes_max), _line_bytes_max(line_bytes_max) {
    RINGMTA_ASSERT(line_bytes_max >= 3, "line_bytes_max %zu too small", line_bytes_max);
}

void dot_unstuffer::reset() {
    _state = state::line_start;
    _too_big = false;
    _line_too_long = false;
    _bare_lf = false;
    _line_bytes = 0;
    _bytes_seen = 0;
}

void dot_unstuffer::count(std::size_t size) {
    _bytes_seen += size;
    _line_bytes += size;
    if (_line_bytes > _line_bytes_max) _line_too_long = true;
    if (_bytes_seen > _body_bytes_max) _too_big = true;  // stop storing; the caller
                                                         // discards the partial body
}

void dot_unstuffer::store(const char* data, std::size_t size, std::string& body) const {
    if (!_too_big && size > 0) body.append(data, size);
}

// In the middle of a line: counts the content up to and including the next LF,
// which stays in the caller's run of input to be stored. Returns the new
// position in `in`.
std::size_t dot_unstuffer::feed_mid_line(std::string_view in, std::size_t i) {
    const char* p = in.data();
    const void* lf = std::memchr(p + i, '\n', in.size() - i);
    const std::size_t end = lf ? std::size_t(static_cast<const char*>(lf) - p) : in.size();
    // [i, end) holds no LF; a CR before `end - 1` cannot be followed by a LF.
    const bool ends_cr = end > i && p[end - 1] == '\r';
    const std::size_t text_end = ends_cr ? end - 1 : end;
    if (!_bare_lf && std::memchr(p + i, '\r', text_end - i) != nullptr) _bare_lf = true;
    if (lf == nullptr) {
        count(end - i);
        _state = ends_cr ? state::cr : state::mid_line;
        return end;
    }
    count(end + 1 - i);
    _line_bytes = 0;
    if (ends_cr) {
        _state = state::line_start;
    } else {
        _bare_lf = true;  // stays mid-line: a '.' after a bare LF is content
    }
    return end + 1;
}

// Content is stored in runs: the input from `run` up to the current position is
// all content, appended in one go when a byte that is not content (a stuffed dot,
// the terminator) interrupts it or the input ends.
dot_unstuffer::result dot_unstuffer::feed(std::string_view in, std::string& body) {
    if (_state == state::done) return {0, true};
    const char* p = in.data();
    std::size_t run = 0;
    std::size_t i = 0;
    while (i < in.size()) {
        const char c = p[i];
        switch (_state) {
        case state::mid_line:
            i = feed_mid_line(in, i);
            break;
        case state::line_start:
            if (c == '.') {
                store(p + run, i - run, body);
                run = ++i;
                _state = state::dot;
            } else {
                _state = state::mid_line;
            }
            break;
        case state::cr:
            if (c == '\n') {
                count(1);
                ++i;
                _line_bytes = 0;
                _state = state::line_start;
            } else {
                _bare_lf = true;  // a CR not followed by LF
                _state = state::mid_line;
            }
            break;
        case state::dot:  // the stuffed dot is out of the run already
            if (c == '\r') {
                run = ++i;  // content only if no LF follows: stored below if so
                _state = state::dot_cr;
            } else {
                _state = state::mid_line;  // ".x"
            }
            break;
        case state::dot_cr:
            if (c == '\n') {  // the run restarted after the CR: nothing to store
                _state = state::done;
                return {i + 1, true};
            }
            count(1);
            store("\r", 1, body);  // ".\rx": dot dropped, the bare CR is content
            _state = state::cr;
            break;
        case state::done:
            RINGMTA_ASSERT(false, "dot_unstuffer::feed past the end of data");
            return {i, true};
        }
    }
    store(p + run, i - run, body);
    return {i, false};
}

}  // namespace ringmta::smtp
