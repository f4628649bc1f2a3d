// DSN (bounce) message builder: RFC 3464 delivery-status inside an RFC 6522
// multipart/report, with the original's headers (RET=HDRS) or whole message (RET=FULL).
// Pure code, run by the delivery side of the shard that owns the message; the result is
// queued like any message, with the null sender. Text from peers is untrusted: every
// value we put in a header or a delivery-status field is reduced to printable ASCII on
// one logical line (no CR/LF: no header injection), capped, and folded so that no line
// passes 998 octets (RFC 5322 2.1.1). The MIME boundary is chosen to occur nowhere in
// the parts, which may hold anything the original sender or a receiver wrote.
#include <ringmta/delivery/dsn.h>

#include <ringmta/runtime/assert.h>
#include <ringmta/runtime/time_format.h>
#include <ringmta/smtp/header.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <initializer_list>
#include <vector>

namespace ringmta::delivery {

namespace {

constexpr std::size_t line_octets_max = 998;           // RFC 5322 2.1.1, without CRLF
constexpr std::size_t fold_column_soft = 78;           // RFC 5322 2.1.1 "SHOULD"
constexpr std::size_t peer_text_octets_max = 8192;     // a diagnostic is a hint, not a log
constexpr std::size_t boundary_seed_chars_max = 40;    // boundary stays under 70 (RFC 2046)
constexpr std::size_t boundary_suffix_hex_digits = 16;
constexpr std::string_view boundary_prefix = "=_rm_";  // "=_" never occurs in QP text

// Untrusted text as printable ASCII words separated by single spaces: CR, LF, other
// controls and runs of white space become one space, 8-bit bytes become '?', the ends
// are trimmed, and text past octets_max is dropped with a "[truncated]" mark.
std::string clean_text(std::string_view s, std::size_t octets_max = peer_text_octets_max) {
    std::string clean;
    clean.reserve(std::min(s.size(), octets_max));
    bool space_pending = false;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c == 0x7F) {
            space_pending = !clean.empty();
            continue;
        }
        if (clean.size() >= octets_max) {
            clean.append(" [truncated]");
            break;
        }
        if (space_pending) clean.push_back(' ');
        space_pending = false;
        clean.push_back(c >= 0x80 ? '?' : ch);
    }
    return clean;
}

// Letters, digits, '.', '-' and '_' of `s`, at most chars_max: safe in a Message-ID
// and in a MIME boundary.
void append_token(std::string& out, std::string_view s, std::size_t chars_max) {
    std::size_t kept = 0;
    for (const char c : s) {
        if (kept == chars_max) break;
        const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
        if (!safe) continue;
        out.push_back(c);
        ++kept;
    }
}

// Appends clean `text` to a line already `column` octets long, then CRLF. A line breaks
// before a space once it would pass fold_column_soft, and inside a word only where the
// word alone would pass line_octets_max. Each break is CRLF then `indent`: " " folds a
// header field (unfolding restores the text), "    " indents a paragraph's next line.
void append_wrapped(std::string& out, std::size_t column, std::string_view text,
                    std::string_view indent) {
    bool first_word = true;
    while (!text.empty()) {
        const std::size_t space = text.find(' ');
        std::string_view word = text.substr(0, space);
        text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
        if (!first_word && column + 1 + word.size() > fold_column_soft) {
            out.append("\r\n").append(indent);
            column = indent.size();
        } else if (!first_word) {
            out.push_back(' ');
            ++column;
        }
        first_word = false;
        while (column + word.size() > line_octets_max) {
            const std::size_t take = line_octets_max - column;
            out.append(word.substr(0, take)).append("\r\n").append(indent);
            word.remove_prefix(take);
            column = indent.size();
        }
        out.append(word);
        column += word.size();
    }
    out.append("\r\n");
}

// "Name: value" with a clean value, folded as needed.
void append_field(std::string& out, std::string_view name, std::string_view clean_value) {
    out.append(name).append(": ");
    append_wrapped(out, name.size() + 2, clean_value, " ");
}

void append_date_field(std::string& out, std::string_view name, std::uint64_t unix_ms) {
    out.append(name).append(": ");
    runtime::append_rfc5322_date(out, unix_ms);
    out.append("\r\n");
}

// True for clean text that starts with an RFC 3464 type: "smtp; ...", "dns; ...".
bool has_type_prefix(std::string_view text) {
    const std::size_t semicolon = text.find(';');
    if (semicolon == 0 || semicolon == std::string_view::npos) return false;
    return std::all_of(text.begin(), text.begin() + semicolon, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-';
    });
}

// The text after a type prefix: "550 5.1.1 No such user" for "smtp; 550 5.1.1 ...".
std::string_view without_type(std::string_view text) {
    if (!has_type_prefix(text)) return text;
    text.remove_prefix(text.find(';') + 1);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    return text;
}

// "d.d{1,3}.d{1,3}" with class 2, 4 or 5 (RFC 3463 2).
bool is_status_code(std::string_view s) {
    if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') {
        return false;
    }
    std::size_t at = 2;
    for (int part = 0; part < 2; ++part) {
        std::size_t digits = 0;
        while (at < s.size() && s[at] >= '0' && s[at] <= '9' && digits < 4) {
            ++at;
            ++digits;
        }
        if (digits == 0 || digits > 3) return false;
        if (part == 0 && (at >= s.size() || s[at++] != '.')) return false;
    }
    return at == s.size();
}

// One recipient, cleaned once and used by both the text and the report.
// RFC 3461 4: "+" followed by two upper-case hex digits stands for that octet.
std::string xtext_decode(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        auto hex = [](char c) {
            return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        };
        if (in[i] == '+' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2])));
            i += 2;
        } else {
            out.push_back(in[i]);
        }
    }
    return out;
}

struct clean_recipient {
    std::string address;
    std::string original;    // "rfc822; addr" from ORCPT, or ""
    std::string action;      // "failed" when none was given
    std::string status;      // a valid RFC 3463 code
    std::string remote_mta;  // "dns; host" or ""
    std::string diagnostic;  // "smtp; 550 ..." or ""
    std::uint64_t last_attempt_unix_ms;
};

clean_recipient clean(const dsn_recipient& in) {
    clean_recipient out;
    out.address = clean_text(in.address);
    out.action = clean_text(in.action);
    if (out.action != "delayed" && out.action != "relayed") out.action = "failed";
    out.status = clean_text(in.status);
    if (!is_status_code(out.status)) {
        out.status = out.action == "delayed" ? "4.0.0" : out.action == "relayed" ? "2.0.0" : "5.0.0";
    }
    const std::string remote = clean_text(in.remote_mta);
    if (!remote.empty()) out.remote_mta = has_type_prefix(remote) ? remote : "dns; " + remote;
    const std::string diagnostic = clean_text(in.diagnostic);
    if (!diagnostic.empty()) {
        out.diagnostic = has_type_prefix(diagnostic) ? diagnostic : "X-Ringmta; " + diagnostic;
    }
    out.last_attempt_unix_ms = in.last_attempt_unix_ms;
    const std::string original = clean_text(xtext_decode(in.original_recipient));
    const std::size_t semicolon = original.find(';');
    if (semicolon != std::string::npos && semicolon > 0) {
        std::size_t value = original.find_first_not_of(' ', semicolon + 1);
        if (value != std::string::npos) {
            out.original = original.substr(0, semicolon) + "; " + original.substr(value);
        }
    }
    return out;
}

// "<bob@example.net>: host mx.example.net said: 550 5.1.1 No such user (status 5.1.1)"
void append_recipient_paragraph(std::string& out, const clean_recipient& rcpt) {
    std::string text = "<" + rcpt.address + ">:";
    if (!rcpt.remote_mta.empty()) {
        text.append(" host ").append(without_type(rcpt.remote_mta)).append(" said:");
    }
    if (!rcpt.diagnostic.empty()) text.append(" ").append(without_type(rcpt.diagnostic));
    text.append(" (status ").append(rcpt.status).append(")");
    append_wrapped(out, 0, text, "    ");
    out.append("\r\n");
}

// Part 1, for people: what happened to whom.
std::string notification_text(const dsn_request& r, const std::vector<clean_recipient>& all,
                              bool all_delayed, bool all_relayed) {
    std::string out;
    append_wrapped(out, 0, "This is the mail system at host " + clean_text(r.reporting_mta) +
                               ".", "");
    out.append("\r\n");
    append_wrapped(out, 0, all_relayed
        ? "Your message was delivered to the next mail system, as you asked to be told. "
          "That system does not report delivery, so this is the last report you get."
        : all_delayed
        ? "Your message has not yet been delivered to one or more recipients. The mail "
          "system is still trying; there is no need to send it again."
        : "Your message could not be delivered to one or more recipients.", "");
    out.append("\r\n");
    append_wrapped(out, 0, r.return_full
        ? "A delivery report is attached, followed by your message."
        : "A delivery report is attached, followed by the headers of your message.", "");
    out.append("\r\n");
    for (const std::string_view action : {"failed", "delayed", "relayed"}) {
        bool heading_done = false;
        for (const clean_recipient& rcpt : all) {
            if (rcpt.action != action) continue;
            if (!heading_done) {
                append_wrapped(out, 0, action == "delayed"
                    ? "Delivery to these recipients is delayed:"
                    : action == "relayed"
                    ? "Your message was relayed for these recipients:"
                    : "Delivery to these recipients failed permanently:", "");
                out.append("\r\n");
                heading_done = true;
            }
            append_recipient_paragraph(out, rcpt);
        }
    }
    return out;
}

// Part 2, for programs: RFC 3464 per-message fields, then one block per recipient.
std::string delivery_status(const dsn_request& r, const std::vector<clean_recipient>& all) {
    std::string out;
    if (!r.envid.empty()) append_field(out, "Original-Envelope-Id", clean_text(xtext_decode(r.envid)));
    append_field(out, "Reporting-MTA", "dns; " + clean_text(r.reporting_mta));
    append_field(out, "X-Ringmta-Queue-ID", clean_text(r.queue_id));
    append_date_field(out, "Arrival-Date", r.arrival_unix_ms);
    for (const clean_recipient& rcpt : all) {
        out.append("\r\n");
        if (!rcpt.original.empty()) append_field(out, "Original-Recipient", rcpt.original);
        append_field(out, "Final-Recipient", "rfc822; " + rcpt.address);
        append_field(out, "Action", rcpt.action);
        append_field(out, "Status", rcpt.status);
        if (!rcpt.remote_mta.empty()) append_field(out, "Remote-MTA", rcpt.remote_mta);
        if (!rcpt.diagnostic.empty()) append_field(out, "Diagnostic-Code", rcpt.diagnostic);
        append_date_field(out, "Last-Attempt-Date", rcpt.last_attempt_unix_ms);
    }
    return out;
}

// Copies original text with CRLF line ends. A line over line_octets_max is broken:
// in the header section with CRLF SP (a fold), in the body with a plain CRLF.
void append_original(std::string& out, std::string_view text, bool is_header_section) {
    const std::string_view line_break = is_header_section ? "\r\n " : "\r\n";
    while (!text.empty()) {
        const std::size_t newline = text.find('\n');
        std::string_view line = text.substr(0, newline);
        text = newline == std::string_view::npos ? std::string_view()
                                                 : text.substr(newline + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        std::size_t room = line_octets_max;
        while (line.size() > room) {
            out.append(line.substr(0, room)).append(line_break);
            line.remove_prefix(room);
            room = line_octets_max - (line_break.size() - 2);
        }
        out.append(line).append("\r\n");
    }
}

// FNV-1a: spreads the seed over the boundary's 16 hex digits.
std::uint64_t hash_seed(std::string_view seed) {
    std::uint64_t hash = 14695981039346656037ull;
    for (const char c : seed) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ull;
    }
    return hash;
}

bool parse_hex(std::string_view digits, std::uint64_t& value) {
    if (digits.size() != boundary_suffix_hex_digits) return false;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
    if (ec != std::errc() || end != digits.data() + digits.size()) return false;
    return std::none_of(digits.begin(), digits.end(), [](char c) { return c >= 'A' && c <= 'F'; });
}

// "=_rm_<seed>_<16 hex digits>". The first choice is the seed's hash; when the parts
// hold "=_rm_<seed>_" followed by that value, the value steps to the next one not taken.
// The parts hold finitely many values, so this ends after at most one step per
// occurrence, and the boundary then occurs nowhere in the parts (CR, LF and SP added
// later by line breaking cannot create an occurrence: the boundary has none of them).
std::string choose_boundary(std::string_view seed, std::initializer_list<std::string_view> parts) {
    std::string boundary(boundary_prefix);
    append_token(boundary, seed, boundary_seed_chars_max);
    boundary.push_back('_');
    std::vector<std::uint64_t> taken;
    for (const std::string_view part : parts) {
        for (std::size_t at = part.find(boundary); at != std::string_view::npos;
             at = part.find(boundary, at + 1)) {
            std::uint64_t value = 0;
            const std::size_t digits_at = at + boundary.size();
            if (parse_hex(part.substr(digits_at, boundary_suffix_hex_digits), value)) {
                taken.push_back(value);
            }
        }
    }
    std::sort(taken.begin(), taken.end());
    std::uint64_t value = hash_seed(seed);
    while (std::binary_search(taken.begin(), taken.end(), value)) ++value;
    char digits[boundary_suffix_hex_digits];
    for (std::size_t i = boundary_suffix_hex_digits; i > 0; --i) {
        digits[i - 1] = "0123456789abcdef"[value & 0xF];
        value >>= 4;
    }
    boundary.append(digits, sizeof digits);
    return boundary;
}

bool has_8bit(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return (c & 0x80) != 0; });
}

void append_top_headers(std::string& out, const dsn_request& r, bool all_delayed,
                        bool all_relayed, std::string_view boundary, bool eight_bit) {
    append_field(out, "From", "Mail Delivery System <" + clean_text(r.postmaster) + ">");
    append_field(out, "To", "<" + clean_text(r.original_sender) + ">");
    append_field(out, "Subject", all_relayed   ? "Successful Mail Delivery Report"
                                 : all_delayed ? "Delayed Mail (still being retried)"
                                               : "Undelivered Mail Returned to Sender");
    append_date_field(out, "Date", r.now_unix_ms);
    std::string message_id = "<";
    append_token(message_id, r.queue_id, peer_text_octets_max);
    message_id.push_back('.');
    runtime::append_uint(message_id, r.now_unix_ms);
    message_id.push_back('@');
    append_token(message_id, r.reporting_mta, peer_text_octets_max);
    message_id.push_back('>');
    append_field(out, "Message-ID", message_id);
    append_field(out, "Auto-Submitted", "auto-replied");  // RFC 3834: no auto-replies to it
    append_field(out, "MIME-Version", "1.0");
    out.append("Content-Type: multipart/report; report-type=delivery-status;\r\n");
    out.append("\tboundary=\"").append(boundary).append("\"\r\n");
    // A multipart's encoding covers its parts' (RFC 2045 6.4): 8bit if the original is.
    if (eight_bit) out.append("Content-Transfer-Encoding: 8bit\r\n");
}

void append_part_start(std::string& out, std::string_view boundary,
                       std::string_view description, std::string_view content_type) {
    out.append("\r\n--").append(boundary).append("\r\n");
    out.append("Content-Description: ").append(description).append("\r\n");
    out.append("Content-Type: ").append(content_type).append("\r\n");
}

}  // namespace

std::string build_dsn(const dsn_request& r) {
    RINGMTA_ASSERT(!r.original_sender.empty(), "dsn: no DSN may go to the null sender");
    RINGMTA_ASSERT(!r.recipients.empty(), "dsn: queue %.*s: no recipient to report",
                   static_cast<int>(r.queue_id.size()), r.queue_id.data());
    std::vector<clean_recipient> recipients;
    recipients.reserve(r.recipients.size());
    bool all_delayed = true;
    bool all_relayed = true;
    for (const dsn_recipient& rcpt : r.recipients) {
        recipients.push_back(clean(rcpt));
        all_delayed = all_delayed && recipients.back().action == "delayed";
        all_relayed = all_relayed && recipients.back().action == "relayed";
    }
    const std::string text = notification_text(r, recipients, all_delayed, all_relayed);
    const std::string report = delivery_status(r, recipients);
    const std::string_view headers = smtp::header_section(r.original_content);
    const std::string_view returned = r.return_full ? r.original_content : headers;
    // The whole original is scanned even for RET=HDRS: simpler to reason about, and cheap.
    const std::string boundary =
        choose_boundary(r.boundary_seed, {text, report, r.original_content});
    const bool eight_bit = has_8bit(returned);

    std::string out;
    out.reserve(2048 + text.size() + report.size() + returned.size() + returned.size() / 64);
    append_top_headers(out, r, all_delayed, all_relayed, boundary, eight_bit);
    out.append("\r\nThis is a MIME-encapsulated message.\r\n");
    append_part_start(out, boundary, "Notification", "text/plain; charset=us-ascii");
    out.append("\r\n").append(text);
    append_part_start(out, boundary, "Delivery report", "message/delivery-status");
    out.append("\r\n").append(report);
    append_part_start(out, boundary,
                      r.return_full ? "Undelivered Message" : "Undelivered Message Headers",
                      r.return_full ? "message/rfc822" : "text/rfc822-headers");
    if (eight_bit) out.append("Content-Transfer-Encoding: 8bit\r\n");
    out.append("\r\n");
    append_original(out, headers, true);
    if (r.return_full) append_original(out, returned.substr(headers.size()), false);
    out.append("\r\n--").append(boundary).append("--\r\n");
    return out;
}

}  // namespace ringmta::delivery
