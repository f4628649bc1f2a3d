// SMTP replies (RFC 5321 4.2, enhanced status codes RFC 2034/3463): the parsed form
// a client reads, the spec a server writes, and an incremental client-side parser.
// Pure code, no I/O: any shard may use it. The parser is bounded by line_max and
// lines_max, so a hostile receiver cannot make it grow memory without limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringmta::smtp {

// A reply as received: "250-2.0.0 a\r\n250 2.0.0 b\r\n" is {250, "2.0.0", {"a", "b"}}.
struct reply {
    int code = 0;                    // 3-digit
    std::string enhanced;            // "2.0.0" (RFC 3463) or empty if the peer sent none
    std::vector<std::string> lines;  // text of each line, without code, separator,
                                     // enhanced code and line end
    std::string text() const;        // lines joined with "; "
};

// A reply to send: code, enhanced code ("5.7.1"), text (may contain '\n' for multi-line).
struct reply_spec {
    int code;
    std::string_view enhanced;
    std::string_view text;
};

// Appends "250-2.0.0 a\r\n250 2.0.0 b\r\n" style lines; the enhanced code is omitted
// when empty. A CR before a '\n' in `text` and one final '\n' are dropped, so the
// output never holds a bare CR or LF. Asserts a code in 200..599 and, when given, an
// enhanced code whose class digit matches it (a caller bug otherwise).
void format_reply(std::string& out, const reply_spec& r);

// Client side, incremental. Accepts CRLF or bare LF line ends (liberal towards
// receivers). An enhanced code is taken from a line only when its text starts with
// "d.d{1,3}.d{1,3}" followed by a space or the line end, and the class digit matches
// the reply's first digit (RFC 2034); reply::enhanced is the first line's one.
class reply_parser {
public:
    explicit reply_parser(std::size_t line_max = 2048, std::size_t lines_max = 128);

    enum class status { need_more, ready, error };
    struct result {
        reply_parser::status status;
        std::size_t consumed;
    };

    // Parses at most one reply from the front of `in`. On `ready`, `consumed` bytes made
    // a complete (possibly multi-line) reply, available via take(). On need_more,
    // consumed is 0: the caller keeps the bytes and calls again with more appended (the
    // parser remembers how far it got, so `in` must start with the same bytes). error:
    // malformed (bad code, mismatched codes between lines, overlong line incl. its line
    // end, too many lines); the connection is then unusable and the parser resets.
    result parse(std::string_view in);

    // The reply completed by the last `ready`; asserts there is one.
    reply take();

    // Forgets any partial or untaken reply (e.g. to reuse the parser on a new connection).
    void reset();

private:
    result fail();
    bool add_line(std::string_view line);

    std::size_t _line_max;
    std::size_t _lines_max;
    std::size_t _scanned_bytes = 0;   // prefix of `in` already split into lines
    std::size_t _searched_bytes = 0;  // no LF in [_scanned_bytes, _searched_bytes)
    bool _ready = false;
    reply _reply;
};

}  // namespace ringmta::smtp
