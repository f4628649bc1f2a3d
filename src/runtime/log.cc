// Operator log (see log.h). Thread-safe by construction: each line is formatted
// into a local buffer and written with a single write(2) to an O_APPEND fd.
#include "ringmta/runtime/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "ringmta/runtime/reactor.h"

namespace ringmta::runtime {

namespace {

std::atomic<int> log_fd{2};
std::atomic<int> min_level{static_cast<int>(log_level::info)};
const char* program = "ringmta";

const char* level_name(log_level level) {
    switch (level) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warning";
    case log_level::error: return "error";
    }
    return "?";
}

}  // namespace

std::string log_open(const std::string& path) {
    if (path.empty()) {
        log_fd.store(2);
        return {};
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) return path + ": " + std::strerror(errno);
    int old = log_fd.exchange(fd);
    if (old > 2) ::close(old);
    return {};
}

void log_set_level(log_level level) { min_level.store(static_cast<int>(level)); }
void log_set_program(const char* name) { program = name; }

void log_write(log_level level, const char* format, ...) {
    if (static_cast<int>(level) < min_level.load(std::memory_order_relaxed)) return;
    char line[2048];
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm utc{};
    gmtime_r(&ts.tv_sec, &utc);
    int n = static_cast<int>(std::strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &utc));
    reactor* r = reactor::current_or_null();
    char shard[16] = "main";
    if (r) std::snprintf(shard, sizeof(shard), "%u", r->shard());
    n += std::snprintf(line + n, sizeof(line) - n, ".%03ldZ %s[%s] %s: ", ts.tv_nsec / 1000000,
                       program, shard, level_name(level));
    va_list args;
    va_start(args, format);
    int body = std::vsnprintf(line + n, sizeof(line) - n - 1, format, args);
    va_end(args);
    n = body < 0 ? n : std::min<int>(n + body, sizeof(line) - 2);
    line[n++] = '\n';
    [[maybe_unused]] ssize_t w = ::write(log_fd.load(std::memory_order_relaxed), line, n);
}

}  // namespace ringmta::runtime
