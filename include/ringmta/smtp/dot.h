// DATA transparency (RFC 5321 4.5.2): the server-side reader that removes dot
// stuffing and finds the end of data, and the client-side writer that adds it.
// Pure code, no I/O. The end of data is ONLY CRLF "." CRLF: bare LF or CR variants
// (LF.LF, CR.CR, LF.CRLF, CRLF.LF) are content, so ringmta never splits a message
// where a downstream receiver would not (SMTP smuggling, CVE-2023-51764/5/6).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringmta::smtp {

// Server side DATA reader. Consumes the bytes after "354": appends the unstuffed
// content to `body` (CRLF line endings kept exactly, the leading '.' of a line that
// starts after a CRLF removed), and stops right after the terminating CRLF.CRLF; the
// DATA command's own line end counts as the first CRLF, so "." CRLF as the very first
// line ends an empty message. The terminator is not content: the body ends with the
// final CRLF of its last line (empty body = ""). Incremental: input can be split
// anywhere, e.g. byte by byte; memory is bounded by body_bytes_max.
class dot_unstuffer {
public:
    explicit dot_unstuffer(std::size_t body_bytes_max, std::size_t line_bytes_max = 1000);

    struct result {
        std::size_t consumed;
        bool done;
    };
    // consumed < in.size() only when done. Feeding again after done consumes nothing.
    result feed(std::string_view in, std::string& body);

    // Content exceeded body_bytes_max: appending stopped (body holds a prefix), the
    // reader keeps consuming to the end of data.
    bool too_big() const { return _too_big; }
    // A line exceeded line_bytes_max incl. its line end, not counting a removed dot.
    bool line_too_long() const { return _line_too_long; }
    // Saw a LF not preceded by CR, or a CR not followed by LF.
    bool bare_lf() const { return _bare_lf; }
    // Content octets (after unstuffing, without the terminator), stored or not.
    std::uint64_t bytes_seen() const { return _bytes_seen; }
    bool done() const { return _state == state::done; }
    void reset();

private:
    enum class state : std::uint8_t { line_start, mid_line, cr, dot, dot_cr, done };

    void count(std::size_t size);
    void store(const char* data, std::size_t size, std::string& body) const;
    std::size_t feed_mid_line(std::string_view in, std::size_t i);

    std::size_t _body_bytes_max;
    std::size_t _line_bytes_max;
    state _state = state::line_start;
    bool _too_big = false;
    bool _line_too_long = false;
    bool _bare_lf = false;
    std::size_t _line_bytes = 0;
    std::uint64_t _bytes_seen = 0;
};

// Client side: dot-stuffs `content` for DATA. Incremental across calls through
// `state`. Line ends are normalized to CRLF: a bare LF or a bare CR becomes CRLF
// (RFC 5321 2.3.8: bare CR and LF MUST NOT be sent), so the output never holds a
// sequence a receiver could misread as the end of data. Content that already uses
// CRLF is sent byte for byte, with a '.' added before each line starting with '.'.
struct dot_stuff_state {
    bool at_line_start = true;
    bool last_was_cr = false;
};
void dot_stuff(std::string_view content, std::string& out, dot_stuff_state& state);

// Appends CRLF if content did not end with one, then ".\r\n"; resets `state`.
void dot_stuff_finish(std::string& out, dot_stuff_state& state);

}  // namespace ringmta::smtp
