// Accounting log line formatting: one JSON object per recipient outcome (see
// include/ringmta/observe/accounting.h for the format). Runs on whichever shard saw the
// outcome; pure code into the caller's buffer: no iostreams, no locale, no locks, no
// allocation beyond the buffer's growth. Whatever bytes a peer put into its reply, the
// line stays valid JSON and valid UTF-8, so one hostile receiver cannot break the log.
#include <ringmta/observe/accounting.h>

#include "utf8.h"

#include <charconv>
#include <cstddef>

namespace ringmta::observe {

namespace {

void append_int(std::string& out, int value) {
    char digits[16];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    (void)ec;  // 16 chars hold any int
    out.append(digits, end);
}

using detail::scan_utf8;
using detail::utf8_scan;

void append_escaped_ascii(std::string& out, unsigned char c) {
    if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
        return;
    }
    static constexpr char hex_digits[] = "0123456789abcdef";
    const char escape[6] = {'\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 0xF]};
    out.append(escape, sizeof escape);
}

}  // namespace

const char* outcome_name(outcome o) {
    switch (o) {
    case outcome::delivered: return "delivered";
    case outcome::deferred: return "deferred";
    case outcome::failed: return "failed";
    case outcome::expired: return "expired";
    }
    return "unknown";  // not a declared enumerator: keep the line valid anyway
}

void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    std::size_t run_start = 0;  // bytes [run_start, at) are copied as they are
    std::size_t at = 0;
    while (at < s.size()) {
        const auto c = static_cast<unsigned char>(s[at]);
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
            ++at;
            continue;
        }
        std::size_t length = 1;
        if (c >= 0x80) {
            const utf8_scan scan = scan_utf8(s, at);
            if (scan.valid) {
                at += scan.length;
                continue;
            }
            length = scan.length;
        }
        out.append(s.data() + run_start, at - run_start);
        if (c >= 0x80) {
            out.append("\\ufffd");
        } else {
            append_escaped_ascii(out, c);
        }
        at += length;
        run_start = at;
    }
    out.append(s.data() + run_start, s.size() - run_start);
    out.push_back('"');
}

void append_accounting_line(std::string& out, const accounting_event& e) {
    out.append("{\"time\":\"");
    append_utc_timestamp(out, e.time_unix_ms);
    out.append("\",\"queue_id\":");
    append_json_string(out, e.queue_id);
    out.append(",\"sender\":");
    append_json_string(out, e.sender);
    out.append(",\"recipient\":");
    append_json_string(out, e.recipient);
    out.append(",\"domain\":");
    append_json_string(out, e.domain);
    out.append(",\"next_hop\":");
    append_json_string(out, e.next_hop);
    out.append(",\"ip\":");
    append_json_string(out, e.next_hop_ip);
    out.append(",\"attempt\":");
    runtime::append_uint(out, e.attempt);
    out.append(",\"status\":\"");
    out.append(outcome_name(e.status));
    out.append("\",\"code\":");
    append_int(out, e.smtp_code);
    out.append(",\"enhanced\":");
    append_json_string(out, e.enhanced_code);
    out.append(",\"reply\":");
    append_json_string(out, e.reply);
    out.append(",\"tls_version\":");
    append_json_string(out, e.tls_version);
    out.append(",\"tls_cipher\":");
    append_json_string(out, e.tls_cipher);
    out.append(",\"size\":");
    runtime::append_uint(out, e.size_bytes);
    out.append(",\"queued_ms\":");
    runtime::append_uint(out, e.queued_ms);
    out.append("}\n");
}

}  // namespace ringmta::observe
