// ringmta-ctl's blocking HTTP client. See http_client.h.
#include "http_client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cctype>
#include <charconv>
#include <cstring>

#include "ringmta/runtime/net.h"

namespace ringmta::ctl {

namespace {

// A /metrics answer of every domain is large, but not this large.
constexpr std::size_t answer_bytes_max = 256u << 20;

struct fd_closer {
    int fd;
    ~fd_closer() {
        if (fd >= 0) ::close(fd);
    }
};

void set_timeouts(int fd, std::uint64_t timeout_ms) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout_ms / 1000);
    tv.tv_usec = static_cast<suseconds_t>(timeout_ms % 1000 * 1000);
    // On Linux SO_SNDTIMEO bounds connect() too.
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::string errno_text(int error) {
    if (error == EAGAIN || error == EWOULDBLOCK || error == EINPROGRESS) return "timed out";
    return std::strerror(error);
}

// Splits the answer into status, Content-Type and body; false if it is not HTTP.
bool parse_answer(const std::string& raw, http_answer& out) {
    std::size_t head_end = raw.find("\r\n\r\n");
    if (!raw.starts_with("HTTP/1.") || raw.size() < 12 || head_end == std::string::npos) {
        return false;
    }
    auto [ptr, ec] = std::from_chars(raw.data() + 9, raw.data() + 12, out.status);
    if (ec != std::errc() || ptr != raw.data() + 12) return false;
    std::string_view head(raw.data(), head_end);
    std::size_t at = 0;
    std::size_t length = std::string::npos;
    while ((at = head.find("\r\n", at)) != std::string_view::npos) {
        at += 2;
        std::string_view line = head.substr(at, head.find("\r\n", at) - at);
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string name(line.substr(0, colon));
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (name == "content-type") out.content_type = std::string(value);
        if (name == "content-length") {
            std::from_chars(value.data(), value.data() + value.size(), length);
        }
    }
    out.body = raw.substr(head_end + 4);
    if (length != std::string::npos && out.body.size() != length) return false;
    return true;
}

}  // namespace

std::string percent_encode(const std::string& text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out += c;
        } else {
            out += '%';
            out += hex[byte >> 4];
            out += hex[byte & 0xF];
        }
    }
    return out;
}

http_answer http_request(const std::string& address, const std::string& method,
                         const std::string& target, std::uint64_t timeout_ms) {
    http_answer answer;
    runtime::socket_address peer;
    if (!runtime::parse_socket_address(address, peer)) {
        answer.error = "\"" + address + "\" is not an address:port (e.g. 127.0.0.1:8025)";
        return answer;
    }
    fd_closer sock{::socket(peer.family(), SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (sock.fd < 0) {
        answer.error = std::string("socket: ") + std::strerror(errno);
        return answer;
    }
    set_timeouts(sock.fd, timeout_ms);
    if (::connect(sock.fd, peer.get(), peer.length) != 0) {
        answer.error = "cannot connect to " + address + ": " + errno_text(errno) +
                       " (is ringmta running, with [admin] listen = \"" + address + "\"?)";
        return answer;
    }
    std::string request = method + " " + target + " HTTP/1.1\r\nHost: " + address +
                          "\r\nUser-Agent: ringmta-ctl\r\nContent-Length: 0\r\n"
                          "Connection: close\r\n\r\n";
    for (std::size_t sent = 0; sent < request.size();) {
        ssize_t n = ::send(sock.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            answer.error = "sending to " + address + ": " + errno_text(errno);
            return answer;
        }
        sent += static_cast<std::size_t>(n);
    }
    std::string raw;
    char buffer[65536];
    while (raw.size() < answer_bytes_max) {
        ssize_t n = ::recv(sock.fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            answer.error = "reading from " + address + ": " + errno_text(errno);
            return answer;
        }
        if (n == 0) break;
        raw.append(buffer, static_cast<std::size_t>(n));
    }
    if (!parse_answer(raw, answer)) {
        answer.status = 0;
        answer.error = address + " did not answer in HTTP (is it ringmta's admin endpoint?)";
    }
    return answer;
}

}  // namespace ringmta::ctl
