// Test harness for the admin endpoint's HTTP layer (test_admin.py) and for
// ringmta-ctl (test_ctl.py): the real admin_server on a real reactor, on
// loopback, with a backend that records every call it receives, one line each,
// in the --calls file and answers with fixed data. Not a stand-in for the
// daemon's backend: that one is wired and tested with the daemon.
//
//   admin_test_server --listen 127.0.0.1:0 --calls FILE --port-file FILE
// Runs until killed. The port it listens on goes to --port-file.
#include <ringmta/observe/admin_server.h>
#include <ringmta/observe/metrics.h>
#include <ringmta/observe/mta_metrics.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "ringmta/runtime/net.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/reactor.h"

using namespace ringmta;
using namespace ringmta::observe;

namespace {

class recording_backend final : public admin_backend {
public:
    explicit recording_backend(std::FILE* calls) : _calls(calls) {}

    runtime::task<std::string> metrics_text() override {
        record("metrics");
        metrics_registry registry;
        mta_metrics m(registry);
        m.delivered.counter_for({"gmail.com"}).inc(42);
        m.connections_allowed.gauge_for({"group:google"}).set(8);
        m.delivery_seconds.histogram_for().observe(0.7);
        co_return format_prometheus(registry.snapshot());
    }

    runtime::task<queue_summary> queue() override {
        record("queue");
        queue_summary summary;
        domain_summary gmail;
        gmail.domain = "group:google";
        gmail.queued = 1200;
        gmail.in_flight = 40;
        gmail.deferred = 300;
        gmail.connections = 8;
        gmail.connections_allowed = 8;
        gmail.connections_max = 40;
        gmail.rate_allowed_per_second = 62.5;
        gmail.rate_limit = "5000/h";
        gmail.last_error = "421 4.7.0 Try again later, \"closing\"";
        domain_summary yahoo;
        yahoo.domain = "yahoo.com";
        yahoo.queued = 5;
        yahoo.suspended = true;
        yahoo.suspended_until_unix_ms = 1'795'000'000'000;
        summary.domains = {gmail, yahoo};
        co_return summary;
    }

    runtime::task<admin_result> suspend(std::string domain, std::uint64_t duration_ms) override {
        record("suspend " + domain + " " + std::to_string(duration_ms));
        co_return known(domain, 1, "suspended");
    }

    runtime::task<admin_result> resume(std::string domain) override {
        record("resume " + domain);
        co_return known(domain, 1, "resumed");
    }

    // Answers after a timer on the ring: the HTTP layer really awaits the backend.
    runtime::task<admin_result> retry(std::string domain) override {
        record("retry " + domain);
        runtime::io::sleep_for pause(20);
        co_await pause;
        co_return known(domain, 5, "5 recipients due now");
    }

    runtime::task<admin_result> bounce(message_filter filter) override {
        record("bounce domain=" + filter.domain + " sender=" + filter.sender);
        co_return admin_result{200, 3, "3 recipients bounced"};
    }

    runtime::task<admin_result> remove(message_filter filter) override {
        record("delete domain=" + filter.domain + " sender=" + filter.sender);
        co_return admin_result{200, 2, "2 recipients deleted"};
    }

private:
    // unknown.example is the one domain the harness does not know.
    static admin_result known(const std::string& domain, std::uint64_t affected,
                              const char* done) {
        if (domain == "unknown.example") return {404, 0, "no mail queued for " + domain};
        return {200, affected, std::string(done) + ": " + domain};
    }

    void record(const std::string& line) {
        std::fprintf(_calls, "%s\n", line.c_str());
        std::fflush(_calls);
    }

    std::FILE* _calls;
};

}  // namespace

int main(int argc, char** argv) {
    std::string listen = "127.0.0.1:0", calls_path = "/dev/null", port_path;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--listen") == 0) listen = argv[i + 1];
        if (std::strcmp(argv[i], "--calls") == 0) calls_path = argv[i + 1];
        if (std::strcmp(argv[i], "--port-file") == 0) port_path = argv[i + 1];
    }
    runtime::socket_address address;
    if (!runtime::parse_socket_address(listen, address)) {
        std::fprintf(stderr, "admin_test_server: bad --listen %s\n", listen.c_str());
        return 2;
    }
    std::FILE* calls = std::fopen(calls_path.c_str(), "a");
    if (calls == nullptr) return 2;
    runtime::reactor reactor(runtime::reactor_options{});
    int fd = runtime::listen_tcp(address, 64);
    if (fd < 0) {
        std::fprintf(stderr, "admin_test_server: listen: %s\n", std::strerror(-fd));
        return 1;
    }
    std::string bound = runtime::format_address(runtime::local_address(fd).get());
    if (!port_path.empty()) {
        std::FILE* port = std::fopen(port_path.c_str(), "w");
        if (port == nullptr) return 2;
        std::fprintf(port, "%s\n", bound.substr(bound.rfind(':') + 1).c_str());
        std::fclose(port);
    }
    recording_backend backend(calls);
    admin_options options;
    options.connections_max = 4;
    options.read_timeout_ms = 1000;
    options.idle_timeout_ms = 3000;
    admin_server server(fd, backend, options);
    server.start();
    reactor.run();
    return 0;
}
