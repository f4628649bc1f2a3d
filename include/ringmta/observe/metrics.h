// Metrics: per-shard registries of counters, gauges and histograms with labels,
// snapshots summed across shards, and the Prometheus text exposition format
// (version 0.0.4) for GET /metrics.
//
// Each shard owns one registry and touches it only from its own thread: no
// locks, no atomics. Families and series are created at start-up or when a
// destination first appears (that allocates); after that a counter bump is an
// add on a shard-local integer through a reference the caller keeps
// (`counter& delivered = family.counter_for({"gmail.com"})`). References stay
// valid for the registry's life. A family holds at most series_max series;
// label sets past that share one series whose label values are all "_other",
// so hostile or numerous domains cannot grow memory without bound.
//
// To expose: each shard takes a snapshot() on its own thread (the admin server
// asks each shard through the mesh), merge() sums them by family and labels,
// format_prometheus() writes the text. Gauges are summed too: a gauge only one
// shard sets (a budget's owner) reads as that shard's value.
#pragma once

#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringmta::observe {

enum class metric_type : std::uint8_t { counter, gauge, histogram };

class counter {
public:
    void inc(std::uint64_t n = 1) { _value += n; }
    std::uint64_t value() const { return _value; }

private:
    std::uint64_t _value = 0;
};

class gauge {
public:
    void set(double value) { _value = value; }
    void add(double delta) { _value += delta; }
    double value() const { return _value; }

private:
    double _value = 0;
};

// Counts per bucket (not cumulative; the exposition makes them so), sum and count.
class histogram {
public:
    explicit histogram(std::span<const double> bounds)
        : _bounds(bounds), _counts(bounds.size() + 1, 0) {}
    void observe(double value);
    std::span<const std::uint64_t> counts() const { return _counts; }   // last: +Inf
    double sum() const { return _sum; }
    std::uint64_t count() const { return _count; }

private:
    std::span<const double> _bounds;   // the family's, ascending
    std::vector<std::uint64_t> _counts;
    double _sum = 0;
    std::uint64_t _count = 0;
};

// One series in a snapshot: its label values (in the family's label order) and
// its value; for a histogram, cumulative-free bucket counts, sum and count.
struct series_snapshot {
    std::vector<std::string> label_values;
    double value = 0;
    std::vector<std::uint64_t> bucket_counts;
    double sum = 0;
    std::uint64_t count = 0;
};

struct family_snapshot {
    std::string name, help;
    metric_type type = metric_type::counter;
    std::vector<std::string> label_names;
    std::vector<double> bounds;          // histograms
    std::vector<series_snapshot> series;
};

struct metrics_snapshot {
    std::vector<family_snapshot> families;
};

class metric_family {
public:
    static constexpr std::size_t series_max_default = 10'000;

    metric_family(std::string name, std::string help, metric_type type,
                  std::vector<std::string> label_names, std::vector<double> bounds,
                  std::size_t series_max);

    // The series with these label values (as many as the family has label
    // names), created on first use. Allocates only then.
    counter& counter_for(std::initializer_list<std::string_view> label_values = {});
    gauge& gauge_for(std::initializer_list<std::string_view> label_values = {});
    histogram& histogram_for(std::initializer_list<std::string_view> label_values = {});
    // Drops every series (a destination's gauges after it went away).
    void clear() {
        _series.clear();
        _index.clear();
        _overflow = nullptr;
    }

    const std::string& name() const { return _name; }
    metric_type type() const { return _type; }
    std::size_t series_count() const { return _series.size(); }
    family_snapshot snapshot() const;

private:
    struct series {
        std::vector<std::string> label_values;
        counter c;
        gauge g;
        std::unique_ptr<histogram> h;
    };
    series& find(std::initializer_list<std::string_view> label_values);
    static std::string index_key(std::span<const std::string_view> label_values);

    std::string _name, _help;
    metric_type _type;
    std::vector<std::string> _label_names;
    std::vector<double> _bounds;
    std::size_t _series_max;
    std::deque<series> _series;          // a deque: references stay valid
    std::unordered_map<std::string, series*> _index;   // by index_key of the labels
    series* _overflow = nullptr;         // the "_other" series, once made
};

class metrics_registry {
public:
    // Declares a family; declaring the same name again returns the same family
    // (and asserts that type and labels agree). Names follow Prometheus:
    // [a-zA-Z_:][a-zA-Z0-9_:]*, labels [a-zA-Z_][a-zA-Z0-9_]*, not "__...".
    metric_family& add_counter(std::string name, std::string help,
                               std::vector<std::string> label_names = {});
    metric_family& add_gauge(std::string name, std::string help,
                             std::vector<std::string> label_names = {});
    metric_family& add_histogram(std::string name, std::string help, std::vector<double> bounds,
                                 std::vector<std::string> label_names = {});
    metric_family* find(std::string_view name);
    void set_series_max(std::size_t series_max) { _series_max = series_max; }

    metrics_snapshot snapshot() const;

private:
    metric_family& add(std::string name, std::string help, metric_type type,
                       std::vector<std::string> label_names, std::vector<double> bounds);

    std::deque<metric_family> _families;
    std::size_t _series_max = metric_family::series_max_default;
};

// The shards' snapshots summed: families by name (in first-seen order), series
// by label values. Families of one name must agree in type and labels.
metrics_snapshot merge(std::span<const metrics_snapshot> shards);

// Prometheus text format 0.0.4: # HELP and # TYPE lines, then the samples;
// histograms as _bucket{le=...} (cumulative, ending with +Inf), _sum, _count.
std::string format_prometheus(const metrics_snapshot& snapshot);
// The Content-Type of that text.
inline constexpr std::string_view prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

// A label value as the format needs it: \ as \\, " as \", newline as \n, and any
// byte sequence that is not well-formed UTF-8 as U+FFFD.
void append_label_value(std::string& out, std::string_view value);
// HELP text: \ as \\, newline as \n (and ill-formed UTF-8 as U+FFFD).
void append_help_text(std::string& out, std::string_view text);
// A sample value: integers exactly, others shortest round-trip; NaN, +Inf, -Inf.
void append_sample_value(std::string& out, double value);

}  // namespace ringmta::observe
