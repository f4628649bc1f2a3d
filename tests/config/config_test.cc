// Loading: the defaults, a file that sets every key, and reading from disk.
#include <ringmta/config/config.h>

#include "test_support.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>

using namespace ringmta::config;
using namespace std::chrono_literals;
using ringmta::config::testing::load_error;
using ringmta::config::testing::temp_dir;

namespace {

std::string full_file(const std::string& dir) {
    return R"(# every key, none at its default
[server]
hostname = "mx1.example.com"
shards = 4
spool_dir = "/var/spool/ringmta"
log_file = "/var/log/ringmta.log"
accounting_log = "/var/log/ringmta-accounting.log"

[ingress]
listen = ["0.0.0.0:25", "[::]:587"]
relay_networks = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
max_message_size = "20MB"
max_recipients = 500
idle_timeout = "2m"
tls_cert_file = ")" + dir + R"(/cert.pem"
tls_key_file = ")" + dir + R"(/key.pem"
auth_users_file = ")" + dir + R"(/users"
max_connections = 5000
max_errors = 10
auth_allow_plaintext = true
max_connections_per_ip = 7
connection_rate_per_ip = "5000/h"
data_timeout = "10m"
priority_header = "X-Priority-Class"

[delivery]
retry_min = "30s"
retry_max = "2h"
max_age = "3d"
max_connections = 10
max_messages_per_connection = 200
max_recipients_per_transaction = 50
connect_timeout = "15s"
reply_timeout = "2m"
data_timeout = "5m"
connection_idle_timeout = "500ms"
ehlo_name = "out.example.com"

[journal]
durability = "nosync"
segment_size = 134217728
max_spool_size = "10GB"
cache_size = "16MB"
commit_delay = "2ms"
recycle_segments = false
direct_io = false
zero_fill_segments = false

[routes]
"Example.NET" = ["127.0.0.2:2626", "[::1]:2627"]
".example.org" = "192.0.2.1:25"
"*" = ["192.0.2.99:25"]
)";
}

}  // namespace

TEST_CASE("defaults match the documented values") {
    config c = defaults();
    CHECK(c.source == "<defaults>");
    CHECK_FALSE(c.server.hostname.empty());
    CHECK(c.server.shards == 0);
    CHECK(c.server.spool_dir == "var/spool");
    CHECK(c.server.log_file.empty());
    CHECK(c.server.accounting_log.empty());
    REQUIRE(c.ingress.listen.size() == 1);
    CHECK(c.ingress.listen[0].text == "127.0.0.1:2525");
    REQUIRE(c.ingress.relay_networks.size() == 2);
    CHECK(c.ingress.relay_networks[0].text == "127.0.0.0/8");
    CHECK(c.ingress.relay_networks[1].text == "::1/128");
    CHECK(c.ingress.max_message_size == 50ull * 1024 * 1024);
    CHECK(c.ingress.max_recipients == 1000);
    CHECK(c.ingress.idle_timeout == 5min);
    CHECK(c.ingress.max_connections == 10000);
    CHECK(c.ingress.max_errors == 20);
    CHECK_FALSE(c.ingress.auth_allow_plaintext);
    CHECK(c.ingress.max_connections_per_ip == 100);
    CHECK(c.ingress.connection_rate_per_ip == rate{100, 1s});
    CHECK(c.ingress.data_timeout == 3min);
    CHECK(c.ingress.priority_header == "X-Ringmta-Priority");
    CHECK(c.delivery.retry_min == 1min);
    CHECK(c.delivery.retry_max == 1h);
    CHECK(c.delivery.max_age == 120h);
    CHECK(c.delivery.max_connections == 20);
    CHECK(c.delivery.max_messages_per_connection == 1000);
    CHECK(c.delivery.max_recipients_per_transaction == 100);
    CHECK(c.delivery.connect_timeout == 30s);
    CHECK(c.delivery.reply_timeout == 5min);
    CHECK(c.delivery.data_timeout == 10min);
    CHECK(c.delivery.connection_idle_timeout == 2s);
    CHECK(c.delivery.ehlo_name.empty());
    CHECK(c.journal.durability == durability::fsync);
    CHECK(c.journal.segment_size == 64ull << 20);
    CHECK(c.journal.max_spool_size == 0);
    CHECK(c.journal.cache_size == 64ull << 20);
    CHECK(c.journal.commit_delay == 0ms);
    CHECK(c.journal.recycle_segments);
    CHECK(c.journal.direct_io);
    CHECK(c.journal.zero_fill_segments);
    CHECK(c.routes.empty());
}

TEST_CASE("an empty document gives the defaults") {
    config c = load_string("", "empty.toml");
    CHECK(c.source == "empty.toml");
    CHECK(describe(c).substr(describe(c).find('\n')) ==
          describe(defaults()).substr(describe(defaults()).find('\n')));
}

TEST_CASE("a file that sets every key") {
    temp_dir dir;
    dir.write("cert.pem", "cert");
    dir.write("key.pem", "key");
    dir.write("users", "alice:$pbkdf2-sha256$...");
    std::string path = dir.write("ringmta.toml", full_file(dir.path()));
    config c = load_file(path);
    CHECK(c.source == path);
    CHECK(c.server.hostname == "mx1.example.com");
    CHECK(c.server.shards == 4);
    CHECK(c.server.spool_dir == "/var/spool/ringmta");
    CHECK(c.server.log_file == "/var/log/ringmta.log");
    CHECK(c.server.accounting_log == "/var/log/ringmta-accounting.log");
    REQUIRE(c.ingress.listen.size() == 2);
    CHECK(c.ingress.listen[0].text == "0.0.0.0:25");
    CHECK(c.ingress.listen[1].text == "[::]:587");
    REQUIRE(c.ingress.relay_networks.size() == 3);
    CHECK(c.ingress.relay_networks[2].text == "192.0.2.7/32");
    CHECK(c.ingress.max_message_size == 20ull << 20);
    CHECK(c.ingress.max_recipients == 500);
    CHECK(c.ingress.idle_timeout == 2min);
    CHECK(c.ingress.tls_cert_file == dir.path() + "/cert.pem");
    CHECK(c.ingress.tls_key_file == dir.path() + "/key.pem");
    CHECK(c.ingress.auth_users_file == dir.path() + "/users");
    CHECK(c.ingress.max_connections == 5000);
    CHECK(c.ingress.max_errors == 10);
    CHECK(c.ingress.auth_allow_plaintext);
    CHECK(c.ingress.max_connections_per_ip == 7);
    CHECK(c.ingress.connection_rate_per_ip == rate{5000, 1h});
    CHECK(c.ingress.data_timeout == 10min);
    CHECK(c.ingress.priority_header == "X-Priority-Class");
    CHECK(c.delivery.retry_min == 30s);
    CHECK(c.delivery.retry_max == 2h);
    CHECK(c.delivery.max_age == 72h);
    CHECK(c.delivery.max_connections == 10);
    CHECK(c.delivery.max_messages_per_connection == 200);
    CHECK(c.delivery.max_recipients_per_transaction == 50);
    CHECK(c.delivery.connect_timeout == 15s);
    CHECK(c.delivery.reply_timeout == 2min);
    CHECK(c.delivery.data_timeout == 5min);
    CHECK(c.delivery.connection_idle_timeout == 500ms);
    CHECK(c.delivery.ehlo_name == "out.example.com");
    CHECK(c.journal.durability == durability::nosync);
    CHECK(c.journal.segment_size == 128ull << 20);
    CHECK(c.journal.max_spool_size == 10ull << 30);
    CHECK(c.journal.cache_size == 16ull << 20);
    CHECK(c.journal.commit_delay == 2ms);
    CHECK_FALSE(c.journal.recycle_segments);
    CHECK_FALSE(c.journal.direct_io);
    CHECK_FALSE(c.journal.zero_fill_segments);
    REQUIRE(c.routes.size() == 3);  // in file order, domains lower-cased
    CHECK(c.routes[0].domain == "example.net");
    CHECK(c.routes[0].next_hops.size() == 2);
    CHECK(c.routes[1].domain == ".example.org");
    CHECK(c.routes[1].next_hops[0].text == "192.0.2.1:25");
    CHECK(c.routes[2].domain == "*");
}

TEST_CASE("single strings are accepted where lists are expected") {
    config c = load_string("[ingress]\nlisten = \"[::1]:25\"\nrelay_networks = []\n", "t.toml");
    REQUIRE(c.ingress.listen.size() == 1);
    CHECK(c.ingress.listen[0].text == "[::1]:25");
    CHECK(c.ingress.relay_networks.empty());
}

TEST_CASE("sections may be written as dotted keys or inline tables") {
    config c = load_string("server.shards = 2\ndelivery = { retry_min = \"5s\" }\n", "t.toml");
    CHECK(c.server.shards == 2);
    CHECK(c.delivery.retry_min == 5s);
}

TEST_CASE("a file that cannot be read is named with its reason") {
    temp_dir dir;
    std::string missing = dir.path() + "/missing.toml";
    std::string message;
    try {
        load_file(missing);
    } catch (const config_error& error) {
        message = error.what();
    }
    CHECK(message == missing + ":1:1: file: cannot open: No such file or directory");
    try {
        load_file(dir.path());
    } catch (const config_error& error) {
        message = error.what();
    }
    CHECK(message == dir.path() + ":1:1: file: not a regular file");
}
