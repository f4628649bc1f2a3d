// resolve_mx against a real dnsmasq: preference order, randomization within a
// preference, the exchangers' A and AAAA addresses, implicit MX, null MX,
// NXDOMAIN, and exchangers without addresses (RFC 5321 §5.1, RFC 7505).
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "dns_peers.h"
#include "test_support.h"

using namespace ringmta::dns;
using ringmta::dns::test::texts;
using ringmta::runtime::task;

namespace {

std::vector<std::string> names(const mx_result& m) {
    std::vector<std::string> out;
    for (const exchanger& e : m.exchangers) out.push_back(e.name);
    return out;
}

template <typename Body>
void with_test_zone(resolver_options options, Body body) {
    test::dns_peer dns = test::start_dnsmasq(test::test_zone());
    REQUIRE(dns);
    options.servers = {dns.address()};
    test::run_with_resolver(std::move(options), body);
}

task<void> ordered(resolver* r) {
    mx_result m = co_await r->resolve_mx("Order.Test");
    REQUIRE(m.status == mx_status::exchangers);
    CHECK_FALSE(m.implicit_mx);
    CHECK(names(m) == std::vector<std::string>{"mx-a.order.test", "mx-b.order.test",
                                                "mx-c.order.test"});
    REQUIRE(m.exchangers.size() == 3);
    CHECK(m.exchangers[0].preference == 10);
    CHECK(m.exchangers[2].preference == 30);
    CHECK(texts(m.exchangers[0].addresses) ==
          std::vector<std::string>{"192.0.2.10", "2001:db8::10"});
    CHECK(texts(m.exchangers[1].addresses) == std::vector<std::string>{"192.0.2.20"});
    CHECK(texts(m.exchangers[2].addresses) == std::vector<std::string>{"2001:db8::30"});
    CHECK(m.ttl_s == 300);
    // One MX query and an A and an AAAA query per exchanger.
    CHECK(r->stats().network_lookups == 7);
}

}  // namespace

TEST_CASE("resolve_mx orders exchangers by preference, each with its A and AAAA addresses") {
    REQUIRE_DNSMASQ();
    with_test_zone(resolver_options{}, [](resolver* r) { return ordered(r); });
}

namespace {

task<void> shuffled(resolver* r, int rounds) {
    std::map<std::string, int> first;
    for (int i = 0; i < rounds; ++i) {
        mx_result m = co_await r->resolve_mx("equal.test");
        REQUIRE(m.status == mx_status::exchangers);
        REQUIRE(m.exchangers.size() == 3);
        CHECK(m.exchangers[2].name == "backup.equal.test");
        ++first[m.exchangers[0].name];
    }
    // Binomial(200, 0.5): sd 7.1, so 60..140 fails by chance with p < 1e-8.
    CHECK(first["mx1.equal.test"] + first["mx2.equal.test"] == rounds);
    CHECK(first["mx1.equal.test"] > 60);
    CHECK(first["mx2.equal.test"] > 60);
    // The cache is off: every resolution asked the network (1 MX + 3 x (A + AAAA)).
    CHECK(r->stats().network_lookups == static_cast<std::uint64_t>(rounds) * 7);
}

}  // namespace

TEST_CASE("equal preferences come out in random order (200 uncached resolutions)") {
    REQUIRE_DNSMASQ();
    resolver_options options;
    options.cache_entries_max = 0;
    with_test_zone(options, [](resolver* r) { return shuffled(r, 200); });
}

namespace {

task<void> implicit(resolver* r) {
    mx_result m = co_await r->resolve_mx("implicit.test");
    REQUIRE(m.status == mx_status::exchangers);
    CHECK(m.implicit_mx);
    REQUIRE(m.exchangers.size() == 1);
    CHECK(m.exchangers[0].name == "implicit.test");
    CHECK(m.exchangers[0].preference == 0);
    CHECK(texts(m.exchangers[0].addresses) ==
          std::vector<std::string>{"192.0.2.50", "2001:db8::50"});
    // A domain that exists with neither MX nor addresses: permanent.
    mx_result bare = co_await r->resolve_mx("bare.test");
    CHECK(bare.status == mx_status::no_address);
    CHECK_FALSE(is_temporary(bare.status));
}

}  // namespace

TEST_CASE("no MX records: the domain itself is the implicit MX at preference 0") {
    REQUIRE_DNSMASQ();
    with_test_zone(resolver_options{}, [](resolver* r) { return implicit(r); });
}

namespace {

task<void> null_mx(resolver* r) {
    mx_result m = co_await r->resolve_mx("nullmx.test");
    CHECK(m.status == mx_status::null_mx);
    CHECK(m.exchangers.empty());
    CHECK(m.ttl_s == 300);
    CHECK(r->stats().network_lookups == 1);   // no address lookups for "."
    // "." beside a real exchanger breaks RFC 7505 §3: the real one is used.
    mx_result mixed = co_await r->resolve_mx("mixednull.test");
    REQUIRE(mixed.status == mx_status::exchangers);
    CHECK(names(mixed) == std::vector<std::string>{"mx.mixednull.test"});
}

task<void> nxdomain(resolver* r) {
    mx_result m = co_await r->resolve_mx("no-such-domain.test");
    CHECK(m.status == mx_status::nxdomain);
    CHECK(m.ttl_s == 300);
    mx_result invalid = co_await r->resolve_mx("not a domain");
    CHECK(invalid.status == mx_status::invalid_domain);
    CHECK(r->stats().network_lookups == 1);
}

}  // namespace

TEST_CASE("a null MX (RFC 7505) means no mail: the caller bounces with 5.1.10") {
    REQUIRE_DNSMASQ();
    with_test_zone(resolver_options{}, [](resolver* r) { return null_mx(r); });
}

TEST_CASE("NXDOMAIN and invalid domains are permanent") {
    REQUIRE_DNSMASQ();
    with_test_zone(resolver_options{}, [](resolver* r) { return nxdomain(r); });
}

namespace {

task<void> skipped(resolver* r) {
    mx_result partial = co_await r->resolve_mx("partial.test");
    REQUIRE(partial.status == mx_status::exchangers);
    CHECK(names(partial) == std::vector<std::string>{"real.partial.test"});
    mx_result dangling = co_await r->resolve_mx("dangling.test");
    CHECK(dangling.status == mx_status::no_address);
    CHECK(dangling.exchangers.empty());
}

task<void> deferred(resolver* r) {
    mx_result dangling = co_await r->resolve_mx("dangling.test");
    CHECK(dangling.status == mx_status::temporary_failure);
}

}  // namespace

TEST_CASE("exchangers without addresses are skipped; with none left the domain bounces") {
    REQUIRE_DNSMASQ();
    with_test_zone(resolver_options{}, [](resolver* r) { return skipped(r); });
    resolver_options defer;
    defer.defer_if_no_mx_address = true;   // Postfix's smtp_defer_if_no_mx_address_found
    with_test_zone(defer, [](resolver* r) { return deferred(r); });
}
