// Networks for relay_networks: parsing, host-bit mistakes, and contains() for
// IPv4, IPv6 and IPv4-mapped IPv6 clients (what a dual-stack listener reports).
#include <ringmta/config/cidr.h>

#include <ringmta/config/config_error.h>

#include "test_support.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

using namespace ringmta::config;
using ringmta::config::testing::parse_error;

namespace {

sockaddr_storage client(const char* address) {
    sockaddr_storage storage{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
    } else {
        REQUIRE(inet_pton(AF_INET6, address, &v6->sin6_addr) == 1);
        v6->sin6_family = AF_INET6;
    }
    return storage;
}

bool contains(std::string_view network, const char* address) {
    sockaddr_storage storage = client(address);
    return parse_cidr(network).contains(reinterpret_cast<const sockaddr*>(&storage));
}

}  // namespace

TEST_CASE("parse_cidr reads networks and single addresses") {
    cidr v4 = parse_cidr("127.0.0.0/8");
    CHECK(v4.family == AF_INET);
    CHECK(v4.prefix_bits == 8);
    CHECK(v4.bytes[0] == 127);
    CHECK(v4.text == "127.0.0.0/8");
    CHECK(parse_cidr("10.1.2.3").text == "10.1.2.3/32");
    CHECK(parse_cidr("::1").text == "::1/128");
    CHECK(parse_cidr("2001:DB8::/32").text == "2001:db8::/32");
    CHECK(parse_cidr("0.0.0.0/0").prefix_bits == 0);
}

TEST_CASE("parse_cidr rejects host bits, bad prefixes and non-addresses") {
    CHECK(parse_error([] { parse_cidr("10.1.2.3/8"); }) ==
          "\"10.1.2.3/8\" has host bits set after the /8 prefix (did you mean \"10.0.0.0/8\"?)");
    CHECK(parse_error([] { parse_cidr("10.0.0.0/33"); }) ==
          "\"10.0.0.0/33\" is not a network (the prefix length must be 0 to 32)");
    CHECK(parse_error([] { parse_cidr("localhost"); }) ==
          "\"localhost\" is not a network (use address/prefix, e.g. 10.0.0.0/8, "
          "2001:db8::/32, or a single address)");
    for (std::string_view text : {"", "/8", "10.0.0.0/", "10.0.0.0/x", "::/129", "10.0.0/8",
                                  "2001:db8::1/32", "10.0.0.0/8/8"}) {
        CAPTURE(text);
        CHECK_THROWS_AS(parse_cidr(text), config_error);
    }
}

TEST_CASE("cidr contains IPv4 clients") {
    CHECK(contains("127.0.0.0/8", "127.0.0.1"));
    CHECK(contains("127.0.0.0/8", "127.255.255.255"));
    CHECK_FALSE(contains("127.0.0.0/8", "128.0.0.1"));
    CHECK(contains("192.168.4.0/22", "192.168.7.200"));
    CHECK_FALSE(contains("192.168.4.0/22", "192.168.8.1"));
    CHECK(contains("10.1.2.3", "10.1.2.3"));
    CHECK_FALSE(contains("10.1.2.3", "10.1.2.4"));
    CHECK(contains("0.0.0.0/0", "203.0.113.9"));
    CHECK_FALSE(contains("127.0.0.0/8", "::1"));
}

TEST_CASE("cidr contains IPv6 clients") {
    CHECK(contains("::1/128", "::1"));
    CHECK_FALSE(contains("::1/128", "::2"));
    CHECK(contains("2001:db8::/32", "2001:db8:ffff::1"));
    CHECK_FALSE(contains("2001:db8::/32", "2001:db9::1"));
    CHECK(contains("2001:db8:8000::/33", "2001:db8:8000::1"));
    CHECK_FALSE(contains("2001:db8:8000::/33", "2001:db8:7fff::1"));
    CHECK_FALSE(contains("::1/128", "127.0.0.1"));
}

TEST_CASE("cidr matches IPv4-mapped IPv6 clients against IPv4 networks, and back") {
    CHECK(contains("127.0.0.0/8", "::ffff:127.0.0.1"));
    CHECK_FALSE(contains("127.0.0.0/8", "::ffff:10.0.0.1"));
    CHECK(contains("10.0.0.0/8", "::ffff:10.200.0.1"));
    // Not mapped: the same low 32 bits under another prefix must not match.
    CHECK_FALSE(contains("127.0.0.0/8", "64:ff9b::127.0.0.1"));
    CHECK(contains("::ffff:0:0/96", "192.0.2.1"));
    CHECK(contains("::ffff:192.0.2.0/120", "192.0.2.77"));
    CHECK_FALSE(contains("::ffff:192.0.2.0/120", "192.0.3.77"));
}

TEST_CASE("cidr contains rejects null and other address families") {
    cidr network = parse_cidr("0.0.0.0/0");
    CHECK_FALSE(network.contains(nullptr));
    sockaddr unix_address{};
    unix_address.sa_family = AF_UNIX;
    CHECK_FALSE(network.contains(&unix_address));
}
