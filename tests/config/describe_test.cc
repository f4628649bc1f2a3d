// describe(): readable, complete, and loadable again to the same settings.
#include <ringmta/config/config.h>

#include "test_support.h"

#include <doctest/doctest.h>

using namespace ringmta::config;

namespace {

// describe() without its first line, which names the source.
std::string body(const config& c) {
    std::string text = describe(c);
    return text.substr(text.find('\n'));
}

}  // namespace

TEST_CASE("describe lists every section and the effective values") {
    std::string text = describe(defaults());
    CHECK(text.find("from \"<defaults>\"") != std::string::npos);
    for (std::string_view expected :
         {"[server]\n", "[ingress]\n", "[delivery]\n", "[journal]\n", "[dns]\n", "[routes]\n", "port = 25",
          "listen = [\"127.0.0.1:2525\"]", "relay_networks = [\"127.0.0.0/8\", \"::1/128\"]",
          "max_message_size = \"50MB\"", "max_age = \"5d\"", "durability = \"fsync\"",
          "segment_size = \"64MB\"", "recycle_segments = true", "direct_io = true", "zero_fill_segments = true", "connection_idle_timeout = \"2s\"",
          "auth_allow_plaintext = false", "connection_rate_per_ip = \"100/s\"",
          "data_timeout = \"3m\"", "priority_header = \"X-Ringmta-Priority\""}) {
        CAPTURE(expected);
        CHECK(text.find(expected) != std::string::npos);
    }
}

TEST_CASE("describe output loads back to the same settings") {
    config original = load_string(R"([server]
hostname = "mx1.example.com"
shards = 3
log_file = "/var/log/ringmta \"main\".log"
[ingress]
listen = ["[::]:25", "0.0.0.0:587"]
relay_networks = []
max_message_size = 1500
idle_timeout = "59m1s"
auth_allow_plaintext = true
max_connections_per_ip = 0
connection_rate_per_ip = "20/10m"
priority_header = ""
[delivery]
retry_min = "90s"
max_age = "0s"
connection_idle_timeout = "250ms"
ehlo_name = "[192.0.2.1]"
port = 2626
source_address = "2001:db8::7"
host_down_time = "0s"
[journal]
durability = "nosync"
segment_size = "3GB"
recycle_segments = false
direct_io = false
zero_fill_segments = false
[dns]
resolvers = ["127.0.0.1:5353", "[::1]:53"]
timeout = "500ms"
attempts = 3
cache_entries = 0
[domains."*"]
tls = "none"
[domains.".example.org"]
tls = "verify"
[routes]
"*" = "192.0.2.9:25"
".example.net" = ["192.0.2.1:25", "[2001:db8::1]:2525"]
)",
                                  "original.toml");
    config reloaded = load_string(describe(original), "described.toml");
    CHECK(reloaded.server.log_file == "/var/log/ringmta \"main\".log");
    CHECK(reloaded.ingress.max_message_size == 1500);
    CHECK(reloaded.ingress.auth_allow_plaintext);
    CHECK(reloaded.ingress.max_connections_per_ip == 0);
    CHECK(reloaded.ingress.priority_header.empty());
    CHECK(reloaded.ingress.connection_rate_per_ip ==
          rate{20, std::chrono::minutes(10)});
    CHECK(reloaded.journal.durability == durability::nosync);
    CHECK_FALSE(reloaded.journal.recycle_segments);
    CHECK_FALSE(reloaded.journal.direct_io);
    CHECK_FALSE(reloaded.journal.zero_fill_segments);
    CHECK(reloaded.routes.size() == 2);
    CHECK(reloaded.delivery.source_address.text == "2001:db8::7");
    CHECK(reloaded.dns.resolvers.size() == 2);
    CHECK(reloaded.domains.size() == 2);
    CHECK(body(reloaded) == body(original));
}
