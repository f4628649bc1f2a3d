// Parsing networks for relay_networks and matching client addresses against them.
#include <ringmta/config/cidr.h>

#include <ringmta/config/config_error.h>

#include "text.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace ringmta::config {

namespace {

constexpr int v4_bits = 32;
constexpr int v6_bits = 128;
// ::ffff:0:0/96, the IPv4-mapped IPv6 prefix (RFC 4291 2.5.5.2).
constexpr std::uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// Compares the first prefix_bits bits of a and b.
bool same_prefix(const std::uint8_t* a, const std::uint8_t* b, int prefix_bits) noexcept {
    int whole_bytes = prefix_bits / 8;
    if (std::memcmp(a, b, static_cast<std::size_t>(whole_bytes)) != 0) return false;
    int rest_bits = prefix_bits % 8;
    if (rest_bits == 0) return true;
    auto mask = static_cast<std::uint8_t>(0xff << (8 - rest_bits));
    return (a[whole_bytes] & mask) == (b[whole_bytes] & mask);
}

// Clears every bit after prefix_bits; returns true when any was set.
bool clear_host_bits(std::array<std::uint8_t, 16>& bytes, int prefix_bits, int total_bits) {
    bool had_host_bits = false;
    for (int bit = prefix_bits; bit < total_bits; ++bit) {
        auto mask = static_cast<std::uint8_t>(0x80 >> (bit % 8));
        auto& byte = bytes[static_cast<std::size_t>(bit / 8)];
        if (byte & mask) had_host_bits = true;
        byte = static_cast<std::uint8_t>(byte & ~mask);
    }
    return had_host_bits;
}

std::string format_network(int family, const std::array<std::uint8_t, 16>& bytes, int bits) {
    char buffer[INET6_ADDRSTRLEN];
    inet_ntop(family, bytes.data(), buffer, sizeof buffer);
    return std::string(buffer) + "/" + std::to_string(bits);
}

int parse_prefix(std::string_view text, std::string_view digits, int total_bits) {
    int value = 0;
    bool ok = !digits.empty() && digits.size() <= 3;
    for (char c : digits) {
        if (c < '0' || c > '9') {
            ok = false;
            break;
        }
        value = value * 10 + (c - '0');
    }
    if (!ok || value > total_bits) {
        throw config_error(detail::quote(text) +
                           " is not a network (the prefix length must be 0 to " +
                           std::to_string(total_bits) + ")");
    }
    return value;
}

}  // namespace

cidr parse_cidr(std::string_view text) {
    std::size_t slash = text.find('/');
    std::string_view address = text.substr(0, slash);
    char buffer[INET6_ADDRSTRLEN + 1];
    cidr out;
    if (address.size() < sizeof buffer) {
        address.copy(buffer, address.size());
        buffer[address.size()] = '\0';
        if (inet_pton(AF_INET, buffer, out.bytes.data()) == 1) {
            out.family = AF_INET;
        } else if (inet_pton(AF_INET6, buffer, out.bytes.data()) == 1) {
            out.family = AF_INET6;
        }
    }
    if (out.family == 0) {
        throw config_error(detail::quote(text) +
                           " is not a network (use address/prefix, e.g. 10.0.0.0/8, "
                           "2001:db8::/32, or a single address)");
    }
    int total_bits = out.family == AF_INET ? v4_bits : v6_bits;
    out.prefix_bits = slash == std::string_view::npos
                          ? total_bits
                          : parse_prefix(text, text.substr(slash + 1), total_bits);
    if (clear_host_bits(out.bytes, out.prefix_bits, total_bits)) {
        throw config_error(detail::quote(text) + " has host bits set after the /" +
                           std::to_string(out.prefix_bits) + " prefix (did you mean " +
                           detail::quote(format_network(out.family, out.bytes, out.prefix_bits)) +
                           "?)");
    }
    out.text = format_network(out.family, out.bytes, out.prefix_bits);
    return out;
}

bool cidr::contains(const sockaddr* address) const noexcept {
    if (address == nullptr) return false;
    std::uint8_t client[16];
    int client_family = address->sa_family;
    if (client_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
        std::memcpy(client, &v4->sin_addr, 4);
    } else if (client_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
        std::memcpy(client, &v6->sin6_addr, 16);
    } else {
        return false;
    }
    if (family == client_family) return same_prefix(bytes.data(), client, prefix_bits);
    if (family == AF_INET && std::memcmp(client, mapped_prefix, sizeof mapped_prefix) == 0) {
        return same_prefix(bytes.data(), client + sizeof mapped_prefix, prefix_bits);
    }
    if (family == AF_INET6) {
        // An IPv4 client, seen as ::ffff:a.b.c.d against an IPv6 network.
        std::uint8_t mapped[16];
        std::memcpy(mapped, mapped_prefix, sizeof mapped_prefix);
        std::memcpy(mapped + sizeof mapped_prefix, client, 4);
        return same_prefix(bytes.data(), mapped, prefix_bits);
    }
    return false;
}

}  // namespace ringmta::config
