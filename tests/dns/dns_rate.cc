// dns_rate: MX resolutions per second against a local dnsmasq, for 1,000
// distinct domains (each: one MX, one exchanger with an A record, no AAAA),
// with a cold cache and then a warm one. A figure for capacity planning, not a
// test. Usage: dns_rate [domains [concurrency]]   (defaults 1000 and 64)
#include <coroutine>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "dns_peers.h"
#include "ringmta/dns/resolver.h"
#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"

using namespace ringmta;
using dns::test::dns_peer;

namespace {

struct run_state {
    dns::resolver* resolver = nullptr;
    int domains = 0;
    int next = 0;
    int finished = 0;
    int failed = 0;
    int workers_live = 0;
    runtime::notifier all_done;
};

std::string domain_name(int i) { return "d" + std::to_string(i) + ".rate.test"; }

// Resumes on the next reactor turn. Cache hits complete without suspending, and
// a long run of them nests resumptions wherever the compiler does not turn
// symmetric transfer into a tail call (sanitizer builds), so yield now and then.
struct yield_turn {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { runtime::reactor::current().schedule(h); }
    void await_resume() const noexcept {}
};
constexpr int resolutions_per_yield = 32;

// One of `concurrency` workers: resolves domains until none are left.
runtime::task<void> worker(run_state* s) {
    for (int done = 1; s->next < s->domains; ++done) {
        int i = s->next++;
        dns::mx_result m = co_await s->resolver->resolve_mx(domain_name(i));
        if (m.status != dns::mx_status::exchangers || m.exchangers.empty()) ++s->failed;
        ++s->finished;
        if (done % resolutions_per_yield == 0) {
            yield_turn next_turn;
            co_await next_turn;
        }
    }
    if (--s->workers_live == 0) s->all_done.notify();
}

double seconds_of(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double seconds_now() { return seconds_of(CLOCK_MONOTONIC); }
// CPU time of this process only (dnsmasq's is its own).
double cpu_seconds() { return seconds_of(CLOCK_PROCESS_CPUTIME_ID); }

// Resolves every domain `passes` times, `concurrency` at a time, and prints the rate.
runtime::task<void> measure(dns::resolver* r, int domains, int concurrency, int passes,
                            const char* label) {
    std::uint64_t queries_before = r->stats().udp_queries;
    int finished = 0;
    int failed = 0;
    double start_s = seconds_now();
    double start_cpu_s = cpu_seconds();
    for (int pass = 0; pass < passes; ++pass) {
        run_state s;
        s.resolver = r;
        s.domains = domains;
        s.workers_live = concurrency;
        for (int w = 0; w < concurrency; ++w) runtime::spawn(worker(&s));
        auto done = s.all_done.wait();
        co_await done;
        finished += s.finished;
        failed += s.failed;
    }
    double seconds = seconds_now() - start_s;
    double cpu_us = (cpu_seconds() - start_cpu_s) * 1e6 / finished;
    std::printf("%-24s %6d in %8.4f s = %9.0f/s, resolver CPU %5.1f us each "
                "(%llu queries, %d failed)\n",
                label, finished, seconds, finished / seconds, cpu_us,
                static_cast<unsigned long long>(r->stats().udp_queries - queries_before),
                failed);
}

runtime::task<void> run_all(dns::resolver* r, int domains, int concurrency,
                            runtime::reactor* loop) {
    co_await measure(r, domains, concurrency, 1, "cold cache:");
    co_await measure(r, domains, concurrency, 10, "warm cache (10 passes):");
    r->cache().clear();
    co_await measure(r, domains, 1, 1, "cold, one at a time:");
    co_await r->stop();
    loop->request_exit();
}

}  // namespace

int main(int argc, char** argv) {
    int domains = argc > 1 ? std::atoi(argv[1]) : 1000;
    int concurrency = argc > 2 ? std::atoi(argv[2]) : 64;
    if (domains <= 0 || concurrency <= 0) {
        std::fprintf(stderr, "usage: dns_rate [domains [concurrency]]\n");
        return 2;
    }
    if (!dns::test::have_dnsmasq()) {
        std::fprintf(stderr, "dns_rate: dnsmasq is not installed\n");
        return 77;
    }
    dns::test::temp_dir dir;
    std::string zone;
    for (int i = 0; i < domains; ++i) {
        zone += "mx-host=" + domain_name(i) + ",mx." + domain_name(i) + ",10\n";
        zone += "host-record=mx." + domain_name(i) + ",10." + std::to_string(i / 65536 % 256) +
                "." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256) + "\n";
    }
    dns::test::write_file(dir.file("zone.conf"), zone);
    dns_peer dnsmasq = dns::test::start_dnsmasq(
        {"--conf-dir=" + dir.path(), "--local=/test/", "--local-ttl=3600"});
    if (!dnsmasq) {
        std::fprintf(stderr, "dns_rate: dnsmasq did not start\n");
        return 1;
    }
    std::printf("dns_rate: %d domains, %d resolutions at a time, dnsmasq on 127.0.0.1:%u, "
                "one shard\n", domains, concurrency, static_cast<unsigned>(dnsmasq.port));
    runtime::reactor loop(runtime::reactor_options{});
    dns::resolver_options options;
    options.servers = {dnsmasq.address()};
    dns::resolver r(options);
    std::string error = r.start();
    if (!error.empty()) {
        std::fprintf(stderr, "dns_rate: %s\n", error.c_str());
        return 1;
    }
    runtime::spawn(run_all(&r, domains, concurrency, &loop));
    loop.run();
    return 0;
}
