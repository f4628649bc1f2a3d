// Per-client connection count and rate on one shard (see client_limits.h).
#include "ringmta/ingress/client_limits.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "ringmta/runtime/assert.h"

namespace ringmta::ingress {

client_limits::client_limits(unsigned connections_max, config::rate rate,
                             std::size_t tracked_max)
    : _connections_max(connections_max), _rate(rate), _tracked_max(tracked_max) {
    RINGMTA_ASSERT(tracked_max >= 1, "client_limits needs room for one client");
    RINGMTA_ASSERT(rate.unlimited() || rate.period.count() > 0, "a rate needs a period");
}

std::size_t client_limits::key_hash::operator()(const key& k) const noexcept {
    // FNV-1a: addresses are not secret and the table is bounded, so a peer that
    // engineers collisions slows its own shard's lookups at worst.
    std::uint64_t h = 1469598103934665603ull;
    for (std::uint8_t octet : k) h = (h ^ octet) * 1099511628211ull;
    return static_cast<std::size_t>(h);
}

client_limits::key client_limits::key_of(const sockaddr* address) {
    key k{};
    if (address->sa_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
        k[0] = 4;
        std::memcpy(&k[1], &v4->sin_addr, 4);
    } else if (address->sa_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
        if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
            k[0] = 4;
            std::memcpy(&k[1], &v6->sin6_addr.s6_addr[12], 4);
        } else {
            k[0] = 6;
            std::memcpy(&k[1], v6->sin6_addr.s6_addr, 8);  // the /64
        }
    }
    return k;  // any other family: one shared key (not expected from TCP listeners)
}

bool client_limits::take_token(client& c, std::uint64_t now_ms) const {
    if (_rate.unlimited()) return true;
    const double capacity = static_cast<double>(_rate.count);
    const double per_ms = capacity / static_cast<double>(_rate.period.count());
    const std::uint64_t elapsed_ms = now_ms > c.refilled_ms ? now_ms - c.refilled_ms : 0;
    c.tokens = std::min(capacity, c.tokens + per_ms * static_cast<double>(elapsed_ms));
    c.refilled_ms = now_ms;
    if (c.tokens < 1.0) return false;
    c.tokens -= 1.0;
    return true;
}

void client_limits::forget_idle() {
    std::erase_if(_clients, [](const auto& entry) { return entry.second.connections == 0; });
}

client_limits::verdict client_limits::admit(const sockaddr* address, std::uint64_t now_ms) {
    if (!limited()) return verdict::admitted;
    const key k = key_of(address);
    auto it = _clients.find(k);
    if (it == _clients.end()) {
        if (_clients.size() >= _tracked_max) forget_idle();
        if (_clients.size() >= _tracked_max) return verdict::too_many_connections;
        client fresh;
        fresh.tokens = static_cast<double>(_rate.count);  // a new client may burst
        fresh.refilled_ms = now_ms;
        it = _clients.emplace(k, fresh).first;
    }
    client& c = it->second;
    if (_connections_max != 0 && c.connections >= _connections_max) {
        return verdict::too_many_connections;
    }
    if (!take_token(c, now_ms)) return verdict::too_fast;
    ++c.connections;
    return verdict::admitted;
}

void client_limits::release(const sockaddr* address) {
    if (!limited()) return;
    auto it = _clients.find(key_of(address));
    RINGMTA_ASSERT(it != _clients.end() && it->second.connections > 0,
                   "release of a client that holds no connection");
    --it->second.connections;
}

unsigned client_limits::connections_of(const sockaddr* address) const {
    auto it = _clients.find(key_of(address));
    return it == _clients.end() ? 0 : it->second.connections;
}

}  // namespace ringmta::ingress
