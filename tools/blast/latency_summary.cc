// Latency percentiles (see latency_summary.h).
#include "latency_summary.h"

#include <algorithm>
#include <cmath>

namespace ringmta::blast {

namespace {

double rank_ms(const std::vector<std::uint32_t>& sorted_us, double p) {
    const double n = double(sorted_us.size());
    std::size_t rank = std::size_t(std::ceil(p * n));
    if (rank < 1) rank = 1;
    if (rank > sorted_us.size()) rank = sorted_us.size();
    return sorted_us[rank - 1] / 1000.0;
}

}  // namespace

latency_summary summarize_latency(std::vector<std::uint32_t>& samples_us) {
    latency_summary s;
    if (samples_us.empty()) return s;
    std::sort(samples_us.begin(), samples_us.end());
    s.p50_ms = rank_ms(samples_us, 0.50);
    s.p90_ms = rank_ms(samples_us, 0.90);
    s.p99_ms = rank_ms(samples_us, 0.99);
    s.p999_ms = rank_ms(samples_us, 0.999);
    s.max_ms = samples_us.back() / 1000.0;
    return s;
}

}  // namespace ringmta::blast
