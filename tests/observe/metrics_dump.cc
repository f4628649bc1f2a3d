// Test helper for test_metrics_format.py: two shards' registries with awkward
// label values (quotes, backslashes, newlines, UTF-8, ill-formed bytes), merged
// and printed as Prometheus text on stdout, for a real parser to read back.
#include <ringmta/observe/metrics.h>

#include <cstdio>
#include <vector>

using namespace ringmta::observe;

int main() {
    static const std::vector<double> bounds{0.005, 0.05, 0.5, 5};
    std::vector<metrics_snapshot> shards;
    for (int shard = 0; shard < 2; ++shard) {
        metrics_registry registry;
        metric_family& delivered = registry.add_counter(
            "ringmta_delivered_total", "Recipients delivered, by \"domain\" \\ and\nshard.",
            {"domain"});
        delivered.counter_for({"gmail.com"}).inc(1000 + static_cast<unsigned>(shard));
        delivered.counter_for({"quote\"back\\slash\nnewline"}).inc(2);
        delivered.counter_for({"b\xC3\xBC" "cher.de"}).inc(3);
        delivered.counter_for({"bad\xFF"}).inc(4);
        registry.add_gauge("ringmta_connections_allowed", "Allowed connections.", {"domain"})
            .gauge_for({"gmail.com"})
            .set(shard == 0 ? 12.5 : 0);
        registry.add_gauge("ringmta_up", "Always 1.").gauge_for().set(shard == 0 ? 1 : 0);
        histogram& latency = registry
                                 .add_histogram("ringmta_delivery_seconds", "Delivery time.",
                                                bounds, {"domain"})
                                 .histogram_for({"gmail.com"});
        for (double v : {0.001, 0.01, 0.1, 1.0, 10.0}) latency.observe(v * (shard + 1));
        shards.push_back(registry.snapshot());
    }
    std::string text = format_prometheus(merge(shards));
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
}
