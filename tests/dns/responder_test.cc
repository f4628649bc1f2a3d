// The resolver against the scripted responder (responder.py): truncation and
// TCP, replies with the wrong id or question, SERVFAIL and recovery, TTL
// expiry counted at the server, and the fallback for servers without EDNS.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "dns_peers.h"
#include "ringmta/runtime/ops.h"
#include "test_support.h"

using namespace ringmta::dns;
using ringmta::runtime::task;
namespace io = ringmta::runtime::io;

namespace {

struct scripted {
    test::temp_dir dir;
    std::string log = dir.file("queries.log");
    std::string flag = dir.file("healthy");
    test::dns_peer peer = test::start_responder(log, flag);

    // How many queries for `name` the responder saw over `proto` ("udp"/"tcp").
    int seen(const std::string& proto, const std::string& name) const {
        std::vector<std::string> lines = test::read_lines(log);
        std::string prefix = proto + " " + name + " ";
        return static_cast<int>(std::count_if(lines.begin(), lines.end(), [&](const auto& l) {
            return l.rfind(prefix, 0) == 0;
        }));
    }
};

task<void> truncated(resolver* r, const scripted* s) {
    answer a = co_await r->lookup("tc.test", record_type::mx);
    CHECK(a.status == answer_status::ok);
    CHECK(a.mx.size() == 60);
    CHECK(r->stats().tcp_queries == 1);
    CHECK(s->seen("udp", "tc.test") == 1);
    CHECK(s->seen("tcp", "tc.test") == 1);
}

}  // namespace

TEST_CASE("a truncated UDP reply is asked again over TCP") {
    scripted s;
    REQUIRE(s.peer);
    test::run_with_resolver(test::options_for({s.peer.address()}),
                            [&s](resolver* r) { return truncated(r, &s); });
}

namespace {

task<void> mismatched(resolver* r) {
    answer a = co_await r->lookup("wrongid.test", record_type::a);
    REQUIRE(a.status == answer_status::ok);
    std::vector<std::string> got;
    for (const ip_address& address : a.addresses) got.push_back(address.to_string());
    CHECK(got == std::vector<std::string>{"192.0.2.68"});
    // Both decoys arrive before the real reply, so they were seen and dropped.
    CHECK(r->stats().replies_dropped == 2);
    CHECK(r->stats().udp_queries == 1);
}

}  // namespace

TEST_CASE("replies with the wrong id or the wrong question are ignored, not taken as errors") {
    scripted s;
    REQUIRE(s.peer);
    test::run_with_resolver(test::options_for({s.peer.address()}),
                            [](resolver* r) { return mismatched(r); });
}

namespace {

task<void> servfail_then_recovery(resolver* r, const scripted* s) {
    mx_result m = co_await r->resolve_mx("flaky.test");
    CHECK(m.status == mx_status::temporary_failure);
    CHECK(is_temporary(m.status));
    CHECK(s->seen("udp", "flaky.test") == 2);   // one server, two rounds
    // Failures are cached briefly (failure_s = 1 here) to stop hammering.
    mx_result again = co_await r->resolve_mx("flaky.test");
    CHECK(again.status == mx_status::temporary_failure);
    CHECK(s->seen("udp", "flaky.test") == 2);
    test::write_file(s->flag, "");   // the responder recovers
    io::sleep_for wait(1100);
    co_await wait;
    // Now the MX query gets NOERROR without MX records: implicit MX on its A record.
    mx_result healed = co_await r->resolve_mx("flaky.test");
    REQUIRE(healed.status == mx_status::exchangers);
    CHECK(healed.implicit_mx);
    REQUIRE(healed.exchangers.size() == 1);
    CHECK(healed.exchangers[0].addresses.at(0).to_string() == "192.0.2.88");
}

}  // namespace

TEST_CASE("SERVFAIL is a temporary failure, cached only briefly, and recovers") {
    scripted s;
    REQUIRE(s.peer);
    resolver_options options = test::options_for({s.peer.address()});
    options.ttl.failure_s = 1;
    options.ipv6 = false;
    test::run_with_resolver(options, [&s](resolver* r) { return servfail_then_recovery(r, &s); });
}

namespace {

task<void> short_ttl(resolver* r, const scripted* s) {
    for (int i = 0; i < 3; ++i) {
        answer a = co_await r->lookup("short.test", record_type::a);
        CHECK(a.status == answer_status::ok);
        CHECK(a.ttl_s == 1);
    }
    CHECK(s->seen("udp", "short.test") == 1);
    io::sleep_for wait(1100);
    co_await wait;
    answer a = co_await r->lookup("short.test", record_type::a);
    CHECK(a.status == answer_status::ok);
    CHECK(s->seen("udp", "short.test") == 2);
}

}  // namespace

TEST_CASE("an answer past its TTL is asked again (queries counted at the server)") {
    scripted s;
    REQUIRE(s.peer);
    test::run_with_resolver(test::options_for({s.peer.address()}),
                            [&s](resolver* r) { return short_ttl(r, &s); });
}

namespace {

task<void> no_edns(resolver* r, const scripted* s) {
    answer a = co_await r->lookup("formerr.test", record_type::a);
    CHECK(a.status == answer_status::ok);
    CHECK(a.addresses.size() == 1);
    CHECK(s->seen("udp", "formerr.test") == 2);   // with EDNS, then without
}

task<void> silent(resolver* r, const scripted* s) {
    answer a = co_await r->lookup("silent.test", record_type::a);
    CHECK(a.status == answer_status::timeout);
    CHECK(s->seen("udp", "silent.test") == 2);
    // Late replies cannot arrive (there are none), and nothing is left pending.
    answer b = co_await r->lookup("unknown.test", record_type::a);
    CHECK(b.status == answer_status::nxdomain);
    CHECK(b.ttl_s == 30);   // the responder's SOA
}

}  // namespace

TEST_CASE("FORMERR to an EDNS query is retried once without EDNS") {
    scripted s;
    REQUIRE(s.peer);
    test::run_with_resolver(test::options_for({s.peer.address()}),
                            [&s](resolver* r) { return no_edns(r, &s); });
}

TEST_CASE("a name the server never answers times out after every round") {
    scripted s;
    REQUIRE(s.peer);
    test::run_with_resolver(test::options_for({s.peer.address()}, 150),
                            [&s](resolver* r) { return silent(r, &s); });
}

namespace {

task<void> late(resolver* r) {
    answer a = co_await r->lookup("late.test", record_type::a);
    CHECK(a.status == answer_status::timeout);   // 2 rounds x 150 ms < 250 ms
    CHECK(r->stats().timeouts == 2);
    io::sleep_for wait(400);   // both late replies arrive meanwhile
    co_await wait;
    CHECK(r->stats().replies_dropped == 2);   // stale: nobody waits for them any more
}

task<void> lookup_silent(resolver* r, answer* out) {
    *out = co_await r->lookup("silent.test", record_type::a);
}

task<void> spawn_and_leave(resolver* r, answer* out) {
    ringmta::runtime::spawn(lookup_silent(r, out));
    co_return;   // the driver stops the resolver while the lookup waits
}

}  // namespace

TEST_CASE("a reply that arrives after its deadline is dropped as stale") {
    scripted s;
    REQUIRE(s.peer);
    test::run_with_resolver(test::options_for({s.peer.address()}, 150),
                            [](resolver* r) { return late(r); });
}

TEST_CASE("stop() ends lookups still waiting for a reply, leaving nothing running") {
    scripted s;
    REQUIRE(s.peer);
    answer result;
    result.status = answer_status::ok;
    std::uint64_t start_ms = ringmta::runtime::monotonic_ms();
    test::run_with_resolver(test::options_for({s.peer.address()}, 5000),
                            [&result](resolver* r) { return spawn_and_leave(r, &result); });
    CHECK(result.status == answer_status::timeout);
    CHECK(ringmta::runtime::monotonic_ms() - start_ms < 1000);   // not the 5 s timeout
}
