// Parsing "address:port" endpoints for listen addresses and route next hops.
#include <ringmta/config/endpoint.h>

#include <ringmta/config/config_error.h>

#include "text.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace ringmta::config {

namespace {

constexpr unsigned port_max = 65535;

[[noreturn]] void throw_bad(std::string_view text, std::string_view why) {
    throw config_error(detail::quote(text) + " is not an address:port (" + std::string(why) +
                       ")");
}

unsigned parse_port(std::string_view text, std::string_view port) {
    if (port.empty()) throw_bad(text, "the port is missing, e.g. 127.0.0.1:2525");
    if (port.size() > 5) throw_bad(text, "the port must be 1 to 65535");
    unsigned value = 0;
    for (char c : port) {
        if (c < '0' || c > '9') throw_bad(text, "the port must be a number from 1 to 65535");
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > port_max) throw_bad(text, "the port must be 1 to 65535");
    return value;
}

// Copies host into a NUL-terminated buffer for inet_pton; false when too long.
bool to_c_string(std::string_view host, char (&buffer)[INET6_ADDRSTRLEN + 1]) {
    if (host.size() >= sizeof buffer) return false;
    host.copy(buffer, host.size());
    buffer[host.size()] = '\0';
    return true;
}

void fill_v4(endpoint& out, std::string_view text, std::string_view host, unsigned port) {
    char buffer[INET6_ADDRSTRLEN + 1];
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    if (!to_c_string(host, buffer) || inet_pton(AF_INET, buffer, &address.sin_addr) != 1) {
        throw_bad(text, "the host must be an IP address such as 127.0.0.1 or [::1]; "
                        "host names are not resolved here");
    }
    std::memcpy(&out.address, &address, sizeof address);
    out.address_len = sizeof address;
    inet_ntop(AF_INET, &address.sin_addr, buffer, sizeof buffer);
    out.text = std::string(buffer) + ":" + std::to_string(port);
}

void fill_v6(endpoint& out, std::string_view text, std::string_view host, unsigned port) {
    char buffer[INET6_ADDRSTRLEN + 1];
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_port = htons(static_cast<std::uint16_t>(port));
    if (!to_c_string(host, buffer) || inet_pton(AF_INET6, buffer, &address.sin6_addr) != 1) {
        throw_bad(text, "the text in brackets must be an IPv6 address, e.g. [::1]:2525");
    }
    std::memcpy(&out.address, &address, sizeof address);
    out.address_len = sizeof address;
    inet_ntop(AF_INET6, &address.sin6_addr, buffer, sizeof buffer);
    out.text = "[" + std::string(buffer) + "]:" + std::to_string(port);
}

}  // namespace

endpoint parse_address(std::string_view text) {
    endpoint out;
    std::string_view host = text;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    bool v6 = host.find(':') != std::string_view::npos;
    try {
        if (v6) {
            fill_v6(out, text, host, 0);
        } else {
            fill_v4(out, text, host, 0);
        }
    } catch (const config_error&) {
        throw config_error(detail::quote(text) +
                           " is not an IP address (e.g. 192.0.2.1 or 2001:db8::1; host names "
                           "are not resolved here)");
    }
    out.text = out.text.substr(0, out.text.rfind(':'));
    if (v6) out.text = out.text.substr(1, out.text.size() - 2);
    return out;
}

endpoint parse_endpoint(std::string_view text) {
    endpoint out;
    if (!text.empty() && text.front() == '[') {
        std::size_t close = text.find(']');
        if (close == std::string_view::npos) throw_bad(text, "a ']' is missing");
        std::string_view rest = text.substr(close + 1);
        if (rest.empty() || rest.front() != ':') {
            throw_bad(text, "the port is missing, e.g. [::1]:2525");
        }
        unsigned port = parse_port(text, rest.substr(1));
        fill_v6(out, text, text.substr(1, close - 1), port);
        return out;
    }
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        throw_bad(text, "the port is missing, e.g. 127.0.0.1:2525");
    }
    std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
        throw_bad(text, "write IPv6 addresses in brackets, e.g. [::1]:2525");
    }
    unsigned port = parse_port(text, text.substr(colon + 1));
    fill_v4(out, text, host, port);
    return out;
}

}  // namespace ringmta::config
