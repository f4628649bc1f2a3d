// The resolver against a real dnsmasq on loopback: lookups, CNAMEs, the cache
// (positive, negative, bounded), coalescing, the in-flight cap and fail-over
// between servers.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "dns_peers.h"
#include "ringmta/runtime/ops.h"
#include "test_support.h"

using namespace ringmta::dns;
using ringmta::dns::test::texts;
using ringmta::runtime::task;
namespace io = ringmta::runtime::io;

namespace {

task<void> lookup_kinds(resolver* r) {
    answer a = co_await r->lookup("MX1.Equal.Test.", record_type::a);
    CHECK(a.status == answer_status::ok);
    CHECK(texts(a.addresses) == std::vector<std::string>{"192.0.2.41"});
    CHECK(a.ttl_s == 300);
    answer aaaa = co_await r->lookup("mx-a.order.test", record_type::aaaa);
    CHECK(aaaa.status == answer_status::ok);
    CHECK(texts(aaaa.addresses) == std::vector<std::string>{"2001:db8::10"});
    answer alias = co_await r->lookup("alias.test", record_type::a);
    CHECK(alias.status == answer_status::ok);
    CHECK(alias.canonical_name == "mx1.equal.test");
    CHECK(texts(alias.addresses) == std::vector<std::string>{"192.0.2.41"});
    answer nodata = co_await r->lookup("mx-b.order.test", record_type::aaaa);
    CHECK(nodata.status == answer_status::nodata);
    answer missing = co_await r->lookup("nope.test", record_type::a);
    CHECK(missing.status == answer_status::nxdomain);
    CHECK(missing.ttl_s == 300);   // dnsmasq sends no SOA here: negative_default_s
    answer bad = co_await r->lookup("bad name.test", record_type::a);
    CHECK(bad.status == answer_status::invalid_name);
    resolver_stats s = r->stats();
    CHECK(s.network_lookups == 5);   // the invalid name never left the process
    CHECK(s.udp_queries == 5);
    CHECK(s.timeouts == 0);
}

}  // namespace

TEST_CASE("lookups of A, AAAA, CNAME, NODATA and NXDOMAIN from dnsmasq") {
    REQUIRE_DNSMASQ();
    test::dns_peer dns = test::start_dnsmasq(test::test_zone());
    REQUIRE(dns);
    test::run_with_resolver(test::options_for({dns.address()}),
                            [](resolver* r) { return lookup_kinds(r); });
}

namespace {

task<void> lookup_once(resolver* r, std::string name, answer* out) {
    *out = co_await r->lookup(std::move(name), record_type::a);
}

task<void> coalesce(resolver* r) {
    std::vector<answer> results(50);
    for (answer& a : results) ringmta::runtime::spawn(lookup_once(r, "mx2.equal.test", &a));
    io::sleep_for settle(300);
    co_await settle;
    for (const answer& a : results) {
        CHECK(a.status == answer_status::ok);
        CHECK(texts(a.addresses) == std::vector<std::string>{"192.0.2.42"});
    }
    resolver_stats s = r->stats();
    CHECK(s.lookups == 50);
    CHECK(s.udp_queries == 1);
    CHECK(s.coalesced == 49);
    answer again = co_await r->lookup("MX2.equal.test", record_type::a);
    CHECK(again.status == answer_status::ok);
    CHECK(r->stats().cache_hits == 1);
    CHECK(r->stats().udp_queries == 1);
}

}  // namespace

TEST_CASE("identical concurrent lookups share one query; later ones hit the cache") {
    REQUIRE_DNSMASQ();
    test::dns_peer dns = test::start_dnsmasq(test::test_zone());
    REQUIRE(dns);
    test::run_with_resolver(test::options_for({dns.address()}),
                            [](resolver* r) { return coalesce(r); });
}

namespace {

task<void> expire_and_requery(resolver* r) {
    answer first = co_await r->lookup("mx1.equal.test", record_type::a);
    CHECK(first.status == answer_status::ok);
    CHECK(first.ttl_s == 1);
    answer cached = co_await r->lookup("mx1.equal.test", record_type::a);
    CHECK(cached.status == answer_status::ok);
    CHECK(r->stats().network_lookups == 1);
    CHECK(r->stats().cache_hits == 1);
    io::sleep_for wait(1100);
    co_await wait;
    answer fresh = co_await r->lookup("mx1.equal.test", record_type::a);
    CHECK(fresh.status == answer_status::ok);
    CHECK(r->stats().network_lookups == 2);
}

}  // namespace

TEST_CASE("a positive answer is reused until its TTL runs out, then asked again") {
    REQUIRE_DNSMASQ();
    test::dns_peer dns = test::start_dnsmasq(test::test_zone(1));
    REQUIRE(dns);
    test::run_with_resolver(test::options_for({dns.address()}),
                            [](resolver* r) { return expire_and_requery(r); });
}

namespace {

task<void> negative_caching(resolver* r) {
    answer missing = co_await r->lookup("nope.neg.test", record_type::a);
    CHECK(missing.status == answer_status::nxdomain);
    CHECK(missing.ttl_s == 11);   // the SOA's TTL and MINIMUM (dnsmasq's --auth-ttl)
    answer nodata = co_await r->lookup("www.neg.test", record_type::aaaa);
    CHECK(nodata.status == answer_status::nodata);
    CHECK(nodata.ttl_s == 11);
    for (int i = 0; i < 5; ++i) {
        answer again = co_await r->lookup("Nope.Neg.Test", record_type::a);
        CHECK(again.status == answer_status::nxdomain);
        answer again_nodata = co_await r->lookup("www.neg.test", record_type::aaaa);
        CHECK(again_nodata.status == answer_status::nodata);
    }
    CHECK(r->stats().network_lookups == 2);
    CHECK(r->stats().cache_hits == 10);
    answer a = co_await r->lookup("www.neg.test", record_type::a);
    CHECK(texts(a.addresses) == std::vector<std::string>{"192.0.2.80"});
}

}  // namespace

TEST_CASE("NXDOMAIN and NODATA are cached for the SOA-derived TTL (RFC 2308)") {
    REQUIRE_DNSMASQ();
    // dnsmasq answers authoritatively, with an SOA, for its auth zone.
    test::dns_peer dns = test::start_dnsmasq({
        "--auth-server=ns.neg.test,127.0.0.1", "--auth-zone=neg.test", "--auth-ttl=11",
        "--auth-soa=1,hostmaster.neg.test", "--host-record=www.neg.test,192.0.2.80"});
    REQUIRE(dns);
    test::run_with_resolver(test::options_for({dns.address()}),
                            [](resolver* r) { return negative_caching(r); });
}

namespace {

task<void> fail_over(resolver* r, bool expect_wait) {
    std::uint64_t start_ms = ringmta::runtime::monotonic_ms();
    answer a = co_await r->lookup("mx1.equal.test", record_type::a);
    std::uint64_t first_ms = ringmta::runtime::monotonic_ms() - start_ms;
    CHECK(a.status == answer_status::ok);
    resolver_stats s = r->stats();
    if (expect_wait) {
        CHECK(first_ms >= 250);   // the dead server's full timeout
        CHECK(s.timeouts == 1);
    } else {
        CHECK(first_ms < 250);    // ICMP port unreachable: no waiting
        CHECK(s.unreachable == 1);
    }
    CHECK(s.udp_queries == 2);
    // The failed server is now asked last: the next lookup goes straight through.
    start_ms = ringmta::runtime::monotonic_ms();
    answer b = co_await r->lookup("mx2.equal.test", record_type::a);
    CHECK(b.status == answer_status::ok);
    CHECK(ringmta::runtime::monotonic_ms() - start_ms < 200);
    CHECK(r->stats().udp_queries == 3);
}

}  // namespace

TEST_CASE("a silent resolver times out and the next one answers; it is then asked last") {
    REQUIRE_DNSMASQ();
    test::dns_peer dns = test::start_dnsmasq(test::test_zone());
    REQUIRE(dns);
    // A bound UDP socket nobody reads: queries vanish without an ICMP error.
    int hole = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ringmta::runtime::socket_address any = test::loopback(0);
    REQUIRE(bind(hole, any.get(), any.length) == 0);
    ringmta::runtime::socket_address silent = ringmta::runtime::local_address(hole);
    test::run_with_resolver(test::options_for({silent, dns.address()}, 300),
                            [](resolver* r) { return fail_over(r, true); });
    close(hole);
}

TEST_CASE("an unreachable resolver (ICMP port unreachable) is skipped at once") {
    REQUIRE_DNSMASQ();
    test::dns_peer dns = test::start_dnsmasq(test::test_zone());
    REQUIRE(dns);
    ringmta::runtime::socket_address closed = test::loopback(test::free_port());
    test::run_with_resolver(test::options_for({closed, dns.address()}, 300),
                            [](resolver* r) { return fail_over(r, false); });
}

namespace {

task<void> all_silent(resolver* r) {
    std::uint64_t start_ms = ringmta::runtime::monotonic_ms();
    answer a = co_await r->lookup("mx1.equal.test", record_type::a);
    CHECK(a.status == answer_status::timeout);
    std::uint64_t elapsed_ms = ringmta::runtime::monotonic_ms() - start_ms;
    CHECK(elapsed_ms >= 2 * 2 * 100);   // 2 rounds x 2 servers x 100 ms
    CHECK(elapsed_ms < 2000);
    CHECK(r->stats().timeouts == 4);
    mx_result m = co_await r->resolve_mx("equal.test");
    CHECK(m.status == mx_status::temporary_failure);
    CHECK(is_temporary(m.status));
}

}  // namespace

TEST_CASE("when every resolver is silent the lookup times out within its bound") {
    int holes[2];
    std::vector<ringmta::runtime::socket_address> servers;
    for (int& hole : holes) {
        hole = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ringmta::runtime::socket_address any = test::loopback(0);
        REQUIRE(bind(hole, any.get(), any.length) == 0);
        servers.push_back(ringmta::runtime::local_address(hole));
    }
    test::run_with_resolver(test::options_for(servers, 100),
                            [](resolver* r) { return all_silent(r); });
    for (int hole : holes) close(hole);
}

namespace {

task<void> lookup_counted(resolver* r, std::string name, answer* out, int* done) {
    *out = co_await r->lookup(std::move(name), record_type::a);
    ++*done;
}

// `count` distinct lookups at once (unknown names: NXDOMAIN), all awaited.
task<void> many_lookups(resolver* r, int count) {
    std::vector<answer> results(static_cast<std::size_t>(count));
    int done = 0;
    for (int i = 0; i < count; ++i) {
        ringmta::runtime::spawn(lookup_counted(r, "host" + std::to_string(i) + ".test",
                                               &results[static_cast<std::size_t>(i)], &done));
    }
    for (int waited = 0; waited < 500 && done < count; ++waited) {   // at most 5 s
        io::sleep_for pause(10);
        co_await pause;
    }
    CHECK(done == count);
    for (const answer& a : results) CHECK(a.status == answer_status::nxdomain);
}

task<void> capped(resolver* r) {
    co_await many_lookups(r, 40);
    resolver_stats s = r->stats();
    CHECK(s.network_lookups == 40);
    CHECK(s.in_flight_peak == 4);
    CHECK(s.slot_waits == 36);
}

task<void> bounded_cache(resolver* r) {
    co_await many_lookups(r, 50);
    CHECK(r->cache().size() == 8);
    CHECK(r->cache().evictions() == 42);
    std::uint64_t now_ms = ringmta::runtime::reactor::current().now_ms();
    int cached = 0;
    for (int i = 0; i < 50; ++i) {
        if (r->cache().find({"host" + std::to_string(i) + ".test", record_type::a}, now_ms))
            ++cached;
    }
    CHECK(cached == 8);
}

}  // namespace

TEST_CASE("network lookups in flight are capped per shard; the excess waits its turn") {
    REQUIRE_DNSMASQ();
    test::dns_peer dns = test::start_dnsmasq(test::test_zone());
    REQUIRE(dns);
    resolver_options options = test::options_for({dns.address()});
    options.queries_in_flight_max = 4;
    test::run_with_resolver(options, [](resolver* r) { return capped(r); });
}

TEST_CASE("the cache never holds more than cache_entries_max answers") {
    REQUIRE_DNSMASQ();
    test::dns_peer dns = test::start_dnsmasq(test::test_zone());
    REQUIRE(dns);
    resolver_options options = test::options_for({dns.address()});
    options.cache_entries_max = 8;
    test::run_with_resolver(options, [](resolver* r) { return bounded_cache(r); });
}
