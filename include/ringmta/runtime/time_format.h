// UTC time stamps for protocols and logs, computed from the Unix time with a
// civil-from-days calendar (H. Hinnant's algorithm) instead of gmtime_r, which
// takes glibc's time-zone lock: shards format dates on hot paths (Received
// headers, accounting lines) and must not contend on it. Also the plain decimal
// number those formats are made of.
#pragma once

#include <cstdint>
#include <string>

namespace ringmta::runtime {

// Appends `value` in decimal, without a temporary string.
void append_uint(std::string& out, std::uint64_t value);

// "2026-11-23T06:32:00.123Z" (RFC 3339, milliseconds).
void append_iso8601_utc(std::string& out, std::uint64_t unix_ms);
// "Mon, 23 Nov 2026 06:32:00 +0000" (RFC 5322 section 3.3), always UTC.
void append_rfc5322_date(std::string& out, std::uint64_t unix_ms);

}  // namespace ringmta::runtime
