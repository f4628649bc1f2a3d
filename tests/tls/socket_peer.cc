// Loopback sockets and OpenSSL child processes for the interop tests; see socket_peer.h.
#include "socket_peer.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace ringmta::tls::test {

namespace {

constexpr int io_timeout_s = 10;

void set_timeouts(int fd) {
    timeval tv{};
    tv.tv_sec = io_timeout_s;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

sockaddr_in loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

}  // namespace

bool flush_over(session& s, int fd) {
    std::string wire;
    s.take_output(wire);
    std::size_t sent = 0;
    while (sent < wire.size()) {
        const ssize_t n = ::send(fd, wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return false;
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

namespace {

// Receives once into the session's free input room; false on EOF, error or timeout.
bool receive_input(session& s, int fd) {
    char buf[16384];
    const std::size_t room = std::min(sizeof buf, s.input_room());
    const ssize_t n = ::recv(fd, buf, room, 0);
    if (n <= 0) return false;
    s.put_input(std::string_view(buf, static_cast<std::size_t>(n)));
    return true;
}

}  // namespace

child_process::child_process(const std::string& command)
    : _pipe(popen(("timeout 30 " + command + " 2>&1").c_str(), "r")) {}

child_process::~child_process() {
    if (_pipe != nullptr) pclose(_pipe);
}

std::string child_process::read_until(std::string_view marker) {
    char line[4096];
    while (_pipe != nullptr && std::fgets(line, sizeof line, _pipe) != nullptr) {
        if (std::strstr(line, std::string(marker).c_str()) != nullptr) return line;
    }
    return {};
}

std::string child_process::read_rest() {
    std::string all;
    char chunk[4096];
    std::size_t n = 0;
    while (_pipe != nullptr && (n = std::fread(chunk, 1, sizeof chunk, _pipe)) > 0) {
        all.append(chunk, n);
    }
    return all;
}

int listen_loopback(int& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd, 4) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        if (fd >= 0) ::close(fd);
        return -1;
    }
    port = ntohs(a.sin_port);
    return fd;
}

int accept_one(int listen_fd, int timeout_ms) {
    pollfd p{listen_fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return -1;
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) set_timeouts(fd);
    return fd;
}

int connect_loopback(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_in a = loopback(port);
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
        if (fd >= 0) ::close(fd);
        return -1;
    }
    set_timeouts(fd);
    return fd;
}

session::status handshake_over(session& s, int fd) {
    for (int round = 0; round < 32; ++round) {
        const session::status st = s.handshake();
        if (!flush_over(s, fd)) return session::status::failed;
        if (st != session::status::want_input) return st;
        if (!receive_input(s, fd)) return session::status::failed;
    }
    return session::status::failed;
}

bool write_over(session& s, int fd, std::string_view plaintext) {
    return s.write(plaintext) == session::status::done && flush_over(s, fd);
}

session::status read_over(session& s, int fd, std::string& plaintext, std::string_view until) {
    for (int round = 0; round < 1024; ++round) {
        const session::status st = s.read(plaintext);
        flush_over(s, fd);  // e.g. a KeyUpdate answer
        if (st == session::status::closed || st == session::status::failed) return st;
        if (plaintext.find(until) != std::string::npos) return session::status::done;
        if (!receive_input(s, fd)) return session::status::closed;  // TCP EOF
    }
    return session::status::failed;
}

}  // namespace ringmta::tls::test
