// Journal appends through the real I/O path: records of a 10 KiB message
// appended on a shard's ring and made durable by group commit (one linked
// write + fdatasync per reactor turn), into a segment under $TMPDIR (default
// /tmp). Reported per message: the whole cost, fdatasync included, in both
// durability modes, for batches of 1, 16 and 64 appends per turn. Compare with
// BM_fdatasync, the disk's own rate for one small write + fdatasync.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ringmta/journal/journal.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/reactor.h"

using namespace ringmta;

namespace {

std::string temp_directory() {
    const char* base = std::getenv("TMPDIR");
    std::string path = std::string(base ? base : "/tmp") + "/ringmta-bench-XXXXXX";
    if (mkdtemp(path.data()) == nullptr) std::abort();
    return path;
}

struct run_state {
    journal::journal* log;
    benchmark::State* state;
    int batch;
    std::uint64_t id = 0;
};

runtime::task<void> append_loop(run_state* s, runtime::reactor* r) {
    std::vector<std::string> recipients{"rcpt@example.net"};
    std::string body(10240, 'x');
    for (auto _ : *s->state) {
        std::uint64_t ticket = 0;
        for (int i = 0; i < s->batch; ++i) {
            journal::message_view m{++s->id, 1, 0, "sender@example.org", "helo", "127.0.0.1",
                                    "", 0, recipients, body};
            ticket = s->log->append_message(m, nullptr);
        }
        int rc = co_await s->log->durable(ticket);
        benchmark::DoNotOptimize(rc);
    }
    r->request_exit();
}

void BM_journal_append(benchmark::State& state) {
    std::string dir = temp_directory();
    {
        runtime::reactor r(runtime::reactor_options{});
        journal::ring_segment_io io;
        journal::journal_options options;
        options.directory = dir;
        options.sync = state.range(1) != 0;
        journal::journal log(options, io);
        journal::recovery none;
        if (!log.open(none).empty()) std::abort();
        r.add_turn_hook(&log);
        run_state s{&log, &state, static_cast<int>(state.range(0))};
        runtime::spawn(append_loop(&s, &r));
        r.run();
        r.remove_turn_hook(&log);
        state.SetItemsProcessed(state.iterations() * state.range(0));
        state.SetBytesProcessed(state.iterations() * state.range(0) * 10240);
        state.SetLabel(options.sync ? "fsync" : "nosync");
    }
    std::string command = "rm -rf '" + dir + "'";
    if (std::system(command.c_str()) != 0) std::abort();
}
BENCHMARK(BM_journal_append)
    ->ArgsProduct({{1, 16, 64}, {1, 0}})
    ->ArgNames({"batch", "sync"})
    ->UseRealTime()
    ->MinTime(0.5);

void BM_fdatasync(benchmark::State& state) {
    std::string dir = temp_directory();
    std::string path = dir + "/probe";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0600);
    char block[4096] = {};
    std::uint64_t offset = 0;
    for (auto _ : state) {
        if (::pwrite(fd, block, sizeof(block), static_cast<off_t>(offset)) < 0) std::abort();
        offset += sizeof(block);
        if (::fdatasync(fd) != 0) std::abort();
    }
    ::close(fd);
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_fdatasync)->UseRealTime()->MinTime(0.5);

// Buffered vs O_DIRECT for one group commit of `bytes` (write + fdatasync), the
// choice the journal makes: the same appending pattern, the same disk, one run.
void BM_commit_write_mode(benchmark::State& state) {
    const std::size_t bytes = static_cast<std::size_t>(state.range(0));
    const bool direct = state.range(1) != 0;
    std::string dir = temp_directory();
    std::string path = dir + "/probe";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | (direct ? O_DIRECT : 0), 0600);
    if (fd < 0) {
        state.SkipWithError("open failed (O_DIRECT unsupported here?)");
        return;
    }
    const std::size_t file_bytes = 64u << 20;
    if (::posix_fallocate(fd, 0, static_cast<off_t>(file_bytes)) != 0) std::abort();
    void* buffer = nullptr;
    if (::posix_memalign(&buffer, 4096, bytes) != 0) std::abort();
    std::memset(buffer, 'j', bytes);
    std::uint64_t offset = 0;
    for (auto _ : state) {
        if (offset + bytes > file_bytes) offset = 0;
        if (::pwrite(fd, buffer, bytes, static_cast<off_t>(offset)) != ssize_t(bytes)) std::abort();
        if (::fdatasync(fd) != 0) std::abort();
        offset += bytes;
    }
    std::free(buffer);
    ::close(fd);
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
    state.SetLabel(direct ? "O_DIRECT" : "buffered");
}
BENCHMARK(BM_commit_write_mode)
    ->ArgsProduct({{4096, 65536, 655360}, {0, 1}})
    ->ArgNames({"bytes", "direct"})
    ->UseRealTime()
    ->MinTime(0.5);

}  // namespace

BENCHMARK_MAIN();
