// Durations and sizes as operators write them in ringmta.toml.
//
// Durations: one or more <integer><unit> parts, units ms, s, m, h, d:
//   "250ms", "30s", "5m", "2h", "5d", "1h30m". Negative values and fractions are
//   not accepted; lower-case units only ("5M" is rejected, not read as months).
// Sizes: an integer count of bytes, optionally followed by a unit, case-insensitive:
//   B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB. KB, MB, GB and TB are 1024-based,
//   exactly like KiB, MiB, GiB and TiB, because that is what MTA operators expect
//   from "message_size_limit"-style settings: "50MB" is 50 * 2^20 bytes.
// The parse_* functions throw config_error with a message that quotes the text
// and carries no location; the loader adds FILE:LINE:COLUMN: KEY in front.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringmta::config {

using duration_ms = std::chrono::milliseconds;

duration_ms parse_duration(std::string_view text);
std::uint64_t parse_size(std::string_view text);

// Inverses used by describe(): the shortest text that parses back to the value,
// "1h30m", "250ms", "0s"; "50MB", "1536KB", "100B".
std::string format_duration(duration_ms duration);
std::string format_size(std::uint64_t size_bytes);

}  // namespace ringmta::config
