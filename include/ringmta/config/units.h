// Durations and sizes as operators write them in ringmta.toml.
//
// Durations: one or more <integer><unit> parts, units ms, s, m, h, d:
//   "250ms", "30s", "5m", "2h", "5d", "1h30m". Negative values and fractions are
//   not accepted; lower-case units only ("5M" is rejected, not read as months).
// Sizes: an integer count of bytes, optionally followed by a unit, case-insensitive:
//   B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB. KB, MB, GB and TB are 1024-based,
//   exactly like KiB, MiB, GiB and TiB, because that is what MTA operators expect
//   from "message_size_limit"-style settings: "50MB" is 50 * 2^20 bytes.
// Rates: "<count>/<period>", the period a duration where a bare unit means one of
//   it: "100/s", "6000/m", "5000/h", "20/10m", "1000/d". "0" is no limit.
// The parse_* functions throw config_error with a message that quotes the text
// and carries no location; the loader adds FILE:LINE:COLUMN: KEY in front.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringmta::config {

using duration_ms = std::chrono::milliseconds;

// At most `count` events per `period`; count 0 = unlimited (period then 0).
struct rate {
    std::uint64_t count = 0;
    duration_ms period{0};
    bool unlimited() const { return count == 0; }
    bool operator==(const rate&) const = default;
};

duration_ms parse_duration(std::string_view text);
std::uint64_t parse_size(std::string_view text);
rate parse_rate(std::string_view text);

// Inverses used by describe(): the shortest text that parses back to the value,
// "1h30m", "250ms", "0s"; "50MB", "1536KB", "100B"; "100/s", "20/10m", "0".
std::string format_duration(duration_ms duration);
std::string format_size(std::uint64_t size_bytes);
// "100/s", "20/10m", "0".
std::string format_rate(rate r);

}  // namespace ringmta::config
