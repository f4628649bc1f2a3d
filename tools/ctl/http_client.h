// ringmta-ctl's HTTP/1.1 client: one request per connection to the admin
// endpoint, blocking, with a deadline on every connect, read and write. A CLI
// runs no reactor; a plain socket is the simplest thing that is correct here.
#pragma once

#include <cstdint>
#include <string>

namespace ringmta::ctl {

struct http_answer {
    int status = 0;                 // 0: no answer; `error` says why
    std::string content_type;
    std::string body;
    std::string error;              // connect or protocol failure, for the operator
};

// method and target ("/queue") to address ("127.0.0.1:8025" or "[::1]:8025").
http_answer http_request(const std::string& address, const std::string& method,
                         const std::string& target, std::uint64_t timeout_ms);

// %XX-encodes everything but unreserved characters (RFC 3986 2.3).
std::string percent_encode(const std::string& text);

}  // namespace ringmta::ctl
