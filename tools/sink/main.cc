// ringmta-sink: an io_uring SMTP sink for benchmarks and tests. It accepts every
// message (or forces the replies it was told to), counts connections, messages,
// recipients and content bytes per shard, and optionally stores each message.
//
// Threads: N shard threads run the SMTP sessions; the main thread binds the
// listeners, then only waits for SIGTERM/SIGINT (blocked in every thread, taken
// with sigtimedwait) and rewrites the stats file every 100 ms when it changed.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "reply_policy.h"
#include "ringmta/runtime/log.h"
#include "ringmta/runtime/net.h"
#include "ringmta/runtime/shard_group.h"
#include "sink_options.h"
#include "sink_shard.h"
#include "sink_stats.h"

using namespace ringmta;
using namespace ringmta::sink;

namespace {

constexpr int listen_backlog = 1024;
constexpr long stats_interval_ms = 100;

// One listener per shard per address, all bound here so bind errors are reported
// before anything starts. Port 0 is resolved by the first bind and reused, so
// every shard's SO_REUSEPORT listener shares the same port.
std::string bind_listeners(sink_options& options, std::vector<std::vector<int>>& fds) {
    fds.assign(options.shards, {});
    for (runtime::socket_address& address : options.listen) {
        for (unsigned shard = 0; shard < options.shards; ++shard) {
            int fd = runtime::listen_tcp(address, listen_backlog);
            if (fd < 0) {
                return "listen on " + runtime::format_address(address.get()) + ": " +
                       std::strerror(-fd);
            }
            fds[shard].push_back(fd);
            if (shard == 0) address = runtime::local_address(fd);
        }
    }
    return {};
}

std::string prepare_store(const std::string& dir) {
    if (dir.empty()) return {};
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        return "--store " + dir + ": " + std::strerror(errno);
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return "--store " + dir + ": not a directory";
    }
    return {};
}

// Write to FILE.tmp, then rename: a reader never sees a half-written line.
void write_stats_file(const std::string& path, const sink_totals& totals) {
    const std::string temporary = path + ".tmp";
    const std::string line = totals.to_json() + "\n";
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    bool ok = ::write(fd, line.data(), line.size()) == ssize_t(line.size());
    ::close(fd);
    if (ok) ::rename(temporary.c_str(), path.c_str());
}

sink_totals sum(const std::vector<std::unique_ptr<sink_shard>>& shards) {
    sink_totals totals;
    for (const auto& s : shards) totals += s->counters().load();
    return totals;
}

// Waits for SIGTERM/SIGINT, keeping the stats file current meanwhile.
void wait_for_stop(const sigset_t& signals, const sink_options& options,
                   const std::vector<std::unique_ptr<sink_shard>>& shards) {
    sink_totals written;
    bool first = true;
    const timespec interval{0, stats_interval_ms * 1000000};
    while (true) {
        if (!options.stats_file.empty()) {
            sink_totals now = sum(shards);
            if (first || !(now == written)) write_stats_file(options.stats_file, now);
            written = now;
            first = false;
        }
        int sig = sigtimedwait(&signals, nullptr, &interval);
        if (sig == SIGTERM || sig == SIGINT) return;
    }
}

}  // namespace

int main(int argc, char** argv) {
    runtime::log_set_program("ringmta-sink");
    sink_options options;
    std::string error = parse_sink_options(argc, argv, options);
    if (options.help) {
        std::fputs(sink_usage, stdout);
        return 0;
    }
    std::vector<std::vector<int>> listen_fds;
    if (error.empty()) error = prepare_store(options.store_dir);
    if (error.empty()) error = bind_listeners(options, listen_fds);
    if (!error.empty()) {
        std::fprintf(stderr, "ringmta-sink: %s\n%s", error.c_str(), sink_usage);
        return 2;
    }
    // Block the stop signals before any thread exists, so every shard thread
    // inherits the mask and only the main thread's sigtimedwait takes them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    std::atomic<bool> stop{false};
    reply_policy policy(options);
    std::vector<std::unique_ptr<sink_shard>> shards;
    for (unsigned i = 0; i < options.shards; ++i) {
        shards.push_back(std::make_unique<sink_shard>(i, options, policy,
                                                      std::move(listen_fds[i]), stop));
    }
    runtime::shard_group group(options.shards);
    group.start([&shards](runtime::reactor& r) { shards[r.shard()]->start(r); });
    for (const runtime::socket_address& address : options.listen) {
        std::fprintf(stderr, "ringmta-sink: listening on %s (%u shards)\n",
                     runtime::format_address(address.get()).c_str(), options.shards);
    }
    wait_for_stop(signals, options, shards);
    stop.store(true);
    group.wake_all();
    group.join();
    const sink_totals totals = sum(shards);
    if (!options.stats_file.empty()) write_stats_file(options.stats_file, totals);
    std::printf("%s\n", totals.to_json().c_str());
    return 0;
}
