// ringmta-blast: an SMTP load generator and campaign injector. Sends N messages
// of a given size over C connections spread over S shard threads, then reports
// throughput and latency percentiles (human line, or one JSON object).
// Exit status 0 iff every message was accepted.
#include <signal.h>

#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "blast_options.h"
#include "blast_shard.h"
#include "latency_summary.h"
#include "message_builder.h"
#include "ringmta/runtime/log.h"
#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/shard_group.h"

using namespace ringmta;
using namespace ringmta::blast;

namespace {

struct run_totals {
    std::uint64_t messages = 0;
    std::uint64_t attempted = 0;  // taken by a connection: sent, or lost in flight
    std::uint64_t accepted = 0;
    std::uint64_t failed = 0;
    std::uint64_t sent_bytes = 0;
    double seconds = 0;
    std::vector<std::uint32_t> latency_us;
    std::vector<std::string> failure_replies;
};

// Shard s owns messages [N*s/S, N*(s+1)/S) and connections C/S (+1 for the first C%S).
std::vector<std::unique_ptr<blast_shard>> make_shards(const blast_options& options,
                                                      const message_builder& builder,
                                                      std::uint64_t deadline_ms) {
    std::vector<std::unique_ptr<blast_shard>> shards;
    const std::uint64_t n = options.messages;
    const unsigned s_count = options.shards;
    for (unsigned s = 0; s < s_count; ++s) {
        const std::uint64_t first = n * s / s_count;
        const std::uint64_t end = n * (s + 1) / s_count;
        const unsigned connections =
            options.connections / s_count + (s < options.connections % s_count ? 1 : 0);
        shards.push_back(std::make_unique<blast_shard>(options, builder, first, end,
                                                       connections, deadline_ms));
    }
    return shards;
}

run_totals collect(const blast_options& options,
                   std::vector<std::unique_ptr<blast_shard>>& shards) {
    run_totals t;
    t.messages = options.messages;
    for (auto& shard : shards) {
        shard_results& r = shard->results();
        t.attempted += r.attempted;
        t.accepted += r.accepted;
        t.failed += r.failed;
        t.sent_bytes += r.sent_bytes;
        t.latency_us.insert(t.latency_us.end(), r.latency_us.begin(), r.latency_us.end());
        for (const std::string& f : r.failure_replies) {
            bool seen = false;
            for (const std::string& g : t.failure_replies) seen |= g == f;
            if (!seen && t.failure_replies.size() < shard_results::failure_replies_max) {
                t.failure_replies.push_back(f);
            }
        }
    }
    if (t.attempted < options.messages) {
        std::fprintf(stderr, "ringmta-blast: %llu messages not sent (deadline or no connection)\n",
                     (unsigned long long)(options.messages - t.attempted));
        t.failed += options.messages - t.attempted;
    }
    return t;
}

void report(const blast_options& options, run_totals& t) {
    for (const std::string& f : t.failure_replies) {
        std::fprintf(stderr, "ringmta-blast: failure: %s\n", f.c_str());
    }
    const latency_summary l = summarize_latency(t.latency_us);
    const double seconds = t.seconds > 0 ? t.seconds : 1e-9;
    const double rate = double(t.attempted) / seconds;
    const double bytes_rate = double(t.sent_bytes) / seconds;
    if (options.json) {
        std::printf("{\"messages\":%llu,\"accepted\":%llu,\"failed\":%llu,\"seconds\":%.6f,"
                    "\"messages_per_s\":%.1f,\"bytes_per_s\":%.0f,\"latency_ms\":{\"p50\":%.3f,"
                    "\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}}\n",
                    (unsigned long long)t.messages, (unsigned long long)t.accepted,
                    (unsigned long long)t.failed, t.seconds, rate, bytes_rate, l.p50_ms,
                    l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms);
        return;
    }
    std::printf("sent %llu messages (%llu accepted, %llu failed) in %.3f s: %.1f msg/s, "
                "%.2f MB/s; latency ms p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f\n",
                (unsigned long long)t.messages, (unsigned long long)t.accepted,
                (unsigned long long)t.failed, t.seconds, rate, bytes_rate / 1e6, l.p50_ms,
                l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms);
}

bool write_accepted_log(const std::string& path,
                        std::vector<std::unique_ptr<blast_shard>>& shards) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) {
        std::fprintf(stderr, "ringmta-blast: %s: %s\n", path.c_str(), std::strerror(errno));
        return false;
    }
    for (auto& shard : shards) {
        for (std::uint64_t m : shard->results().accepted_messages) {
            std::fprintf(f, "%llu\n", (unsigned long long)m);
        }
    }
    return std::fclose(f) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    runtime::log_set_program("ringmta-blast");
    blast_options options;
    std::string error = parse_blast_options(argc, argv, options);
    if (options.help) {
        std::fputs(blast_usage, stdout);
        return 0;
    }
    if (!error.empty()) {
        std::fprintf(stderr, "ringmta-blast: %s\n%s", error.c_str(), blast_usage);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    const message_builder builder(options);
    const auto started = std::chrono::steady_clock::now();
    auto shards = make_shards(options, builder,
                              runtime::monotonic_ms() + options.timeout_s * 1000);
    runtime::shard_group group(options.shards);
    group.start([&shards](runtime::reactor& r) { shards[r.shard()]->start(); });
    group.join();
    run_totals totals = collect(options, shards);
    totals.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    report(options, totals);
    if (!options.accepted_log.empty() && !write_accepted_log(options.accepted_log, shards)) {
        return 2;
    }
    return totals.accepted == options.messages ? 0 : 1;
}
