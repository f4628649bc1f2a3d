// Per-shard metric registries, snapshots and their merge. See
// include/ringmta/observe/metrics.h. Registration and snapshots allocate; the
// increment path (counter::inc, gauge::set, histogram::observe) does not.
#include <ringmta/observe/metrics.h>

#include <algorithm>
#include <map>

#include "ringmta/runtime/assert.h"

namespace ringmta::observe {

namespace {

bool is_name_char(char c, bool first, bool colon_allowed) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
    if (c == ':') return colon_allowed;
    return !first && c >= '0' && c <= '9';
}

bool valid_name(std::string_view name, bool metric) {
    if (name.empty()) return false;
    if (!metric && name.starts_with("__")) return false;   // reserved by Prometheus
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (!is_name_char(name[i], i == 0, metric)) return false;
    }
    return true;
}

const char* other_label_value = "_other";

}  // namespace

void histogram::observe(double value) {
    // Few buckets (about ten): a linear scan beats a binary search here.
    std::size_t bucket = 0;
    while (bucket < _bounds.size() && value > _bounds[bucket]) ++bucket;
    ++_counts[bucket];
    _sum += value;
    ++_count;
}

metric_family::metric_family(std::string name, std::string help, metric_type type,
                             std::vector<std::string> label_names, std::vector<double> bounds,
                             std::size_t series_max)
    : _name(std::move(name)),
      _help(std::move(help)),
      _type(type),
      _label_names(std::move(label_names)),
      _bounds(std::move(bounds)),
      _series_max(std::max<std::size_t>(1, series_max)) {
    RINGMTA_ASSERT(valid_name(_name, true), "bad metric name \"%s\"", _name.c_str());
    for (const std::string& label : _label_names) {
        RINGMTA_ASSERT(valid_name(label, false) && label != "le" && label != "quantile",
                       "bad label name \"%s\" in %s", label.c_str(), _name.c_str());
    }
    RINGMTA_ASSERT(std::is_sorted(_bounds.begin(), _bounds.end()),
                   "histogram %s: bounds not ascending", _name.c_str());
}

// The index key of a label set: each value with its length before it, so no two
// sets share a key whatever bytes the values hold.
std::string metric_family::index_key(std::span<const std::string_view> values) {
    std::string key;
    for (std::string_view v : values) {
        key += std::to_string(v.size());
        key += ':';
        key += v;
    }
    return key;
}

metric_family::series& metric_family::find(std::initializer_list<std::string_view> values) {
    RINGMTA_ASSERT(values.size() == _label_names.size(), "%s: %zu label values for %zu labels",
                   _name.c_str(), values.size(), _label_names.size());
    std::string key = index_key(std::span(values.begin(), values.size()));
    if (auto it = _index.find(key); it != _index.end()) return *it->second;
    series fresh;
    if (_series.size() + 1 >= _series_max && !_label_names.empty()) {
        // The last series is the shared overflow one: every label "_other" (one
        // made before, by that name, is the same series).
        if (_overflow != nullptr) return *_overflow;
        std::vector<std::string_view> others(_label_names.size(), other_label_value);
        if (auto it = _index.find(index_key(others)); it != _index.end()) {
            _overflow = it->second;
            return *_overflow;
        }
        fresh.label_values.assign(_label_names.size(), other_label_value);
    } else {
        fresh.label_values.assign(values.begin(), values.end());
    }
    if (_type == metric_type::histogram) fresh.h = std::make_unique<histogram>(_bounds);
    _series.push_back(std::move(fresh));
    series& made = _series.back();
    if (made.label_values.size() == values.size() &&
        std::equal(made.label_values.begin(), made.label_values.end(), values.begin())) {
        _index.emplace(std::move(key), &made);
    } else {
        _overflow = &made;
    }
    return made;
}

counter& metric_family::counter_for(std::initializer_list<std::string_view> label_values) {
    RINGMTA_ASSERT(_type == metric_type::counter, "%s is not a counter", _name.c_str());
    return find(label_values).c;
}

gauge& metric_family::gauge_for(std::initializer_list<std::string_view> label_values) {
    RINGMTA_ASSERT(_type == metric_type::gauge, "%s is not a gauge", _name.c_str());
    return find(label_values).g;
}

histogram& metric_family::histogram_for(std::initializer_list<std::string_view> label_values) {
    RINGMTA_ASSERT(_type == metric_type::histogram, "%s is not a histogram", _name.c_str());
    return *find(label_values).h;
}

family_snapshot metric_family::snapshot() const {
    family_snapshot out{_name, _help, _type, _label_names, _bounds, {}};
    out.series.reserve(_series.size());
    for (const series& s : _series) {
        series_snapshot copy;
        copy.label_values = s.label_values;
        if (_type == metric_type::counter) copy.value = static_cast<double>(s.c.value());
        if (_type == metric_type::gauge) copy.value = s.g.value();
        if (s.h) {
            copy.bucket_counts.assign(s.h->counts().begin(), s.h->counts().end());
            copy.sum = s.h->sum();
            copy.count = s.h->count();
        }
        out.series.push_back(std::move(copy));
    }
    return out;
}

metric_family& metrics_registry::add(std::string name, std::string help, metric_type type,
                                     std::vector<std::string> label_names,
                                     std::vector<double> bounds) {
    if (metric_family* existing = find(name)) {
        RINGMTA_ASSERT(existing->type() == type, "%s declared twice with two types",
                       name.c_str());
        return *existing;
    }
    _families.emplace_back(std::move(name), std::move(help), type, std::move(label_names),
                           std::move(bounds), _series_max);
    return _families.back();
}

metric_family& metrics_registry::add_counter(std::string name, std::string help,
                                             std::vector<std::string> label_names) {
    return add(std::move(name), std::move(help), metric_type::counter, std::move(label_names),
               {});
}

metric_family& metrics_registry::add_gauge(std::string name, std::string help,
                                           std::vector<std::string> label_names) {
    return add(std::move(name), std::move(help), metric_type::gauge, std::move(label_names), {});
}

metric_family& metrics_registry::add_histogram(std::string name, std::string help,
                                               std::vector<double> bounds,
                                               std::vector<std::string> label_names) {
    return add(std::move(name), std::move(help), metric_type::histogram, std::move(label_names),
               std::move(bounds));
}

metric_family* metrics_registry::find(std::string_view name) {
    for (metric_family& family : _families) {
        if (family.name() == name) return &family;
    }
    return nullptr;
}

metrics_snapshot metrics_registry::snapshot() const {
    metrics_snapshot out;
    out.families.reserve(_families.size());
    for (const metric_family& family : _families) out.families.push_back(family.snapshot());
    return out;
}

namespace {

void add_into(series_snapshot& into, const series_snapshot& from) {
    into.value += from.value;
    if (into.bucket_counts.size() < from.bucket_counts.size()) {
        into.bucket_counts.resize(from.bucket_counts.size(), 0);
    }
    for (std::size_t i = 0; i < from.bucket_counts.size(); ++i) {
        into.bucket_counts[i] += from.bucket_counts[i];
    }
    into.sum += from.sum;
    into.count += from.count;
}

}  // namespace

metrics_snapshot merge(std::span<const metrics_snapshot> shards) {
    metrics_snapshot out;
    std::map<std::string, std::size_t, std::less<>> family_at;
    std::vector<std::map<std::vector<std::string>, std::size_t>> series_at;
    for (const metrics_snapshot& shard : shards) {
        for (const family_snapshot& family : shard.families) {
            auto [it, fresh] = family_at.try_emplace(family.name, out.families.size());
            if (fresh) {
                out.families.push_back(family_snapshot{family.name, family.help, family.type,
                                                       family.label_names, family.bounds, {}});
                series_at.emplace_back();
            }
            family_snapshot& into = out.families[it->second];
            RINGMTA_ASSERT(into.type == family.type && into.label_names == family.label_names &&
                               into.bounds == family.bounds,
                           "metric %s differs between shards", family.name.c_str());
            auto& index = series_at[it->second];
            for (const series_snapshot& series : family.series) {
                auto [at, added] = index.try_emplace(series.label_values, into.series.size());
                if (added) {
                    into.series.push_back(series);
                } else {
                    add_into(into.series[at->second], series);
                }
            }
        }
    }
    return out;
}

}  // namespace ringmta::observe
