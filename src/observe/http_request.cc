// The admin endpoint's HTTP/1.1 request head parser. See http_request.h.
#include "http_request.h"

#include <algorithm>
#include <charconv>

namespace ringmta::observe::detail {

namespace {

// RFC 9110 5.6.2 tchar.
bool is_token_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), is_token_char);
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

parse_result fail(int status, std::string reason) {
    parse_result result;
    result.state = parse_state::error;
    result.status = status;
    result.reason = std::move(reason);
    return result;
}

// Splits off one line (without its CRLF or LF); false when no line end yet.
bool next_line(std::string_view& rest, std::string_view& line) {
    std::size_t end = rest.find('\n');
    if (end == std::string_view::npos) return false;
    line = rest.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    rest.remove_prefix(end + 1);
    return true;
}

parse_result parse_request_line(std::string_view line, http_request& out, bool& http11) {
    std::size_t first = line.find(' ');
    std::size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) {
        return fail(400, "malformed request line");
    }
    std::string_view method = line.substr(0, first);
    std::string_view target = line.substr(first + 1, second - first - 1);
    std::string_view version = line.substr(second + 1);
    if (!is_token(method)) return fail(400, "malformed method");
    if (version != "HTTP/1.1" && version != "HTTP/1.0") {
        return version.starts_with("HTTP/") ? fail(505, "only HTTP/1.0 and HTTP/1.1")
                                            : fail(400, "malformed HTTP version");
    }
    if (target.empty() || target.front() != '/') return fail(400, "the target must be a path");
    for (char c : target) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
            return fail(400, "control character in the target");
        }
    }
    http11 = version == "HTTP/1.1";
    out.method = std::string(method);
    std::size_t question = target.find('?');
    out.path = std::string(target.substr(0, question));
    out.query = question == std::string_view::npos ? "" : std::string(target.substr(question + 1));
    out.keep_alive = http11;
    return {};
}

}  // namespace

parse_result parse_request_head(std::string_view data, const http_limits& limits,
                                http_request& out) {
    std::size_t end = data.find("\r\n\r\n");
    std::size_t blank = end == std::string_view::npos ? end : end + 4;
    if (std::size_t lf = data.find("\n\n"); lf != std::string_view::npos && lf + 2 < blank) {
        blank = lf + 2;
    }
    if (blank == std::string_view::npos) {
        if (data.size() > limits.head_bytes_max) return fail(431, "request head too large");
        return {};
    }
    if (blank > limits.head_bytes_max) return fail(431, "request head too large");
    std::string_view rest = data.substr(0, blank);
    std::string_view line;
    next_line(rest, line);
    bool http11 = false;
    if (parse_result r = parse_request_line(line, out, http11); r.state == parse_state::error) {
        return r;
    }
    std::size_t headers = 0;
    bool has_host = false, has_length = false;
    while (next_line(rest, line) && !line.empty()) {
        if (++headers > limits.headers_max) return fail(431, "too many header fields");
        if (line.front() == ' ' || line.front() == '\t') return fail(400, "obsolete line folding");
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
            return fail(400, "malformed header field");
        }
        std::string_view name = line.substr(0, colon);
        std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "host")) {
            has_host = true;
        } else if (iequals(name, "transfer-encoding")) {
            return fail(501, "Transfer-Encoding is not supported; send Content-Length");
        } else if (iequals(name, "content-length")) {
            std::size_t length = 0;
            auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
            if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() ||
                (has_length && length != out.content_length)) {
                return fail(400, "bad Content-Length");
            }
            has_length = true;
            out.content_length = length;
        } else if (iequals(name, "connection")) {
            if (iequals(value, "close")) out.keep_alive = false;
            if (iequals(value, "keep-alive") && !http11) out.keep_alive = true;
        }
    }
    if (http11 && !has_host) return fail(400, "HTTP/1.1 needs a Host header");
    if (out.content_length > limits.body_bytes_max) return fail(413, "request body too large");
    parse_result done;
    done.state = parse_state::complete;
    done.head_bytes = blank;
    return done;
}

bool percent_decode(std::string_view text, bool plus_is_space, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '+' && plus_is_space) {
            out += ' ';
        } else if (c != '%') {
            out += c;
        } else {
            unsigned value = 0;
            if (i + 2 >= text.size()) return false;
            auto [ptr, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
            if (ec != std::errc() || ptr != text.data() + i + 3 || value == 0) return false;
            out += static_cast<char>(value);
            i += 2;
        }
    }
    return true;
}

bool query_value(std::string_view query, std::string_view name, std::string& out,
                 bool& present) {
    present = false;
    out.clear();
    while (!query.empty()) {
        std::size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        std::size_t eq = pair.find('=');
        if (pair.substr(0, eq) != name) continue;
        present = true;
        return percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true,
                              out);
    }
    return true;
}

}  // namespace ringmta::observe::detail
