// Latency percentiles over every sample of a run (nearest-rank method: p is the
// smallest sample with at least p of all samples at or below it).
#pragma once

#include <cstdint>
#include <vector>

namespace ringmta::blast {

struct latency_summary {
    double p50_ms = 0;
    double p90_ms = 0;
    double p99_ms = 0;
    double p999_ms = 0;
    double max_ms = 0;
};

// Sorts `samples_us` in place.
latency_summary summarize_latency(std::vector<std::uint32_t>& samples_us);

}  // namespace ringmta::blast
