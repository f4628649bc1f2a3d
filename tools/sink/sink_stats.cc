// Sink counters and their JSON form (see sink_stats.h).
#include "sink_stats.h"

#include <cstdio>

namespace ringmta::sink {

sink_totals& sink_totals::operator+=(const sink_totals& other) {
    connections += other.connections;
    messages += other.messages;
    recipients += other.recipients;
    bytes += other.bytes;
    rejected += other.rejected;
    connections_peak += other.connections_peak;
    return *this;
}

std::string sink_totals::to_json() const {
    char line[256];
    std::snprintf(line, sizeof(line),
                  "{\"connections\":%llu,\"messages\":%llu,\"recipients\":%llu,"
                  "\"bytes\":%llu,\"rejected\":%llu,\"connections_peak\":%llu}",
                  (unsigned long long)connections, (unsigned long long)messages,
                  (unsigned long long)recipients, (unsigned long long)bytes,
                  (unsigned long long)rejected, (unsigned long long)connections_peak);
    return line;
}

sink_totals shard_counters::load() const {
    sink_totals t;
    t.connections = _connections.load(std::memory_order_relaxed);
    t.messages = _messages.load(std::memory_order_relaxed);
    t.recipients = _recipients.load(std::memory_order_relaxed);
    t.bytes = _bytes.load(std::memory_order_relaxed);
    t.rejected = _rejected.load(std::memory_order_relaxed);
    t.connections_peak = _peak.load(std::memory_order_relaxed);
    return t;
}

}  // namespace ringmta::sink
