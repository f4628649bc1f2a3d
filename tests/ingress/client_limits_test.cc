// Per-client connection count and rate: counting and release, IPv6 /64 and
// IPv4-mapped keys, the token bucket against an explicit clock, the bound on
// tracked clients, and the split of process-wide limits over shards.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <chrono>
#include <string>

#include "ringmta/config/config.h"
#include "ringmta/ingress/client_limits.h"
#include "ringmta/ingress/server_session.h"

using namespace ringmta;
using ingress::client_limits;
using verdict = client_limits::verdict;

namespace {

struct address {
    sockaddr_storage storage{};
    explicit address(const std::string& text) {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
        if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
            v4->sin_family = AF_INET;
        } else {
            REQUIRE(inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1);
            v6->sin6_family = AF_INET6;
        }
    }
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

constexpr config::rate unlimited{};

}  // namespace

TEST_CASE("connections per client are counted until released") {
    client_limits limits(2, unlimited, 100);
    address a("192.0.2.1");
    address b("192.0.2.2");
    CHECK(limits.admit(a.get(), 0) == verdict::admitted);
    CHECK(limits.admit(a.get(), 0) == verdict::admitted);
    CHECK(limits.admit(a.get(), 0) == verdict::too_many_connections);
    CHECK(limits.admit(b.get(), 0) == verdict::admitted);  // another client
    CHECK(limits.connections_of(a.get()) == 2);
    limits.release(a.get());
    CHECK(limits.admit(a.get(), 0) == verdict::admitted);
    CHECK(limits.connections_of(a.get()) == 2);
}

TEST_CASE("an IPv6 client is its /64; IPv4-mapped IPv6 is the IPv4 address") {
    client_limits limits(1, unlimited, 100);
    address one("2001:db8:1:2::1");
    address same_64("2001:db8:1:2:ffff::9");
    address other_64("2001:db8:1:3::1");
    CHECK(limits.admit(one.get(), 0) == verdict::admitted);
    CHECK(limits.admit(same_64.get(), 0) == verdict::too_many_connections);
    CHECK(limits.admit(other_64.get(), 0) == verdict::admitted);
    address v4("198.51.100.7");
    address mapped("::ffff:198.51.100.7");
    CHECK(limits.admit(v4.get(), 0) == verdict::admitted);
    CHECK(limits.admit(mapped.get(), 0) == verdict::too_many_connections);
}

TEST_CASE("the connection rate is a token bucket: a burst, then the refill pace") {
    client_limits limits(0, config::rate{3, std::chrono::seconds(3)}, 100);  // 1 per second
    address a("192.0.2.1");
    for (int i = 0; i < 3; ++i) {
        CHECK(limits.admit(a.get(), 1000) == verdict::admitted);
        limits.release(a.get());
    }
    CHECK(limits.admit(a.get(), 1000) == verdict::too_fast);
    CHECK(limits.admit(a.get(), 1500) == verdict::too_fast);   // half a token
    CHECK(limits.admit(a.get(), 2000) == verdict::admitted);   // one refilled
    CHECK(limits.admit(a.get(), 2100) == verdict::too_fast);
    // A long pause refills at most the burst.
    CHECK(limits.admit(a.get(), 60'000) == verdict::admitted);
    CHECK(limits.admit(a.get(), 60'000) == verdict::admitted);
    CHECK(limits.admit(a.get(), 60'000) == verdict::admitted);
    CHECK(limits.admit(a.get(), 60'000) == verdict::too_fast);
    address b("192.0.2.2");
    CHECK(limits.admit(b.get(), 60'000) == verdict::admitted);  // its own bucket
}

TEST_CASE("at most tracked_max clients are kept; idle ones are forgotten first") {
    client_limits limits(1, unlimited, 2);
    address a("192.0.2.1");
    address b("192.0.2.2");
    address c("192.0.2.3");
    CHECK(limits.admit(a.get(), 0) == verdict::admitted);
    CHECK(limits.admit(b.get(), 0) == verdict::admitted);
    // Both hold a connection: nothing can be forgotten, the newcomer is refused.
    CHECK(limits.admit(c.get(), 0) == verdict::too_many_connections);
    limits.release(b.get());
    CHECK(limits.admit(c.get(), 0) == verdict::admitted);  // b (idle) made room
    CHECK(limits.tracked() == 2);
    CHECK(limits.connections_of(a.get()) == 1);
    CHECK(limits.connections_of(b.get()) == 0);
}

TEST_CASE("no limits configured: everything is admitted and nothing tracked") {
    client_limits limits(0, unlimited, 1);
    address a("192.0.2.1");
    for (int i = 0; i < 10; ++i) CHECK(limits.admit(a.get(), 0) == verdict::admitted);
    CHECK(limits.tracked() == 0);
    CHECK_FALSE(limits.limited());
}

TEST_CASE("process-wide limits are split over shards, rounded up") {
    CHECK(ingress::shard_share(100, 2) == 50);
    CHECK(ingress::shard_share(5, 2) == 3);
    CHECK(ingress::shard_share(1, 4) == 1);
    CHECK(ingress::shard_share(0, 4) == 0);
    config::ingress_config ingress;
    ingress.max_connections_per_ip = 0;
    ingress.connection_rate_per_ip = unlimited;
    CHECK(ingress::make_client_limits(ingress, 2) == nullptr);
    ingress.max_connections_per_ip = 3;
    ingress.connection_rate_per_ip = config::rate{5, std::chrono::minutes(1)};
    auto limits = ingress::make_client_limits(ingress, 2);
    REQUIRE(limits != nullptr);
    address a("192.0.2.1");
    CHECK(limits->admit(a.get(), 0) == verdict::admitted);  // 2 connections, 3 per minute
    CHECK(limits->admit(a.get(), 0) == verdict::admitted);
    CHECK(limits->admit(a.get(), 0) == verdict::too_many_connections);
    limits->release(a.get());
    CHECK(limits->admit(a.get(), 0) == verdict::admitted);
    limits->release(a.get());
    CHECK(limits->admit(a.get(), 0) == verdict::too_fast);
}
