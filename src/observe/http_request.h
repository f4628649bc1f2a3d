// Private: the HTTP/1.1 request head parser of the admin endpoint (RFC 9112).
// Pure: no I/O, no allocation beyond the request's strings. Strict where a
// mistake could confuse framing (Content-Length, Transfer-Encoding, obsolete
// line folding, a missing Host on HTTP/1.1), bounded everywhere.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringmta::observe::detail {

struct http_limits {
    std::size_t head_bytes_max = 8192;    // request line and headers
    std::size_t headers_max = 64;
    std::size_t body_bytes_max = 4096;    // the admin API takes its arguments in the URL
};

struct http_request {
    std::string method;                   // "GET", "POST", ...
    std::string path;                     // percent-encoded, as sent, without the query
    std::string query;                    // after '?', "" if none
    bool keep_alive = true;               // HTTP/1.1 without "Connection: close"
    std::size_t content_length = 0;
};

enum class parse_state { incomplete, complete, error };

struct parse_result {
    parse_state state = parse_state::incomplete;
    int status = 0;                       // on error: 400, 413, 431, 501 or 505
    std::string reason;                   // on error: for the response body
    std::size_t head_bytes = 0;           // on complete: bytes of the head, blank line included
};

// Parses the request head at the start of `data` (more may follow: the body, a
// pipelined request). Lines end in CRLF (a bare LF is accepted too).
parse_result parse_request_head(std::string_view data, const http_limits& limits,
                                http_request& out);

// %XX decoded; false on a bad escape or a decoded NUL. '+' stays '+' in a path
// and is a space in a query value (form encoding) when plus_is_space.
bool percent_decode(std::string_view text, bool plus_is_space, std::string& out);

// The value of `name` in a query string "a=1&b=2" (decoded), "" when absent;
// false when present but badly encoded.
bool query_value(std::string_view query, std::string_view name, std::string& out,
                 bool& present);

}  // namespace ringmta::observe::detail
