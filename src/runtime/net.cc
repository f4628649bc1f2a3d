// Socket helpers (see net.h). These run at connection set-up only.
#include "ringmta/runtime/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace ringmta::runtime {

bool parse_socket_address(std::string_view text, socket_address& out) {
    std::string_view host;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        std::size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return false;
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        std::size_t colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon) return false;
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    unsigned port_number = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
    if (ec != std::errc() || end != port.data() + port.size() || port.empty() ||
        port_number > 65535)
        return false;
    std::string host_text(host);
    out = socket_address{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    if (inet_pton(AF_INET, host_text.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<std::uint16_t>(port_number));
        out.length = sizeof(sockaddr_in);
        return true;
    }
    if (inet_pton(AF_INET6, host_text.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<std::uint16_t>(port_number));
        out.length = sizeof(sockaddr_in6);
        return true;
    }
    return false;
}

std::string format_address(const sockaddr* address, bool with_port) {
    char text[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (address->sa_family == AF_INET) {
        auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
        inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
        port = ntohs(v4->sin_port);
        if (!with_port) return text;
        return std::string(text) + ":" + std::to_string(port);
    }
    if (address->sa_family == AF_INET6) {
        auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
        inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
        port = ntohs(v6->sin6_port);
        if (!with_port) return text;
        return "[" + std::string(text) + "]:" + std::to_string(port);
    }
    return "unknown";
}

int listen_tcp(const socket_address& address, int backlog) {
    int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        ::bind(fd, address.get(), address.length) < 0 || ::listen(fd, backlog) < 0) {
        int error = errno;
        ::close(fd);
        return -error;
    }
    return fd;
}

int connect_socket(int family) {
    int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    set_nodelay(fd);
    return fd;
}

void set_nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

socket_address peer_address(int fd) {
    socket_address a;
    a.length = sizeof(a.storage);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.length) < 0) a = {};
    return a;
}

socket_address local_address(int fd) {
    socket_address a;
    a.length = sizeof(a.storage);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.length) < 0) a = {};
    return a;
}

}  // namespace ringmta::runtime
