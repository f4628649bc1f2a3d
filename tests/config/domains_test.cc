// [dns], [domains] and the outbound [delivery] keys: values, defaults, lookup and
// the errors an operator sees for each mistake.
#include <ringmta/config/config.h>

#include "test_support.h"

#include <doctest/doctest.h>

#include <netinet/in.h>

using namespace ringmta::config;
using ringmta::config::testing::load_error;

TEST_CASE("the outbound defaults: port 25, no source address, opportunistic TLS") {
    config c = defaults();
    CHECK(c.delivery.port == 25);
    CHECK(c.delivery.source_address.address_len == 0);
    CHECK(c.delivery.host_down_time == std::chrono::minutes(1));
    CHECK(c.dns.resolvers.empty());
    CHECK(c.dns.attempts == 2);
    CHECK(c.policy_for("example.com").tls == tls_policy::opportunistic);
}

TEST_CASE("[dns] and the outbound [delivery] keys are read") {
    config c = load_string(R"([delivery]
port = 2525
source_address = "127.0.0.9"
host_down_time = "30s"
[dns]
resolvers = "127.0.0.1:5353"
timeout = "250ms"
attempts = 1
cache_entries = 10
)",
                           "t.toml");
    CHECK(c.delivery.port == 2525);
    CHECK(c.delivery.source_address.text == "127.0.0.9");
    CHECK(c.delivery.source_address.address.ss_family == AF_INET);
    CHECK(c.delivery.host_down_time == std::chrono::seconds(30));
    REQUIRE(c.dns.resolvers.size() == 1);
    CHECK(c.dns.resolvers[0].text == "127.0.0.1:5353");
    CHECK(c.dns.timeout == std::chrono::milliseconds(250));
    CHECK(c.dns.attempts == 1);
    CHECK(c.dns.cache_entries == 10);
    config v6 = load_string("[delivery]\nsource_address = \"[::1]\"\n", "t.toml");
    CHECK(v6.delivery.source_address.text == "::1");
    CHECK(v6.delivery.source_address.address.ss_family == AF_INET6);
}

TEST_CASE("policy_for: exact domain, longest subdomain rule, then \"*\", then defaults") {
    config c = load_string(R"([domains."example.com"]
tls = "verify"
[domains.".example.com"]
tls = "required"
[domains.".mail.example.com"]
tls = "none"
[domains."*"]
tls = "none"
)",
                           "t.toml");
    CHECK(c.policy_for("Example.COM.").tls == tls_policy::verify);
    CHECK(c.policy_for("a.example.com").tls == tls_policy::required);
    CHECK(c.policy_for("x.mail.example.com").tls == tls_policy::none);
    CHECK(c.policy_for("example.org").tls == tls_policy::none);
    CHECK(c.policy_for("example.org").domain == "*");
    config only = load_string("[domains.\"example.com\"]\ntls = \"required\"\n", "t.toml");
    CHECK(only.policy_for("example.org").tls == tls_policy::opportunistic);
}

TEST_CASE("[domains] mistakes are named with their position") {
    CHECK(load_error("[domains.\"example.com\"]\ntls = \"maybe\"\n") ==
          "ringmta.toml:2:7: domains.\"example.com\".tls: \"maybe\" is not a TLS policy (use "
          "\"none\", \"opportunistic\", \"required\" or \"verify\")");
    CHECK(load_error("[domains.\"example.com\"]\nttls = \"none\"\n") ==
          "ringmta.toml:2:1: domains.\"example.com\".ttls: unknown key (did you mean \"tls\"?)");
    CHECK(load_error("[domains.\"example.com\"]\ncolour = 5\n") ==
          "ringmta.toml:2:1: domains.\"example.com\".colour: unknown key "
          "([domains.\"example.com\"] has: tls, max_connections, max_messages_per_connection, "
          "max_recipients_per_message, message_rate, connection_rate, max_deliveries_per_day, "
          "backoff_patterns, backoff_suspend_after, backoff_suspend_time, "
          "backoff_floor_percent, sources)");
    CHECK(load_error("[domains]\ntls = \"none\"\n") ==
          "ringmta.toml:2:1: domains.tls: expected a table of settings, e.g. "
          "[domains.\"example.net\"] with tls = \"required\" under it, got a string "
          "(\"none\")");
    CHECK(load_error("[domains.example.com]\ntls = \"none\"\n") ==
          "ringmta.toml:1:10: domains.example: write the domain in quotes, "
          "[domains.\"example.com\"]; unquoted, its dots make nested TOML tables");
    CHECK(load_error("[domains.\"bad domain\"]\ntls = \"none\"\n") ==
          "ringmta.toml:1:10: domains.\"bad domain\": \"bad domain\" is not a domain name "
          "(use \"example.net\", \".example.net\" for its subdomains, or \"*\")");
    CHECK(load_error("[domains.\"a.example\"]\ntls = \"none\"\n[domains.\"A.example\"]\n") ==
          "ringmta.toml:3:10: domains.\"a.example\": settings for \"a.example\" are already "
          "given on line 1 (domains ignore case)");
}

TEST_CASE("bad [dns] and [delivery] values are named") {
    CHECK(load_error("[delivery]\nport = 0\n") ==
          "ringmta.toml:2:8: delivery.port: 0 is out of range (1 to 65535)");
    CHECK(load_error("[delivery]\nsource_address = \"mail.example.com\"\n") ==
          "ringmta.toml:2:18: delivery.source_address: \"mail.example.com\" is not an IP "
          "address (e.g. 192.0.2.1 or 2001:db8::1; host names are not resolved here)");
    CHECK(load_error("[dns]\nresolvers = [\"127.0.0.1\"]\n") ==
          "ringmta.toml:2:14: dns.resolvers: \"127.0.0.1\" is not an address:port (the port "
          "is missing, e.g. 127.0.0.1:2525)");
    CHECK(load_error("[dns]\nattempts = 0\n") ==
          "ringmta.toml:2:12: dns.attempts: 0 is out of range (1 to 10)");
    CHECK(load_error("[dns]\nresolver = []\n") ==
          "ringmta.toml:2:1: dns.resolver: unknown key (did you mean \"resolvers\"?)");
}
