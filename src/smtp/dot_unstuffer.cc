// Server-side DATA reader (RFC 5321 4.5.2 transparency, 4.1.1.4 end of data): see
// ringmta/smtp/dot.h. Lines are delimited by CRLF only: a '.' is unstuffed, and the
// end of data recognized, only at the start of a line that follows a real CRLF. Bare
// LF and bare CR are content and raise bare_lf(), so LF.LF, CR.CR, LF.CRLF and CRLF.LF
// never end a message (SMTP smuggling). The middle of a line is copied in bulk.
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

void dot_unstuffer::emit(const char* data, std::size_t size, std::string& body) {
    _bytes_seen += size;
    _line_bytes += size;
    if (_line_bytes > _line_bytes_max) _line_too_long = true;
    if (_too_big) return;
    if (_bytes_seen > _body_bytes_max) {
        _too_big = true;  // stop storing; the caller discards the partial body
        return;
    }
    body.append(data, size);
}

// In the middle of a line: copies up to and including the next LF in one append.
// Returns the new position in `in`.
std::size_t dot_unstuffer::feed_mid_line(std::string_view in, std::size_t i,
                                         std::string& body) {
    const char* p = in.data();
    const void* lf = std::memchr(p + i, '\n', in.size() - i);
    const std::size_t end = lf ? std::size_t(static_cast<const char*>(lf) - p) : in.size();
    // [i, end) holds no LF; a CR before `end - 1` cannot be followed by a LF.
    const bool ends_cr = end > i && p[end - 1] == '\r';
    const std::size_t text_end = ends_cr ? end - 1 : end;
    if (!_bare_lf && std::memchr(p + i, '\r', text_end - i) != nullptr) _bare_lf = true;
    if (lf == nullptr) {
        emit(p + i, end - i, body);
        _state = ends_cr ? state::cr : state::mid_line;
        return end;
    }
    emit(p + i, end + 1 - i, body);
    _line_bytes = 0;
    if (ends_cr) {
        _state = state::line_start;
    } else {
        _bare_lf = true;  // stays mid-line: a '.' after a bare LF is content
    }
    return end + 1;
}

// One byte of the states around line starts and CRs. Returns 1 when `c` was consumed,
// 0 when the state changed and `c` must be looked at again.
std::size_t dot_unstuffer::feed_byte(char c, std::string& body) {
    switch (_state) {
    case state::line_start:
        if (c == '.') {
            _state = state::dot;
            return 1;
        }
        _state = state::mid_line;
        return 0;
    case state::cr:
        if (c == '\n') {
            emit("\n", 1, body);
            _line_bytes = 0;
            _state = state::line_start;
            return 1;
        }
        _bare_lf = true;  // a CR not followed by LF
        _state = state::mid_line;
        return 0;
    case state::dot:
        if (c == '\r') {
            _state = state::dot_cr;
            return 1;
        }
        _state = state::mid_line;  // ".x": the stuffed dot is dropped
        return 0;
    case state::dot_cr:
        if (c == '\n') {
            _state = state::done;
            return 1;
        }
        emit("\r", 1, body);  // ".\rx": dot dropped, the bare CR is content
        _state = state::cr;
        return 0;
    case state::mid_line:
    case state::done:
        break;
    }
    RINGMTA_ASSERT(false, "dot_unstuffer::feed_byte in state %d", int(_state));
    return 0;
}

dot_unstuffer::result dot_unstuffer::feed(std::string_view in, std::string& body) {
    if (_state == state::done) return {0, true};
    std::size_t i = 0;
    while (i < in.size()) {
        if (_state == state::mid_line) {
            i = feed_mid_line(in, i, body);
            continue;
        }
        i += feed_byte(in[i], body);
        if (_state == state::done) return {i, true};
    }
    return {i, false};
}

}  // namespace ringmta::smtp
