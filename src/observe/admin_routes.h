// Private: the admin endpoint's routes. Turns one parsed request into one
// response, calling the backend; no I/O of its own.
#pragma once

#include <string>

#include "http_request.h"
#include "ringmta/observe/admin_backend.h"
#include "ringmta/runtime/task.h"

namespace ringmta::observe::detail {

struct http_response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::string allow;          // for 405: the methods the path takes
};

// g++ 12: parameters by value.
runtime::task<http_response> route(admin_backend* backend, http_request request);

// A JSON error body {"error": "..."} with that status.
http_response error_response(int status, std::string_view message);

// "HTTP/1.1 200 OK\r\n" ... headers, blank line and body.
std::string serialize(const http_response& response, bool keep_alive);

}  // namespace ringmta::observe::detail
