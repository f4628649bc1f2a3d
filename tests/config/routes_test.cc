// Static routes: exact domains, ".parent" suffix rules (longest wins), "*", none.
#include <ringmta/config/config.h>

#include <doctest/doctest.h>

using namespace ringmta::config;

namespace {

config with_routes() {
    return load_string(R"([routes]
"example.net" = ["192.0.2.1:25"]
".example.net" = ["192.0.2.2:25"]
".mail.example.net" = ["192.0.2.3:25"]
"Special.Mail.Example.NET" = ["192.0.2.4:25"]
"*" = ["192.0.2.9:2525"]
"localhost" = ["127.0.0.1:2526"]
)",
                       "routes.toml");
}

std::string hop(const config& c, std::string_view domain) {
    const route* r = c.find_route(domain);
    return r == nullptr ? "(none)" : r->next_hops.front().text;
}

}  // namespace

TEST_CASE("find_route prefers an exact match, case-insensitively") {
    config c = with_routes();
    CHECK(hop(c, "example.net") == "192.0.2.1:25");
    CHECK(hop(c, "EXAMPLE.Net") == "192.0.2.1:25");
    CHECK(hop(c, "example.net.") == "192.0.2.1:25");
    CHECK(hop(c, "special.mail.example.net") == "192.0.2.4:25");
    CHECK(hop(c, "localhost") == "127.0.0.1:2526");
    CHECK(c.find_route("example.net")->domain == "example.net");
}

TEST_CASE("find_route falls back to the longest suffix rule") {
    config c = with_routes();
    CHECK(hop(c, "a.example.net") == "192.0.2.2:25");
    CHECK(hop(c, "a.b.example.net") == "192.0.2.2:25");
    CHECK(hop(c, "mail.example.net") == "192.0.2.2:25");  // the rule is for subdomains
    CHECK(hop(c, "x.mail.example.net") == "192.0.2.3:25");
    CHECK(hop(c, "X.MAIL.EXAMPLE.NET") == "192.0.2.3:25");
    CHECK(hop(c, "other.special.mail.example.net") == "192.0.2.3:25");
}

TEST_CASE("find_route falls back to the wildcard, then to nothing") {
    config c = with_routes();
    CHECK(hop(c, "example.org") == "192.0.2.9:2525");
    CHECK(hop(c, "notexample.net") == "192.0.2.9:2525");  // not a subdomain
    CHECK(hop(c, "") == "192.0.2.9:2525");
    config without_wildcard = load_string(
        "[routes]\n\".example.net\" = \"192.0.2.2:25\"\n\"example.com\" = \"192.0.2.3:25\"\n",
        "t.toml");
    CHECK(without_wildcard.find_route("example.org") == nullptr);
    CHECK(without_wildcard.find_route("example.net") == nullptr);
    CHECK(without_wildcard.find_route("www.example.com") == nullptr);
    CHECK(without_wildcard.find_route("net") == nullptr);
    CHECK(defaults().find_route("example.net") == nullptr);
}

TEST_CASE("route keys are normalized to lower case without a trailing dot") {
    config c = load_string("[routes]\n\"Example.COM.\" = \"192.0.2.1:25\"\n", "t.toml");
    REQUIRE(c.routes.size() == 1);
    CHECK(c.routes[0].domain == "example.com");
}
