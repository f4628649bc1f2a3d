// cidr: an IPv4 or IPv6 network, used for ingress.relay_networks (who may relay
// without AUTH, DESIGN.md invariant 4). A bare address is a host network (/32 or
// /128). Host bits set below the prefix are an error, not silently cleared: a
// typo such as "10.1.2.3/8" must not widen the relay policy unnoticed.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringmta::config {

struct cidr {
    int family = 0;                         // AF_INET or AF_INET6
    std::array<std::uint8_t, 16> bytes{};   // network address; IPv4 uses bytes[0..3]
    int prefix_bits = 0;

    // True when the client address lies in this network. An IPv4-mapped IPv6
    // client (::ffff:a.b.c.d, from a dual-stack listener) matches IPv4 networks,
    // and an IPv4 client matches IPv6 networks in its mapped form. nullptr and
    // other families never match. noexcept: called per connection by ingress.
    bool contains(const sockaddr* address) const noexcept;

    std::string text;                       // normalized "address/prefix"
};

// "127.0.0.0/8", "::1/128", "10.1.2.3" (= /32). Throws config_error.
cidr parse_cidr(std::string_view text);

}  // namespace ringmta::config
