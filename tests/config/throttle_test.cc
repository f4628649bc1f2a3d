// The throttle settings: [domains."x"] limits and backoff, inheritance from
// [domains."*"], [groups."name"], [sources."ip"] and the nested per-source tables,
// the lookups the delivery side uses, and the error for every bad value.
#include <ringmta/config/config.h>

#include "test_support.h"

#include <doctest/doctest.h>

#include <array>

using namespace ringmta::config;
using ringmta::config::testing::load_error;
using namespace std::chrono_literals;

TEST_CASE("no throttle settings: the [delivery] defaults and no other limit") {
    config c = defaults();
    throttle_scope scope = c.throttle_for("Example.COM.");
    CHECK(scope.key == "example.com");
    CHECK(scope.group == nullptr);
    CHECK(scope.limits.max_connections == 20);
    CHECK(scope.limits.max_messages_per_connection == 1000);
    CHECK(scope.limits.max_recipients_per_message == 100);
    CHECK(scope.limits.message_rate.unlimited());
    CHECK(scope.limits.connection_rate.unlimited());
    CHECK(scope.limits.max_deliveries_per_day == 0);
    REQUIRE(scope.backoff != nullptr);
    CHECK(scope.backoff->patterns.empty());
    CHECK(scope.backoff->suspend_after == 10);
    CHECK(scope.backoff->suspend_time == 10min);
    CHECK(scope.backoff->floor_percent == 10);
    CHECK(scope.sources->empty());
    CHECK(c.source_for("192.0.2.1") == nullptr);
    // [delivery] max_connections stays the default, also when changed in code.
    c.delivery.max_connections = 7;
    CHECK(c.throttle_for("example.com").limits.max_connections == 7);
}

TEST_CASE("[domains] limits are read and unset keys inherit from \"*\"") {
    config c = load_string(R"([delivery]
max_connections = 30
[domains."*"]
tls = "required"
message_rate = "50/s"
backoff_patterns = ["Try Again Later", "rate limited"]
backoff_suspend_time = "1h"
[domains."gmail.com"]
max_connections = 5
max_messages_per_connection = 100
max_recipients_per_message = 50
connection_rate = "20/10m"
max_deliveries_per_day = 50000
backoff_suspend_after = 3
backoff_floor_percent = 25
[domains.".example.org"]
tls = "none"
message_rate = "0"
)",
                           "t.toml");
    const domain_policy& gmail = c.policy_for("GMAIL.com");
    CHECK(gmail.tls == tls_policy::required);
    CHECK(gmail.limits.max_connections == 5);
    CHECK(gmail.limits.max_messages_per_connection == 100);
    CHECK(gmail.limits.max_recipients_per_message == 50);
    CHECK(gmail.limits.message_rate == rate{50, 1s});
    CHECK(gmail.limits.connection_rate == rate{20, 10min});
    CHECK(gmail.limits.max_deliveries_per_day == 50000);
    REQUIRE(gmail.backoff.patterns.size() == 2);
    CHECK(gmail.backoff.patterns[0] == "try again later");
    CHECK(gmail.backoff.patterns[1] == "rate limited");
    CHECK(gmail.backoff.suspend_after == 3);
    CHECK(gmail.backoff.suspend_time == 1h);
    CHECK(gmail.backoff.floor_percent == 25);
    throttle_scope sub = c.throttle_for("a.example.org");
    CHECK(sub.key == "a.example.org");   // a suffix rule: one budget per domain
    CHECK(sub.limits.message_rate.unlimited());
    CHECK(sub.limits.max_connections == 30);
    CHECK(c.policy_for("a.example.org").tls == tls_policy::none);
    CHECK(c.throttle_for("other.net").limits.message_rate == rate{50, 1s});
}

TEST_CASE("[groups]: domains listed or matched by MX share one budget") {
    config c = load_string(R"([domains."gmail.com"]
tls = "verify"
max_connections = 3
[groups."google"]
domains = ["gmail.com", "GoogleMail.com."]
mx = ["*.google.com", "mx.example.net"]
max_connections = 40
message_rate = "5000/h"
[groups.yahoo]
mx = "*.yahoodns.net"
)",
                           "t.toml");
    REQUIRE(c.groups.size() == 2);
    const group_policy& google = c.groups[0];
    CHECK(google.name == "google");
    CHECK(google.domains == std::vector<std::string>{"gmail.com", "googlemail.com"});
    CHECK(google.matches_mx("aspmx.l.google.com."));
    CHECK(google.matches_mx("ALT1.ASPMX.L.GOOGLE.COM"));
    CHECK_FALSE(google.matches_mx("google.com"));
    CHECK_FALSE(google.matches_mx("notgoogle.com"));
    CHECK(google.matches_mx("mx.example.net"));
    CHECK_FALSE(google.matches_mx("a.mx.example.net"));

    throttle_scope gmail = c.throttle_for("gmail.com");
    CHECK(gmail.key == "group:google");
    CHECK(gmail.group == &google);
    CHECK(gmail.limits.max_connections == 40);   // the group's, not the domain's
    CHECK(gmail.limits.message_rate == rate{5000, 1h});
    CHECK(c.policy_for("gmail.com").tls == tls_policy::verify);   // TLS stays per domain

    std::array<std::string, 2> mx{"mx1.example.com", "alt2.aspmx.l.google.com"};
    CHECK(c.throttle_for("example-hosted.com", mx).key == "group:google");
    std::array<std::string, 1> yahoo_mx{"mta5.am0.yahoodns.net"};
    CHECK(c.throttle_for("yahoo.com", yahoo_mx).key == "group:yahoo");
    CHECK(c.throttle_for("yahoo.com").key == "yahoo.com");
    CHECK(c.group_for("other.org") == nullptr);
    // The group's scope without a member (an owner shard that only knows the key).
    throttle_scope yahoo = c.group_scope(c.groups[1]);
    CHECK(yahoo.key == "group:yahoo");
    CHECK(yahoo.group == &c.groups[1]);
    CHECK(yahoo.limits == c.throttle_for("yahoo.com", yahoo_mx).limits);
}

TEST_CASE("[sources] and per-destination-per-source limits") {
    config c = load_string(R"([sources."192.0.2.10"]
max_deliveries_per_day = 2000
message_rate = "10/s"
[sources."2001:DB8::1"]
max_connections = 0
[domains."gmail.com".sources."192.0.2.10"]
max_connections = 2
[groups."google"]
mx = ["*.google.com"]
[groups."google".sources."192.0.2.11"]
connection_rate = "1/s"
)",
                           "t.toml");
    REQUIRE(c.sources.size() == 2);
    const source_limits* warmup = c.source_for("192.0.2.10");
    REQUIRE(warmup != nullptr);
    CHECK(warmup->limits.max_deliveries_per_day == 2000);
    CHECK(warmup->limits.message_rate == rate{10, 1s});
    CHECK(warmup->limits.max_connections == 0);   // a source's unset key: no limit
    CHECK(c.source_for("2001:db8::1") != nullptr);
    const domain_policy& gmail = c.policy_for("gmail.com");
    REQUIRE(gmail.sources.size() == 1);
    CHECK(gmail.sources[0].address == "192.0.2.10");
    CHECK(gmail.sources[0].limits.max_connections == 2);
    std::array<std::string, 1> mx{"aspmx.l.google.com"};
    throttle_scope scope = c.throttle_for("hosted.example", mx);
    REQUIRE(scope.sources->size() == 1);
    CHECK(find_source(*scope.sources, "192.0.2.11")->limits.connection_rate == rate{1, 1s});
    CHECK(find_source(*scope.sources, "192.0.2.10") == nullptr);
}

TEST_CASE("describe writes the throttle settings so that they load back the same") {
    config original = load_string(R"([domains."*"]
message_rate = "100/s"
backoff_patterns = ["rate limited"]
[domains."gmail.com"]
max_connections = 5
max_deliveries_per_day = 10
[domains."gmail.com".sources."192.0.2.10"]
max_connections = 1
[groups."google"]
domains = ["gmail.com"]
mx = ["*.google.com"]
connection_rate = "20/10m"
backoff_suspend_after = 0
[sources."192.0.2.10"]
max_deliveries_per_day = 2000
)",
                                  "original.toml");
    std::string text = describe(original);
    CHECK(text.find("[groups.\"google\"]") != std::string::npos);
    CHECK(text.find("[domains.\"gmail.com\".sources.\"192.0.2.10\"]") != std::string::npos);
    config reloaded = load_string(text, "described.toml");
    REQUIRE(reloaded.domains.size() == 2);
    CHECK(reloaded.domains[1].limits == original.domains[1].limits);
    CHECK(reloaded.domains[1].backoff == original.domains[1].backoff);
    REQUIRE(reloaded.groups.size() == 1);
    CHECK(reloaded.groups[0].limits == original.groups[0].limits);
    CHECK(reloaded.groups[0].backoff == original.groups[0].backoff);
    CHECK(reloaded.groups[0].mx == original.groups[0].mx);
    REQUIRE(reloaded.sources.size() == 1);
    CHECK(reloaded.sources[0].limits == original.sources[0].limits);
    std::string again = describe(reloaded);
    CHECK(again.substr(again.find('\n')) == text.substr(text.find('\n')));
}

TEST_CASE("bad throttle values are named with file, line and key") {
    CHECK(load_error("[domains.\"a.example\"]\nmax_connections = 0\n") ==
          "ringmta.toml:2:19: domains.\"a.example\".max_connections: 0 is out of range "
          "(1 to 10000)");
    CHECK(load_error("[domains.\"*\"]\nmessage_rate = \"100\"\n") ==
          "ringmta.toml:2:16: domains.\"*\".message_rate: \"100\" is not a rate (use "
          "count/period, the period with a unit: s, m, h, d; e.g. \"100/s\", \"5000/h\" or "
          "\"20/10m\"; \"0\" for no limit)");
    CHECK(load_error("[domains.\"*\"]\nmax_deliveries_per_day = -1\n") ==
          "ringmta.toml:2:26: domains.\"*\".max_deliveries_per_day: -1 is out of range "
          "(0 to 1000000000)");
    CHECK(load_error("[domains.\"*\"]\nbackoff_patterns = [\"x\", \"\"]\n") ==
          "ringmta.toml:2:26: domains.\"*\".backoff_patterns: \"\" is empty; a pattern is "
          "text a throttling reply contains, e.g. \"try again later\"");
    CHECK(load_error("[domains.\"*\"]\nbackoff_patterns = [\"X\", \"x\"]\n") ==
          "ringmta.toml:2:26: domains.\"*\".backoff_patterns: \"x\" is listed twice");
    CHECK(load_error("[domains.\"*\"]\nbackoff_floor_percent = 0\n") ==
          "ringmta.toml:2:25: domains.\"*\".backoff_floor_percent: 0 is out of range "
          "(1 to 100)");
    CHECK(load_error("[domains.\"*\"]\nbackoff_suspend_time = \"10d\"\n") ==
          "ringmta.toml:2:24: domains.\"*\".backoff_suspend_time: \"10d\" is out of range "
          "(1s to 7d)");
    CHECK(load_error("[domains.\"*\"]\nmessage_rates = \"1/s\"\n") ==
          "ringmta.toml:2:1: domains.\"*\".message_rates: unknown key (did you mean "
          "\"message_rate\"?)");
}

TEST_CASE("bad groups and sources are named with file, line and key") {
    CHECK(load_error("[groups.\"Google\"]\nmx = [\"*.google.com\"]\n") ==
          "ringmta.toml:1:9: groups.Google: \"Google\" is not a group name (lower-case "
          "letters, digits, '_' and '-', at most 64)");
    CHECK(load_error("[groups.\"g\"]\nmax_connections = 4\n") ==
          "ringmta.toml:1:9: groups.g: the group has no members; give domains = "
          "[\"gmail.com\", ...] or mx = [\"*.google.com\", ...]");
    CHECK(load_error("[groups.\"g\"]\ndomains = [\".gmail.com\"]\n") ==
          "ringmta.toml:2:12: groups.g.domains: \".gmail.com\" is not a domain name (a group "
          "lists whole domains, e.g. \"gmail.com\")");
    CHECK(load_error("[groups.\"g\"]\nmx = [\"*.*.google.com\"]\n") ==
          "ringmta.toml:2:7: groups.g.mx: \"*.*.google.com\" is not an exchanger host or "
          "pattern (use \"mx.example.net\" or \"*.google.com\")");
    CHECK(load_error("[groups.\"a\"]\ndomains = [\"x.com\"]\n[groups.\"b\"]\n"
                     "domains = [\"y.com\", \"X.com\"]\n") ==
          "ringmta.toml:4:11: groups.b.domains: \"x.com\" is already in group \"a\" (line 1); "
          "a domain belongs to one group");
    CHECK(load_error("[groups.\"g\"]\nmx = \"*.google.com\"\ntls = \"none\"\n") ==
          "ringmta.toml:3:1: groups.g.tls: unknown key ([groups.g] has: domains, mx, "
          "max_connections, max_messages_per_connection, max_recipients_per_message, "
          "message_rate, connection_rate, max_deliveries_per_day, backoff_patterns, "
          "backoff_suspend_after, backoff_suspend_time, backoff_floor_percent, sources)");
    CHECK(load_error("[sources.\"mail.example.com\"]\nmessage_rate = \"1/s\"\n") ==
          "ringmta.toml:1:10: sources.\"mail.example.com\": \"mail.example.com\" is not an IP "
          "address (e.g. 192.0.2.1 or 2001:db8::1; host names are not resolved here)");
    CHECK(load_error("[sources.\"192.0.2.1\"]\nbackoff_suspend_after = 1\n") ==
          "ringmta.toml:2:1: sources.\"192.0.2.1\".backoff_suspend_after: unknown key "
          "([sources.\"192.0.2.1\"] has: max_connections, max_messages_per_connection, "
          "max_recipients_per_message, message_rate, connection_rate, "
          "max_deliveries_per_day)");
    CHECK(load_error("[domains.\"a.example\".sources.\"192.0.2.1\"]\nmessage_rate = 5\n") ==
          "ringmta.toml:2:16: domains.\"a.example\".sources.\"192.0.2.1\".message_rate: "
          "expected a rate such as \"100/s\" or \"5000/h\", got an integer (5)");
    CHECK(load_error("[sources.\"2001:db8::1\"]\n[sources.\"2001:DB8::1\"]\n") ==
          "ringmta.toml:2:10: sources.\"2001:db8::1\": limits for \"2001:db8::1\" are "
          "already given on line 1");
    CHECK(load_error("sources = 5\n") ==
          "ringmta.toml:1:1: sources: expected a table ([sources]), got an integer (5)");
}

TEST_CASE("[admin]: off by default, loopback only unless allowed") {
    CHECK(defaults().admin.listen.address_len == 0);
    config c = load_string("[admin]\nlisten = \"127.0.0.1:8025\"\n", "t.toml");
    CHECK(c.admin.listen.text == "127.0.0.1:8025");
    CHECK(load_string("[admin]\nlisten = \"[::1]:8025\"\n", "t.toml").admin.listen.text ==
          "[::1]:8025");
    CHECK(load_string("[admin]\nlisten = \"\"\n", "t.toml").admin.listen.address_len == 0);
    CHECK(load_error("[admin]\nlisten = \"0.0.0.0:8025\"\n") ==
          "ringmta.toml:2:10: admin.listen: \"0.0.0.0:8025\" is not a loopback address; the "
          "admin endpoint has no authentication (set admin.allow_remote = true to listen "
          "there anyway)");
    config remote =
        load_string("[admin]\nallow_remote = true\nlisten = \"192.0.2.1:8025\"\n", "t.toml");
    CHECK(remote.admin.allow_remote);
    CHECK(load_error("[admin]\nlisten = \"127.0.0.1\"\n") ==
          "ringmta.toml:2:10: admin.listen: \"127.0.0.1\" is not an address:port (the port is "
          "missing, e.g. 127.0.0.1:2525)");
    config described = load_string(describe(c), "described.toml");
    CHECK(described.admin.listen.text == "127.0.0.1:8025");
}
