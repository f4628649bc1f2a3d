// client_limits: connections and connection rate per client address, for one shard
// (ingress.max_connections_per_ip, ingress.connection_rate_per_ip).
//
// A client is its IPv4 address, or its IPv6 /64 (one host usually has a whole /64,
// so counting single IPv6 addresses would limit nothing); IPv4-mapped IPv6 is IPv4.
// The count is of open sessions; the rate is a token bucket per client that holds
// `count` tokens and refills `count` per `period`, one token per admitted
// connection, so a burst of `count` is allowed after a quiet period.
//
// Per shard: SO_REUSEPORT spreads one client's connections over the shards, and
// each shard enforces its share (the daemon gives ceil(limit / shards)), so shards
// never talk on accept. Memory is bounded: at most `tracked_max` clients are
// known; when full, clients with no open session are forgotten (their rate
// history with them). Clients in relay_networks are not passed here (exempt).
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "ringmta/config/units.h"

namespace ringmta::ingress {

class client_limits {
public:
    enum class verdict { admitted, too_many_connections, too_fast };

    // connections_max 0 and rate.unlimited(): no limit of that kind.
    client_limits(unsigned connections_max, config::rate rate, std::size_t tracked_max);

    // A new connection from `address` at `now_ms` (monotonic). On `admitted` the
    // caller calls release() when the session ends.
    verdict admit(const sockaddr* address, std::uint64_t now_ms);
    void release(const sockaddr* address);

    bool limited() const { return _connections_max != 0 || !_rate.unlimited(); }
    std::size_t tracked() const { return _clients.size(); }
    unsigned connections_of(const sockaddr* address) const;

private:
    using key = std::array<std::uint8_t, 17>;  // family tag + up to 16 address octets
    struct key_hash {
        std::size_t operator()(const key& k) const noexcept;
    };
    struct client {
        unsigned connections = 0;
        double tokens = 0;
        std::uint64_t refilled_ms = 0;
    };

    static key key_of(const sockaddr* address);
    bool take_token(client& c, std::uint64_t now_ms) const;
    void forget_idle();

    unsigned _connections_max;
    config::rate _rate;
    std::size_t _tracked_max;
    std::unordered_map<key, client, key_hash> _clients;
};

}  // namespace ringmta::ingress
