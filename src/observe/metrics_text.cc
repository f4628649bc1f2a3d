// The Prometheus text exposition format, version 0.0.4: what GET /metrics
// returns. One # HELP and one # TYPE line per family, then its samples; a
// histogram's buckets are cumulative and end with le="+Inf", followed by _sum
// and _count. Label values and HELP text are escaped as the format says, and
// ill-formed UTF-8 (a domain name is whatever a client sent) becomes U+FFFD.
#include <ringmta/observe/metrics.h>

#include <charconv>
#include <cmath>
#include <cstdio>

#include "utf8.h"

namespace ringmta::observe {

namespace {

constexpr std::string_view replacement_character = "\xEF\xBF\xBD";   // U+FFFD

// Appends text, escaping backslash and newline, and the double quote when asked.
void append_escaped(std::string& out, std::string_view text, bool quote) {
    for (std::size_t at = 0; at < text.size();) {
        const char c = text[at];
        if (static_cast<unsigned char>(c) >= 0x80) {
            detail::utf8_scan scan = detail::scan_utf8(text, at);
            if (scan.valid) {
                out.append(text.substr(at, scan.length));
            } else {
                out.append(replacement_character);
            }
            at += scan.length;
            continue;
        }
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '"' && quote) {
            out += "\\\"";
        } else {
            out += c;
        }
        ++at;
    }
}

const char* type_name(metric_type type) {
    switch (type) {
        case metric_type::counter: return "counter";
        case metric_type::gauge: return "gauge";
        case metric_type::histogram: return "histogram";
    }
    return "untyped";
}

// {a="x",b="y"} (nothing without labels); `extra` is one more label, le="...".
void append_labels(std::string& out, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
    if (names.empty() && extra_name.empty()) return;
    out += '{';
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += ',';
        out += names[i];
        out += "=\"";
        append_label_value(out, values[i]);
        out += '"';
    }
    if (!extra_name.empty()) {
        if (!names.empty()) out += ',';
        out += extra_name;
        out += "=\"";
        out += extra_value;
        out += '"';
    }
    out += '}';
}

void append_histogram(std::string& out, const family_snapshot& family,
                      const series_snapshot& series) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= family.bounds.size(); ++i) {
        cumulative += i < series.bucket_counts.size() ? series.bucket_counts[i] : 0;
        std::string bound;
        if (i < family.bounds.size()) {
            append_sample_value(bound, family.bounds[i]);
        } else {
            bound = "+Inf";
        }
        out += family.name;
        out += "_bucket";
        append_labels(out, family.label_names, series.label_values, "le", bound);
        out += ' ';
        append_sample_value(out, static_cast<double>(cumulative));
        out += '\n';
    }
    out += family.name + "_sum";
    append_labels(out, family.label_names, series.label_values);
    out += ' ';
    append_sample_value(out, series.sum);
    out += '\n';
    out += family.name + "_count";
    append_labels(out, family.label_names, series.label_values);
    out += ' ';
    append_sample_value(out, static_cast<double>(series.count));
    out += '\n';
}

}  // namespace

void append_label_value(std::string& out, std::string_view value) {
    append_escaped(out, value, true);
}

void append_help_text(std::string& out, std::string_view text) {
    append_escaped(out, text, false);
}

void append_sample_value(std::string& out, double value) {
    if (std::isnan(value)) {
        out += "NaN";
        return;
    }
    if (std::isinf(value)) {
        out += value > 0 ? "+Inf" : "-Inf";
        return;
    }
    char digits[32];
    // Counters are integers; below 2^53 a double holds them exactly.
    if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
        auto [end, ec] = std::to_chars(digits, digits + sizeof digits,
                                       static_cast<std::int64_t>(value));
        (void)ec;
        out.append(digits, end);
        return;
    }
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    (void)ec;  // 32 characters hold the shortest round-trip form of any double
    out.append(digits, end);
}

std::string format_prometheus(const metrics_snapshot& snapshot) {
    std::string out;
    for (const family_snapshot& family : snapshot.families) {
        out += "# HELP " + family.name + ' ';
        append_help_text(out, family.help);
        out += "\n# TYPE " + family.name + ' ' + type_name(family.type) + '\n';
        for (const series_snapshot& series : family.series) {
            if (family.type == metric_type::histogram) {
                append_histogram(out, family, series);
                continue;
            }
            out += family.name;
            append_labels(out, family.label_names, series.label_values);
            out += ' ';
            append_sample_value(out, series.value);
            out += '\n';
        }
    }
    return out;
}

}  // namespace ringmta::observe
