// Socket helpers used by listeners and outbound connections: address parsing and
// formatting, and socket creation with the options every shard needs.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace ringmta::runtime {

struct socket_address {
    sockaddr_storage storage{};
    socklen_t length = 0;
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
    int family() const { return storage.ss_family; }
};

// "127.0.0.1:2525" or "[::1]:2525"; numeric only. False on bad syntax.
bool parse_socket_address(std::string_view text, socket_address& out);
// "127.0.0.1:2525" / "[::1]:2525"; with_port=false gives the bare address.
std::string format_address(const sockaddr* address, bool with_port = true);

// A listening TCP socket with SO_REUSEADDR and SO_REUSEPORT (one listener per
// shard on the same address; the kernel spreads connections). -errno on failure.
int listen_tcp(const socket_address& address, int backlog);
// A TCP socket for connecting, with TCP_NODELAY (SMTP is request/reply). -errno.
int connect_socket(int family);
void set_nodelay(int fd);
// The peer / local address of a connected socket.
socket_address peer_address(int fd);
socket_address local_address(int fd);

}  // namespace ringmta::runtime
