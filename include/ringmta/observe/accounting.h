// The accounting log line: one JSON object per delivery outcome (delivered, deferred,
// failed, expired), one line each, for operators and billing to grep, tail and load.
// Pure formatting into a caller-owned buffer; no I/O, no allocation beyond the buffer's
// growth, no locks (the clock conversion avoids gmtime_r, which takes glibc's tz lock).
// Each shard formats its own lines; the caller writes them out through its ring.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ringmta/runtime/time_format.h"

namespace ringmta::observe {

enum class outcome { delivered, deferred, failed, expired };

// One recipient's outcome. Views must stay valid for the duration of the call only.
struct accounting_event {
    std::uint64_t time_unix_ms;      // when the outcome happened
    std::string_view queue_id;       // 16 hex digits
    std::string_view sender, recipient, domain;
    std::string_view next_hop;       // exchanger host name / route text, "" if none
    std::string_view next_hop_ip;    // "127.0.0.2:2626", "" if no connection was made
    unsigned attempt;                // 1-based
    outcome status;
    int smtp_code;                   // 0 if none (e.g. connection refused)
    std::string_view enhanced_code;  // "5.1.1" or ""
    std::string_view reply;          // receiver's reply text, or our own diagnostic
    std::string_view tls_version, tls_cipher;  // "" when not TLS
    std::uint64_t size_bytes;
    std::uint64_t queued_ms;         // time in queue since arrival
};

// Appends one JSON object and '\n' to `out`, keys in this order:
// {"time":"2026-11-23T06:32:00.123Z","queue_id":"...","sender":"...","recipient":"...",
//  "domain":"...","next_hop":"...","ip":"...","attempt":1,"status":"delivered",
//  "code":250,"enhanced":"2.0.0","reply":"...","tls_version":"","tls_cipher":"",
//  "size":123,"queued_ms":45}
// The line is valid JSON and valid UTF-8 whatever bytes the event's strings hold.
void append_accounting_line(std::string& out, const accounting_event& e);

// Appends `s` as a JSON string literal, quotes included (RFC 8259). '"' and '\\' are
// backslash-escaped, control characters (U+0000..U+001F and DEL) become \u00XX, and
// every byte sequence that is not well-formed UTF-8 (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF) becomes \ufffd, one per maximal ill-formed
// subpart (Unicode 15, section 3.9). Well-formed UTF-8 is copied unchanged.
void append_json_string(std::string& out, std::string_view s);

// Appends "YYYY-MM-DDTHH:MM:SS.mmmZ" (RFC 3339, UTC, milliseconds).
inline void append_utc_timestamp(std::string& out, std::uint64_t time_unix_ms) {
    runtime::append_iso8601_utc(out, time_unix_ms);
}

// "delivered", "deferred", "failed", "expired".
const char* outcome_name(outcome o);

}  // namespace ringmta::observe
