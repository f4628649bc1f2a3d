// ip_address: an IPv4 or IPv6 address from an A or AAAA record, small enough to
// cache by the hundred thousand. Pure value type, any shard.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ringmta/runtime/net.h"

namespace ringmta::dns {

struct ip_address {
    int family = AF_UNSPEC;                 // AF_INET or AF_INET6
    std::array<std::uint8_t, 16> bytes{};   // IPv4 uses the first 4

    static ip_address v4(const std::uint8_t* octets);   // 4 bytes, network order
    static ip_address v6(const std::uint8_t* octets);   // 16 bytes
    // Numeric text ("192.0.2.1", "2001:db8::1"); empty on anything else.
    static std::optional<ip_address> parse(std::string_view text);

    std::string to_string() const;
    // The address with `port`, ready for connect().
    runtime::socket_address with_port(std::uint16_t port) const;

    bool operator==(const ip_address&) const = default;
};

}  // namespace ringmta::dns
