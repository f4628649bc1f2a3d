// Shared by the dns tests: run a coroutine on a fresh reactor on the test
// thread, optionally with a started resolver that is stopped afterwards.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "dns_peers.h"
#include "ringmta/dns/resolver.h"
#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"

namespace ringmta::dns::test {

// Options for a resolver asking only `servers`, with a short timeout and a
// fixed seed so failures reproduce.
inline resolver_options options_for(std::vector<runtime::socket_address> servers,
                                    std::uint64_t attempt_timeout_ms = 1000) {
    resolver_options o;
    o.servers = std::move(servers);
    o.attempt_timeout_ms = attempt_timeout_ms;
    return o;
}

inline runtime::task<void> drive(runtime::task<void> body, resolver* r,
                                 runtime::reactor* loop) {
    co_await std::move(body);
    if (r != nullptr) co_await r->stop();
    loop->request_exit();
}

// Runs make() on a fresh reactor until it finishes.
template <typename Make>
void run_test(Make make) {
    runtime::reactor loop(runtime::reactor_options{});
    runtime::spawn(drive(make(), nullptr, &loop));
    loop.run();
    CHECK(loop.tasks_live() == 0);
}

// Starts a resolver with `options`, runs body(&resolver), then stops it.
template <typename Body>
void run_with_resolver(resolver_options options, Body body) {
    runtime::reactor loop(runtime::reactor_options{});
    resolver r(std::move(options), random_source(0x5eed));
    std::string error = r.start();
    REQUIRE(error.empty());
    runtime::spawn(drive(body(&r), &r, &loop));
    loop.run();
    CHECK(loop.tasks_live() == 0);
}

inline std::vector<std::string> texts(const std::vector<ip_address>& addresses) {
    std::vector<std::string> out;
    for (const ip_address& a : addresses) out.push_back(a.to_string());
    return out;
}

}  // namespace ringmta::dns::test

// tools/dev installs dnsmasq: a missing one is a broken set-up, not a skipped test.
#define REQUIRE_DNSMASQ() \
    REQUIRE_MESSAGE(::ringmta::dns::test::have_dnsmasq(), \
                    "dnsmasq is not installed (tools/dev installs it)")
