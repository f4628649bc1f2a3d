// Metrics: counters, gauges and histograms per shard, the merge across shards,
// the overflow series, and the exact Prometheus text including escaping.
#include <ringmta/observe/metrics.h>
#include <ringmta/observe/mta_metrics.h>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

using namespace ringmta::observe;

namespace {

std::string label(std::string_view value) {
    std::string out;
    append_label_value(out, value);
    return out;
}

std::string sample(double value) {
    std::string out;
    append_sample_value(out, value);
    return out;
}

}  // namespace

TEST_CASE("label values and HELP text are escaped as the text format says") {
    CHECK(label("gmail.com") == "gmail.com");
    CHECK(label("a\"b") == "a\\\"b");
    CHECK(label("back\\slash") == "back\\\\slash");
    CHECK(label("two\nlines") == "two\\nlines");
    CHECK(label("tab\there") == "tab\there");            // only \, " and newline
    CHECK(label("b\xC3\xBC" "cher.de") == "b\xC3\xBC" "cher.de");   // well-formed UTF-8 as is
    CHECK(label("bad\xFF\xC3") == "bad\xEF\xBF\xBD\xEF\xBF\xBD");   // U+FFFD each
    CHECK(label("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
    std::string help;
    append_help_text(help, "a \"quoted\" \\ help\nline");
    CHECK(help == "a \"quoted\" \\\\ help\\nline");
}

TEST_CASE("sample values: integers exact, floats round-trip, NaN and infinities") {
    CHECK(sample(0) == "0");
    CHECK(sample(18446744073.0) == "18446744073");
    CHECK(sample(0.25) == "0.25");
    CHECK(sample(-3) == "-3");
    CHECK(sample(std::numeric_limits<double>::infinity()) == "+Inf");
    CHECK(sample(-std::numeric_limits<double>::infinity()) == "-Inf");
    CHECK(sample(std::nan("")) == "NaN");
    CHECK(std::stod(sample(0.1)) == 0.1);
}

TEST_CASE("a registry's text: HELP, TYPE, labels, histogram buckets cumulative") {
    metrics_registry registry;
    metric_family& delivered =
        registry.add_counter("ringmta_delivered_total", "Recipients delivered.", {"domain"});
    counter& gmail = delivered.counter_for({"gmail.com"});
    gmail.inc();
    gmail.inc(2);
    registry.add_gauge("ringmta_queued", "Recipients queued.").gauge_for().set(7);
    static const std::vector<double> bounds{0.1, 1};
    metric_family& latency = registry.add_histogram("ringmta_delivery_seconds",
                                                    "Time to deliver.", bounds, {"domain"});
    histogram& h = latency.histogram_for({"a\"b"});
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    CHECK(&registry.add_counter("ringmta_delivered_total", "again", {"domain"}) == &delivered);
    CHECK(&delivered.counter_for({"gmail.com"}) == &gmail);   // references stay valid
    CHECK(format_prometheus(registry.snapshot()) ==
          "# HELP ringmta_delivered_total Recipients delivered.\n"
          "# TYPE ringmta_delivered_total counter\n"
          "ringmta_delivered_total{domain=\"gmail.com\"} 3\n"
          "# HELP ringmta_queued Recipients queued.\n"
          "# TYPE ringmta_queued gauge\n"
          "ringmta_queued 7\n"
          "# HELP ringmta_delivery_seconds Time to deliver.\n"
          "# TYPE ringmta_delivery_seconds histogram\n"
          "ringmta_delivery_seconds_bucket{domain=\"a\\\"b\",le=\"0.1\"} 1\n"
          "ringmta_delivery_seconds_bucket{domain=\"a\\\"b\",le=\"1\"} 2\n"
          "ringmta_delivery_seconds_bucket{domain=\"a\\\"b\",le=\"+Inf\"} 3\n"
          "ringmta_delivery_seconds_sum{domain=\"a\\\"b\"} 5.55\n"
          "ringmta_delivery_seconds_count{domain=\"a\\\"b\"} 3\n");
}

TEST_CASE("merge sums the shards by family and label values") {
    std::vector<metrics_snapshot> shards;
    for (int shard = 0; shard < 3; ++shard) {
        metrics_registry registry;
        metric_family& delivered =
            registry.add_counter("ringmta_delivered_total", "Delivered.", {"domain"});
        delivered.counter_for({"gmail.com"}).inc(10);
        if (shard == 1) delivered.counter_for({"yahoo.com"}).inc(5);
        static const std::vector<double> bounds{1};
        registry.add_histogram("ringmta_x_seconds", "X.", bounds).histogram_for().observe(shard);
        if (shard == 2) registry.add_gauge("ringmta_limit", "Set by one shard.").gauge_for().set(40);
        shards.push_back(registry.snapshot());
    }
    metrics_snapshot total = merge(shards);
    REQUIRE(total.families.size() == 3);
    REQUIRE(total.families[0].series.size() == 2);
    CHECK(total.families[0].series[0].value == 30);
    CHECK(total.families[0].series[1].label_values[0] == "yahoo.com");
    CHECK(total.families[0].series[1].value == 5);
    CHECK(total.families[1].series[0].count == 3);
    CHECK(total.families[1].series[0].sum == 3);
    CHECK(total.families[1].series[0].bucket_counts == std::vector<std::uint64_t>{2, 1});
    CHECK(total.families[2].series[0].value == 40);
}

TEST_CASE("a family keeps at most series_max series; the rest share \"_other\"") {
    metrics_registry registry;
    registry.set_series_max(3);
    metric_family& family = registry.add_counter("ringmta_c_total", "C.", {"domain"});
    family.counter_for({"a"}).inc();
    family.counter_for({"b"}).inc();
    family.counter_for({"c"}).inc();
    family.counter_for({"d"}).inc(2);
    family.counter_for({"a"}).inc();
    CHECK(family.series_count() == 3);   // a, b and the overflow series
    std::string text = format_prometheus(registry.snapshot());
    CHECK(text.find("ringmta_c_total{domain=\"a\"} 2\n") != std::string::npos);
    CHECK(text.find("ringmta_c_total{domain=\"_other\"} 3\n") != std::string::npos);
    CHECK(text.find("domain=\"c\"") == std::string::npos);
}

TEST_CASE("mta_metrics declares every family once; a second shard's merges cleanly") {
    metrics_registry first, second;
    mta_metrics a(first), b(second);
    a.delivered.counter_for({"gmail.com"}).inc(3);
    b.delivered.counter_for({"gmail.com"}).inc(4);
    b.throttle_changes.counter_for({"gmail.com", "decrease"}).inc();
    a.delivery_seconds.histogram_for().observe(2);
    std::vector<metrics_snapshot> shards{first.snapshot(), second.snapshot()};
    std::string text = format_prometheus(merge(shards));
    CHECK(text.find("ringmta_delivered_total{domain=\"gmail.com\"} 7\n") != std::string::npos);
    CHECK(text.find("ringmta_throttle_changes_total{domain=\"gmail.com\",kind=\"decrease\"} 1\n") !=
          std::string::npos);
    CHECK(text.find("ringmta_delivery_seconds_bucket{le=\"5\"} 1\n") != std::string::npos);
    CHECK(text.find("# TYPE ringmta_suspended gauge\n") != std::string::npos);
}
