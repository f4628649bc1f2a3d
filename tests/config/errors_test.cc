// What operators see when the file is wrong: every error is exactly
// "FILE:LINE:COLUMN: KEY: MESSAGE", pointing at the offending key or value.
#include <ringmta/config/config.h>

#include "test_support.h"

#include <doctest/doctest.h>

using namespace ringmta::config;
using ringmta::config::testing::load_error;
using ringmta::config::testing::temp_dir;

TEST_CASE("an unknown key is named, with a suggestion") {
    CHECK(load_error("[ingress]\nmax_mesage_size = \"10MB\"\n") ==
          "ringmta.toml:2:1: ingress.max_mesage_size: unknown key "
          "(did you mean \"max_message_size\"?)");
    CHECK(load_error("[journal]\ncompression = true\n") ==
          "ringmta.toml:2:1: journal.compression: unknown key "
          "([journal] has: durability, segment_size, max_spool_size, cache_size, "
          "commit_delay, recycle_segments, direct_io, zero_fill_segments)");
    CHECK(load_error("[ingress]\nhostname = \"mx\"\n") ==
          "ringmta.toml:2:1: ingress.hostname: unknown key in [ingress]; "
          "it belongs in [server]");
}

TEST_CASE("an unknown section is named, with a suggestion") {
    CHECK(load_error("[sever]\nhostname = \"mx\"\n") ==
          "ringmta.toml:1:2: sever: unknown section (did you mean [server]?)");
    CHECK(load_error("[logging]\n") ==
          "ringmta.toml:1:2: logging: unknown section (sections are: [server], [ingress], "
          "[delivery], [journal], [dns], [admin], [domains], [groups], [sources], [routes])");
    CHECK(load_error("shards = 4\n") ==
          "ringmta.toml:1:1: shards: keys go in a section; this one belongs in [server]");
    CHECK(load_error("server = 5\n") ==
          "ringmta.toml:1:1: server: expected a table ([server]), got an integer (5)");
}

TEST_CASE("a bad duration points at its value") {
    CHECK(load_error("[delivery]\nretry_min = \"5x\"\n", "/etc/ringmta.toml") ==
          "/etc/ringmta.toml:2:13: delivery.retry_min: \"5x\" is not a duration (use an "
          "integer with a unit: ms, s, m, h, d; e.g. \"30s\", \"5m\" or \"1h30m\")");
    CHECK(load_error("[ingress]\nidle_timeout = 300\n") ==
          "ringmta.toml:2:16: ingress.idle_timeout: expected a duration such as \"30s\" or "
          "\"5m\", got an integer (300); durations need a unit, e.g. \"300s\"");
}

TEST_CASE("a bad rate or boolean points at its value") {
    CHECK(load_error("[ingress]\nconnection_rate_per_ip = \"100\"\n") ==
          "ringmta.toml:2:26: ingress.connection_rate_per_ip: \"100\" is not a rate (use "
          "count/period, the period with a unit: s, m, h, d; e.g. \"100/s\", \"5000/h\" or "
          "\"20/10m\"; \"0\" for no limit)");
    CHECK(load_error("[ingress]\nconnection_rate_per_ip = 100\n") ==
          "ringmta.toml:2:26: ingress.connection_rate_per_ip: expected a rate such as "
          "\"100/s\" or \"5000/h\", got an integer (100)");
    CHECK(load_error("[ingress]\nauth_allow_plaintext = \"yes\"\n") ==
          "ringmta.toml:2:24: ingress.auth_allow_plaintext: expected true or false, got a "
          "string (\"yes\")");
    CHECK(load_error("[ingress]\ndata_timeout = \"2h\"\n") ==
          "ringmta.toml:2:16: ingress.data_timeout: \"2h\" is out of range (1s to 1h)");
}

TEST_CASE("a bad size points at its value") {
    CHECK(load_error("[ingress]\nmax_message_size = \"50XB\"\n") ==
          "ringmta.toml:2:20: ingress.max_message_size: \"50XB\" is not a size "
          "(use bytes or a unit: KB, MB, GB)");
    CHECK(load_error("[journal]\nsegment_size = -1\n") ==
          "ringmta.toml:2:16: journal.segment_size: -1 is not a size (it is negative)");
    CHECK(load_error("[journal]\nsegment_size = 1.5\n") ==
          "ringmta.toml:2:16: journal.segment_size: expected a size such as \"50MB\" or a "
          "number of bytes, got a floating-point number (1.5)");
}

TEST_CASE("a value of the wrong type names both types") {
    CHECK(load_error("[ingress]\nmax_recipients = \"1000\"\n") ==
          "ringmta.toml:2:18: ingress.max_recipients: expected an integer, "
          "got a string (\"1000\")");
    CHECK(load_error("[server]\nhostname = true\n") ==
          "ringmta.toml:2:12: server.hostname: expected a string, got a boolean (true)");
    CHECK(load_error("[ingress]\nlisten = 2525\n") ==
          "ringmta.toml:2:10: ingress.listen: expected a list of strings, "
          "got an integer (2525)");
    CHECK(load_error("[ingress]\nrelay_networks = [\"10.0.0.0/8\", 7]\n") ==
          "ringmta.toml:2:33: ingress.relay_networks: expected a string, got an integer (7)");
}

TEST_CASE("numbers out of range give the range") {
    CHECK(load_error("[server]\nshards = 300\n") ==
          "ringmta.toml:2:10: server.shards: 300 is out of range (0 to 256)");
    CHECK(load_error("[delivery]\nmax_connections = 0\n") ==
          "ringmta.toml:2:19: delivery.max_connections: 0 is out of range (1 to 10000)");
    CHECK(load_error("[journal]\nsegment_size = \"512KB\"\n") ==
          "ringmta.toml:2:16: journal.segment_size: \"512KB\" is out of range (1MB to 4GB)");
    CHECK(load_error("[ingress]\nidle_timeout = \"0s\"\n") ==
          "ringmta.toml:2:16: ingress.idle_timeout: \"0s\" is out of range (1s to 1h)");
}

TEST_CASE("retry_min above retry_max names both values") {
    CHECK(load_error("[delivery]\nretry_min = \"2h\"\nretry_max = \"90m\"\n") ==
          "ringmta.toml:2:13: delivery.retry_min: \"2h\" is more than delivery.retry_max "
          "(\"90m\")");
    CHECK(load_error("[delivery]\nretry_max = \"30s\"\n") ==
          "ringmta.toml:2:13: delivery.retry_max: \"30s\" is less than delivery.retry_min "
          "(1m, the default)");
    CHECK(load_error("[delivery]\nretry_min = \"2h\"\n") ==
          "ringmta.toml:2:13: delivery.retry_min: \"2h\" is more than delivery.retry_max "
          "(1h, the default)");
}

TEST_CASE("bad endpoints point at the list element") {
    CHECK(load_error("[ingress]\nlisten = [\"127.0.0.1:25\", \"localhost:25\"]\n") ==
          "ringmta.toml:2:27: ingress.listen: \"localhost:25\" is not an address:port (the "
          "host must be an IP address such as 127.0.0.1 or [::1]; host names are not "
          "resolved here)");
    CHECK(load_error("[ingress]\nlisten = []\n") ==
          "ringmta.toml:2:10: ingress.listen: the list is empty; give at least one address "
          "to listen on, e.g. [\"127.0.0.1:2525\"]");
    CHECK(load_error("[ingress]\nlisten = [\"[::1]:25\", \"[0::1]:25\"]\n") ==
          "ringmta.toml:2:23: ingress.listen: \"[0::1]:25\" is listed twice (as \"[::1]:25\")");
}

TEST_CASE("bad networks point at the list element") {
    CHECK(load_error("[ingress]\nrelay_networks = [\"10.1.2.3/8\"]\n") ==
          "ringmta.toml:2:19: ingress.relay_networks: \"10.1.2.3/8\" has host bits set after "
          "the /8 prefix (did you mean \"10.0.0.0/8\"?)");
}

TEST_CASE("bad route domains and next hops") {
    CHECK(load_error("[routes]\n\"exa mple.net\" = [\"192.0.2.1:25\"]\n") ==
          "ringmta.toml:2:1: routes.\"exa mple.net\": \"exa mple.net\" is not a domain name "
          "(use \"example.net\", \".example.net\" for its subdomains, or \"*\")");
    CHECK(load_error("[routes]\nexample.net = [\"192.0.2.1:25\"]\n") ==
          "ringmta.toml:2:1: routes.example.net: write the domain in quotes, "
          "\"example.net\" = [...]; unquoted, its dots make nested TOML tables");
    CHECK(load_error("[routes]\n\"example.net\" = [\"192.0.2.1\"]\n") ==
          "ringmta.toml:2:18: routes.\"example.net\": \"192.0.2.1\" is not an address:port "
          "(the port is missing, e.g. 127.0.0.1:2525)");
    CHECK(load_error("[routes]\n\"a.example\" = []\n") ==
          "ringmta.toml:2:15: routes.\"a.example\": the list is empty; give at least one "
          "next hop, e.g. [\"192.0.2.1:25\"]");
    CHECK(load_error("[routes]\n\"example.net\" = \"192.0.2.1:25\"\n"
                     "\"EXAMPLE.net.\" = \"192.0.2.2:25\"\n") ==
          "ringmta.toml:3:1: routes.\"example.net\": a route for \"example.net\" is already "
          "given on line 2 (domains ignore case)");
}

TEST_CASE("bad names and modes") {
    CHECK(load_error("[server]\nhostname = \"mx_1.example.com\"\n") ==
          "ringmta.toml:2:12: server.hostname: \"mx_1.example.com\" is not a host name "
          "(letters, digits and hyphens in dot-separated labels, e.g. \"mx1.example.com\")");
    CHECK(load_error("[delivery]\nehlo_name = \"[300.1.1.1]\"\n") ==
          "ringmta.toml:2:13: delivery.ehlo_name: \"[300.1.1.1]\" is not a host name or "
          "address literal (e.g. \"mx1.example.com\" or \"[192.0.2.1]\")");
    CHECK(load_error("[delivery]\nehlo_name = \"[IPv6:2001:db8::1]\"\n") == "(no error)");
    CHECK(load_error("[ingress]\npriority_header = \"X-Priority: high\"\n") ==
          "ringmta.toml:2:19: ingress.priority_header: \"X-Priority: high\" is not a header "
          "field name (printable ASCII without spaces or ':', e.g. \"X-Ringmta-Priority\")");
    CHECK(load_error("[ingress]\npriority_header = 1\n") ==
          "ringmta.toml:2:19: ingress.priority_header: expected a string, got an integer (1)");
    CHECK(load_error("[ingress]\npriority_header = \"\"\n") == "(no error)");
    CHECK(load_error("[journal]\ndurability = \"async\"\n") ==
          "ringmta.toml:2:14: journal.durability: \"async\" is not a durability mode "
          "(use \"fsync\", or \"nosync\" for benchmarks only)");
    CHECK(load_error("[server]\nspool_dir = \"\"\n") ==
          "ringmta.toml:2:13: server.spool_dir: \"\" is empty; give a directory, "
          "e.g. \"var/spool\"");
}

TEST_CASE("TLS and AUTH files must be readable, and TLS needs both files") {
    temp_dir dir;
    std::string cert = dir.write("cert.pem", "cert");
    CHECK(load_error("[ingress]\ntls_cert_file = \"" + cert + "\"\n") ==
          "ringmta.toml:2:17: ingress.tls_cert_file: \"" + cert +
              "\" is set but ingress.tls_key_file is not; STARTTLS needs both the "
              "certificate and its key");
    CHECK(load_error("[ingress]\ntls_key_file = \"" + cert + "\"\n") ==
          "ringmta.toml:2:16: ingress.tls_key_file: \"" + cert +
              "\" is set but ingress.tls_cert_file is not; STARTTLS needs both the "
              "certificate and its key");
    std::string missing = dir.path() + "/missing.pem";
    CHECK(load_error("[ingress]\nauth_users_file = \"" + missing + "\"\n") ==
          "ringmta.toml:2:19: ingress.auth_users_file: \"" + missing +
              "\" cannot be read: No such file or directory");
    CHECK(load_error("[ingress]\nauth_users_file = \"" + dir.path() + "\"\n") ==
          "ringmta.toml:2:19: ingress.auth_users_file: \"" + dir.path() +
              "\" is not a regular file");
}

TEST_CASE("TOML syntax errors carry toml++'s description and location") {
    CHECK(load_error("[server]\nshards = \n") ==
          "ringmta.toml:2:10: syntax: Error while parsing key-value pair: "
          "expected value, saw '\\n'");
    CHECK(load_error("[server]\nshards = 1\nshards = 2\n") ==
          "ringmta.toml:3:10: syntax: Error while parsing key-value pair: "
          "cannot redefine existing integer 'shards'");
}

TEST_CASE("of several errors, the first in the file is reported") {
    // toml++ iterates keys alphabetically; the operator reads top to bottom.
    CHECK(load_error("[server]\nshards = 999\n[ingress]\nmax_errors = 0\n"
                     "[delivery]\naaa = 1\n") ==
          "ringmta.toml:2:10: server.shards: 999 is out of range (0 to 256)");
    CHECK(load_error("[ingress]\nzzz = 1\nmax_errors = 0\n") ==
          "ringmta.toml:2:1: ingress.zzz: unknown key ([ingress] has: listen, relay_networks, "
          "max_message_size, max_recipients, idle_timeout, tls_cert_file, tls_key_file, "
          "auth_users_file, max_connections, max_errors, auth_allow_plaintext, "
          "max_connections_per_ip, connection_rate_per_ip, data_timeout, priority_header)");
}

TEST_CASE("a spool limit too small for two segments per shard is refused") {
    CHECK(load_error("[server]\nshards = 2\n[journal]\nsegment_size = \"1MB\"\n"
                     "max_spool_size = \"3MB\"\n") ==
          "ringmta.toml:5:18: journal.max_spool_size: \"3MB\" leaves room for fewer than two "
          "segments (journal.segment_size 1MB) per shard; each shard needs one to write and one "
          "to roll into");
}
