// Endpoints: IPv4 and bracketed IPv6 literals with an explicit port, normalized.
#include <ringmta/config/endpoint.h>

#include <ringmta/config/config_error.h>

#include "test_support.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

using namespace ringmta::config;
using ringmta::config::testing::parse_error;

TEST_CASE("parse_endpoint fills an IPv4 sockaddr") {
    endpoint e = parse_endpoint("127.0.0.1:2525");
    REQUIRE(e.address_len == sizeof(sockaddr_in));
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&e.address);
    CHECK(v4->sin_family == AF_INET);
    CHECK(ntohs(v4->sin_port) == 2525);
    CHECK(ntohl(v4->sin_addr.s_addr) == 0x7f000001u);
    CHECK(e.text == "127.0.0.1:2525");
}

TEST_CASE("parse_endpoint fills an IPv6 sockaddr and normalizes the text") {
    endpoint e = parse_endpoint("[0:0::0001]:25");
    REQUIRE(e.address_len == sizeof(sockaddr_in6));
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&e.address);
    CHECK(v6->sin6_family == AF_INET6);
    CHECK(ntohs(v6->sin6_port) == 25);
    CHECK(IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr));
    CHECK(e.text == "[::1]:25");
    CHECK(parse_endpoint("[2001:DB8::A]:65535").text == "[2001:db8::a]:65535");
    CHECK(parse_endpoint("0.0.0.0:1").text == "0.0.0.0:1");
}

TEST_CASE("parse_endpoint explains what is wrong") {
    CHECK(parse_error([] { parse_endpoint("127.0.0.1"); }) ==
          "\"127.0.0.1\" is not an address:port (the port is missing, e.g. 127.0.0.1:2525)");
    CHECK(parse_error([] { parse_endpoint("::1:25"); }) ==
          "\"::1:25\" is not an address:port (write IPv6 addresses in brackets, "
          "e.g. [::1]:2525)");
    CHECK(parse_error([] { parse_endpoint("localhost:25"); }) ==
          "\"localhost:25\" is not an address:port (the host must be an IP address such as "
          "127.0.0.1 or [::1]; host names are not resolved here)");
    CHECK(parse_error([] { parse_endpoint("127.0.0.1:0"); }) ==
          "\"127.0.0.1:0\" is not an address:port (the port must be 1 to 65535)");
    for (std::string_view text : {"", ":25", "127.0.0.1:", "127.0.0.1:65536", "1.2.3:25",
                                  "[::1]", "[::1]25", "[::1:25", "[1.2.3.4]:25",
                                  "127.0.0.1:2x", "127.0.0.1:-1", "[::1]:123456"}) {
        CAPTURE(text);
        CHECK_THROWS_AS(parse_endpoint(text), config_error);
    }
}
