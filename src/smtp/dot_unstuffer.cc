// Server-side DATA reader (RFC 5321 4.5.2 transparency, 4.1.1.4 end of data): see
// ringmta/smtp/dot.h. Lines are delimited by CRLF only: a '.' is unstuffed, and the
// end of data recognized, only at the start of a line that follows a real CRLF. Bare
// LF and bare CR are content and raise bare_lf(), so LF.LF, CR.CR, LF.CRLF and CRLF.LF
// never end a message (SMTP smuggling). Content is appended in runs that end only
// where a byte is dropped (a stuffed dot, the terminator), not line by line.
#include "ringmta/smtp/dot.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

inline void dot_unstuffer::count(std::size_t size) {
    _bytes_seen += size;
    _line_bytes += size;
    if (_line_bytes > _line_bytes_max) _line_too_long = true;
    if (_bytes_seen > _body_bytes_max) _too_big = true;  // stop storing; the caller
                                                         // discards the partial body
}

void dot_unstuffer::store(const char* data, std::size_t size, std::string& body) const {
    if (!_too_big && size > 0) body.append(data, size);
}

namespace {

// The first CR or LF in [p, end), or end. Lines average 70-80 octets in mail, so the
// scan goes 32 octets a step where SSE2 is there (every x86-64), a byte a step
// elsewhere.
const char* find_line_break(const char* p, const char* end) {
#if defined(__SSE2__)
    const __m128i cr = _mm_set1_epi8('\r');
    const __m128i lf = _mm_set1_epi8('\n');
    auto breaks = [&](const char* at) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
        return static_cast<unsigned>(
            _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf))));
    };
    while (end - p >= 32) {
        const unsigned hits = breaks(p) | breaks(p + 16) << 16;
        if (hits != 0) return p + __builtin_ctz(hits);
        p += 32;
    }
    if (end - p >= 16) {
        if (const unsigned hits = breaks(p); hits != 0) return p + __builtin_ctz(hits);
        p += 16;
    }
#endif
    while (p < end && *p != '\r' && *p != '\n') ++p;
    return p;
}

}  // namespace

// In the middle of a line: counts content line after line, which stays in the
// caller's run of input to be stored, until the input ends or a line starts with
// '.' (left to the caller, in state line_start). Returns the new position in `in`.
std::size_t dot_unstuffer::feed_mid_line(std::string_view in, std::size_t i) {
    const char* p = in.data();
    const std::size_t size = in.size();
    std::size_t uncounted = i;  // content from here to i is not counted yet
    while (true) {
        const std::size_t at = std::size_t(find_line_break(p + i, p + size) - p);
        if (at == size) {
            count(size - uncounted);
            _state = state::mid_line;
            return size;
        }
        if (p[at] == '\n') {
            // A bare LF: content, and the line's length starts again, but a '.' after
            // it is content too (the line did not end with CRLF).
            count(at + 1 - uncounted);
            _line_bytes = 0;
            _bare_lf = true;
            i = uncounted = at + 1;
            continue;
        }
        if (at + 1 == size) {  // a CR last: the next input says whether a LF follows
            count(size - uncounted);
            _state = state::cr;
            return size;
        }
        if (p[at + 1] != '\n') {  // a CR not followed by LF: content
            _bare_lf = true;
            i = at + 1;
            continue;
        }
        count(at + 2 - uncounted);
        _line_bytes = 0;
        i = uncounted = at + 2;
        if (i == size || p[i] == '.') {
            _state = state::line_start;
            return i;
        }
    }
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
