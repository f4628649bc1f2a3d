// SMTP commands as a server reads them (RFC 5321 4.1): verb recognition, MAIL/RCPT
// path and ESMTP parameter parsing (RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 3030
// BINARYMIME, RFC 6531 SMTPUTF8, RFC 3461 DSN, RFC 4954 AUTH=), mailbox syntax. Pure code, no I/O;
// every result views the caller's line or static text, nothing is allocated except
// the mailbox and parameter strings the caller passes in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringmta::smtp {

enum class verb {
    helo, ehlo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, expn, help,
    starttls, auth, unknown
};

struct command {
    smtp::verb verb;
    std::string_view argument;  // rest of line after the verb and one space,
                                // trailing spaces and tabs removed
};

// `line` WITHOUT the line end. Verbs are case-insensitive; "MAIL FROM:<a>" gives
// {mail, "FROM:<a>"}. A verb followed by anything but a space is unknown.
command parse_command(std::string_view line);

struct mail_params {
    std::uint64_t size = 0;  // saturates at UINT64_MAX
    bool size_given = false;
    enum class body_type { seven_bit, eight_bit_mime, binary_mime } body = body_type::seven_bit;
    bool smtputf8 = false;
    std::string ret;    // "FULL" or "HDRS" (upper case) when given
    std::string envid;  // xtext as sent
    std::string auth;   // RFC 4954 section 5 AUTH=: "<>" or an xtext mailbox, as sent
};

struct rcpt_params {
    std::string notify;  // "NEVER" or a subset of "SUCCESS,FAILURE,DELAY" (upper case)
    std::string orcpt;   // "addr-type;xtext" as sent
};

// A reply to send; views static text.
struct path_error {
    int code;
    std::string_view enhanced;
    std::string_view text;
};

// Parses the argument of MAIL ("FROM:<a@b> SIZE=123 BODY=8BITMIME"). Spaces after the
// colon are tolerated (as Postfix does); the angle brackets are required (RFC 5321).
// The null path <> is allowed; a source route (<@a,@b:user@c>) is accepted and dropped.
// On success `mailbox` holds the path without <> (quoted local parts stay quoted).
// Errors: 501 5.5.4 (no "FROM:", bad parameter value, duplicate parameter),
// 501 5.1.7 (bad sender syntax), 555 5.5.4 (unknown parameter).
// Non-ASCII mailboxes parse; the caller checks params.smtputf8.
std::optional<path_error> parse_mail(std::string_view argument, std::string& mailbox,
                                     mail_params& params);

// Same for RCPT ("TO:<a@b> NOTIFY=NEVER"): 501 5.1.3 for bad recipient syntax; <> is
// refused; "<postmaster>" (any case) is allowed and gives mailbox "postmaster".
std::optional<path_error> parse_rcpt(std::string_view argument, std::string& mailbox,
                                     rcpt_params& params);

// RFC 5321 4.1.2 Mailbox: a dot-string or quoted-string local part (<= 64 octets) and
// a domain (labels <= 63, <= 255 in all) or address literal; the path with <> at most
// 256 octets. Well-formed UTF-8 (octets >= 0x80) is allowed in the local part and in
// domain labels (SMTPUTF8; the caller decides whether to allow it).
bool valid_mailbox(std::string_view mailbox);

// The part after the last '@'; empty when there is none.
std::string_view domain_of(std::string_view mailbox);

}  // namespace ringmta::smtp
