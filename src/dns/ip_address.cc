// ip_address (see ip_address.h): text and socket-address conversions.
#include "ringmta/dns/ip_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace ringmta::dns {

ip_address ip_address::v4(const std::uint8_t* octets) {
    ip_address a;
    a.family = AF_INET;
    std::memcpy(a.bytes.data(), octets, 4);
    return a;
}

ip_address ip_address::v6(const std::uint8_t* octets) {
    ip_address a;
    a.family = AF_INET6;
    std::memcpy(a.bytes.data(), octets, 16);
    return a;
}

std::optional<ip_address> ip_address::parse(std::string_view text) {
    std::string copy(text);
    ip_address a;
    if (inet_pton(AF_INET, copy.c_str(), a.bytes.data()) == 1) {
        a.family = AF_INET;
        return a;
    }
    if (inet_pton(AF_INET6, copy.c_str(), a.bytes.data()) == 1) {
        a.family = AF_INET6;
        return a;
    }
    return std::nullopt;
}

std::string ip_address::to_string() const {
    char text[INET6_ADDRSTRLEN] = "?";
    if (family == AF_INET || family == AF_INET6) {
        inet_ntop(family, bytes.data(), text, sizeof(text));
    }
    return text;
}

runtime::socket_address ip_address::with_port(std::uint16_t port) const {
    runtime::socket_address out;
    if (family == AF_INET) {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        std::memcpy(&v4->sin_addr, bytes.data(), 4);
        out.length = sizeof(sockaddr_in);
    } else if (family == AF_INET6) {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        std::memcpy(&v6->sin6_addr, bytes.data(), 16);
        out.length = sizeof(sockaddr_in6);
    }
    return out;
}

}  // namespace ringmta::dns
