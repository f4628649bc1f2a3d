// Delivery status notifications (bounces): builds the message that tells an envelope
// sender that some recipients failed or are delayed. RFC 3464 (delivery-status fields),
// RFC 6522 (multipart/report), RFC 3463 (status codes), RFC 3834 (Auto-Submitted).
// Pure code, no I/O: the delivery side of the shard that owns the message calls it and
// queues the result with the null sender <> (so a DSN can never bounce a DSN).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringmta::delivery {

// One recipient to report. Text taken from a peer (remote_mta, diagnostic) may hold any
// bytes: the builder strips CR, LF and other controls and replaces 8-bit bytes with '?'.
struct dsn_recipient {
    std::string_view address;     // the original recipient, reported as "rfc822; addr"
    std::string_view action;      // "failed", "delayed" (expired: "failed", 4.4.7) or
                                  // "relayed" (NOTIFY=SUCCESS, next hop without DSN)
    std::string_view status;      // enhanced code "5.1.1"; when empty or malformed,
                                  // 5.0.0 for failed and 4.0.0 for delayed
    std::string_view remote_mta;  // "dns; mx.example.net" or a bare host name (reported
                                  // as "dns; host"), "" when no connection was made
    std::string_view diagnostic;  // "smtp; 550 5.1.1 No such user"; text without a
                                  // "type;" prefix is reported as "X-Ringmta; text"
    std::uint64_t last_attempt_unix_ms;
    std::string_view original_recipient = {};  // RFC 3461 ORCPT as received (xtext), or ""
};

struct dsn_request {
    std::string_view reporting_mta;     // our host name
    std::string_view postmaster;        // "MAILER-DAEMON@<hostname>", the From address
    std::string_view original_sender;   // envelope sender of the bounced message; never
                                        // empty (no DSN for <>: asserted)
    std::string_view queue_id;
    std::uint64_t arrival_unix_ms;
    std::uint64_t now_unix_ms;
    std::string_view original_content;  // the whole original message, CRLF line ends
    bool return_full = false;           // RET=FULL: whole message; else headers only
    std::span<const dsn_recipient> recipients;  // at least one (asserted)
    std::string_view boundary_seed;     // makes the MIME boundary unique (queue id, time)
    std::string_view envid = {};        // RFC 3461 ENVID as received (xtext), or ""
};

// The complete DSN message (headers and body, CRLF line ends, no line over 998 octets),
// to be queued with the null sender to original_sender. Subject "Undelivered Mail
// Returned to Sender", "Delayed Mail (still being retried)" when every recipient is
// delayed, or "Successful Mail Delivery Report" when every recipient was relayed.
// ENVID and ORCPT come back decoded from xtext as Original-Envelope-Id and
// Original-Recipient (RFC 3464 2.2.1, 2.3.1). Parts: a text/plain explanation, message/delivery-status, then
// text/rfc822-headers (the original's header section) or, with return_full,
// message/rfc822 (the whole original). Long field values are folded; original lines
// over 998 octets are broken (header lines with CRLF SP, body lines with CRLF). The
// MIME boundary never occurs anywhere inside the parts.
std::string build_dsn(const dsn_request& r);

}  // namespace ringmta::delivery
