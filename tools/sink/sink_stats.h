// Sink counters. Each shard owns one shard_counters and is its only writer; the
// main thread reads them (relaxed loads) to sum the totals for the stats file
// and the final report. Single writer, so an increment is a load and a store,
// not a locked read-modify-write.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace ringmta::sink {

struct sink_totals {
    std::uint64_t connections = 0;
    std::uint64_t messages = 0;    // accepted (250 after DATA)
    std::uint64_t recipients = 0;  // recipients of accepted messages
    std::uint64_t bytes = 0;       // content bytes of accepted messages
    std::uint64_t rejected = 0;    // messages answered with a forced --data-reply
    // Most connections open at once: exact with one shard; with several, the sum of
    // each shard's peak (an upper bound).
    std::uint64_t connections_peak = 0;

    bool operator==(const sink_totals&) const = default;
    sink_totals& operator+=(const sink_totals& other);
    // {"connections":N,"messages":N,"recipients":N,"bytes":N,"rejected":N,
    //  "connections_peak":N}
    std::string to_json() const;
};

class shard_counters {
public:
    void add_connection() {
        bump(_connections, 1);
        if (++_open > _peak.load(std::memory_order_relaxed)) {
            _peak.store(_open, std::memory_order_relaxed);
        }
    }
    void end_connection() { --_open; }
    void add_message(std::uint64_t recipients, std::uint64_t bytes) {
        bump(_messages, 1);
        bump(_recipients, recipients);
        bump(_bytes, bytes);
    }
    void add_rejected() { bump(_rejected, 1); }
    sink_totals load() const;

private:
    static void bump(std::atomic<std::uint64_t>& counter, std::uint64_t n) {
        counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }

    // Own cache line: the shard writes here, the main thread only reads.
    alignas(64) std::atomic<std::uint64_t> _connections{0};
    std::atomic<std::uint64_t> _messages{0};
    std::atomic<std::uint64_t> _recipients{0};
    std::atomic<std::uint64_t> _bytes{0};
    std::atomic<std::uint64_t> _rejected{0};
    std::atomic<std::uint64_t> _peak{0};
    std::uint64_t _open = 0;  // the shard's own: never read by the main thread
};

}  // namespace ringmta::sink
