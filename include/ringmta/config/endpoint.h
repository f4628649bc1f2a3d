// endpoint: an IP address and port as written in the configuration, used for the
// listen addresses and for static route next hops. Host names are not accepted:
// the configuration is read before any resolver exists and a shard never blocks
// on getaddrinfo, so endpoints are IP literals with an explicit port.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

namespace ringmta::config {

struct endpoint {
    sockaddr_storage address{};  // sockaddr_in or sockaddr_in6, port in network order
    socklen_t address_len = 0;
    std::string text;            // normalized "host:port" or "[v6]:port"
};

// "127.0.0.1:2525", "[::1]:2525", "[2001:db8::1]:25". The port is required
// (1-65535). Throws config_error with a message quoting the text.
endpoint parse_endpoint(std::string_view text);

// An IP address without a port ("192.0.2.1", "2001:db8::1" or "[2001:db8::1]"),
// for source addresses; the port is 0 and text has no port. Throws config_error.
endpoint parse_address(std::string_view text);

}  // namespace ringmta::config
