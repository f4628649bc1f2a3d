// The server-side SMTP state machine, sans I/O: see ringmta/smtp/server_protocol.h.
// Reply codes and texts follow RFC 5321 and, where it leaves a choice, Postfix smtpd.
// "Bad commands" (500, 501, 502, 503, 504, 555 replies) count towards errors_max;
// policy refusals (hooks), 452 too many recipients and 552/553 do not, as a bulk
// sender hitting a limit is not misbehaving.
#include "ringmta/smtp/server_protocol.h"

#include <algorithm>
#include <cstring>

#include "ringmta/runtime/assert.h"
#include "text.h"

namespace ringmta::smtp {

namespace {

// Presizing the content buffer from MAIL SIZE= goes no further than this.
constexpr std::uint64_t content_reserve_bytes_max = 1u << 20;
// Between transactions the content buffer keeps at most this much capacity.
constexpr std::size_t content_keep_bytes_max = 64u << 10;
// Room presized for the trace headers in front of the declared SIZE: a Received
// field with TLS details and a long HELO name fits.
constexpr std::size_t trace_headers_reserve_bytes = 512;

bool is_bad_command(int code) { return (code >= 500 && code <= 504) || code == 555; }

bool has_non_ascii(std::string_view s) {
    for (char c : s) {
        if (static_cast<unsigned char>(c) >= 0x80) return true;
    }
    return false;
}

bool has_control(std::string_view s) {
    for (char c : s) {
        const auto octet = static_cast<unsigned char>(c);
        if (octet < 0x20 || octet == 0x7f) return true;
    }
    return false;
}

constexpr path_error size_exceeded{552, "5.3.4", "Message size exceeds fixed limit"};
constexpr path_error unsupported{555, "5.5.4", "Unsupported parameter"};
constexpr path_error utf8_undeclared{553, "5.6.7",
                                     "Must declare SMTPUTF8 to send UTF-8 addresses"};

}  // namespace

server_protocol::server_protocol(const server_settings& settings, server_hooks& hooks)
    : _settings(settings),
      _hooks(hooks),
      _unstuffer(std::size_t(settings.message_bytes_max), settings.text_line_max) {
    RINGMTA_ASSERT(!_settings.hostname.empty() &&
                       _settings.hostname.find_first_of("\r\n") == std::string::npos,
                   "bad hostname '%s'", _settings.hostname.c_str());
    RINGMTA_ASSERT(_settings.command_line_max >= 16, "command_line_max %zu too small",
                   _settings.command_line_max);
    RINGMTA_ASSERT(_settings.errors_max >= 1, "errors_max must be at least 1");
    std::string text = _settings.hostname;
    text += "\nPIPELINING\nSIZE ";
    text += std::to_string(_settings.message_bytes_max);
    text += "\n8BITMIME\nENHANCEDSTATUSCODES";
    if (_settings.offer_chunking) text += "\nCHUNKING";
    if (_settings.offer_chunking && _settings.offer_binarymime) text += "\nBINARYMIME";
    if (_settings.offer_dsn) text += "\nDSN";
    if (_settings.offer_smtputf8) text += "\nSMTPUTF8";
    const std::string auth_line = "\nAUTH PLAIN LOGIN";
    format_reply(_ehlo_reply_tls, {250, "", _settings.offer_auth ? text + auth_line : text});
    if (_settings.offer_auth && !_settings.auth_requires_tls) text += auth_line;
    if (_settings.offer_starttls) text += "\nSTARTTLS";
    format_reply(_ehlo_reply, {250, "", text});
}

void server_protocol::greet(std::string& out) {
    RINGMTA_ASSERT(_phase == phase::command, "greet in phase %d", int(_phase));
    std::string text = _settings.hostname;
    text += " ESMTP ringmta";
    format_reply(out, {220, "", text});
}

void server_protocol::reply(std::string& out, int code, std::string_view enhanced,
                            std::string_view text) {
    format_reply(out, {code, enhanced, text});
}

void server_protocol::reply_error(std::string& out, int code, std::string_view enhanced,
                                  std::string_view text) {
    reply(out, code, enhanced, text);
    if (is_bad_command(code)) count_error(out);
}

void server_protocol::count_error(std::string& out) {
    if (++_errors < _settings.errors_max) return;
    reply_host(out, 421, "4.7.0", "Error: too many errors");
    _phase = phase::closed;
}

void server_protocol::reply_host(std::string& out, int code, std::string_view enhanced,
                                 std::string_view text) {
    std::string full = _settings.hostname;
    full += ' ';
    full += text;
    reply(out, code, enhanced, full);
}

void server_protocol::reset_transaction() {
    _env.mail_from.clear();
    _env.mail = mail_params{};
    _env.rcpt_to.clear();
    _env.rcpt.clear();
    _mail_given = false;
    _rcpt_attempted = false;
    // Small buffers are reused from message to message; a large one (a refused or
    // unusually big message) is released, so an idle session holds little.
    if (_content.capacity() > content_keep_bytes_max) {
        std::string().swap(_content);
    } else {
        _content.clear();
    }
    _bdat_used = false;
    _chunk_too_big = false;
    _chunk_bytes_total = 0;
}

server_protocol::feed_result server_protocol::feed(std::string_view in, std::string& out) {
    std::size_t i = 0;
    while (true) {
        switch (_phase) {
        case phase::closed:
            return {i, event::close};
        case phase::message_pending:
            // The caller must acknowledge the message before reading further commands.
            RINGMTA_ASSERT(false, "server_protocol::feed before message_done()");
            return {i, event::message};
        case phase::tls_pending:
            return {i, event::starttls};
        case phase::auth_pending:
            return {i, event::auth};
        case phase::data:
            if (!feed_data(in, i, out)) return {i, event::need_more};
            if (_phase == phase::message_pending) return {i, event::message};
            break;
        case phase::chunk:
            if (!feed_chunk(in, i, out)) return {i, event::need_more};
            if (_phase == phase::message_pending) return {i, event::message};
            break;
        case phase::command:
        case phase::auth_response:
            if (!feed_command(in, i, out)) return {i, event::need_more};
            break;
        }
    }
}

// Returns false when all of `in` was consumed without reaching the end of data.
bool server_protocol::feed_data(std::string_view in, std::size_t& i, std::string& out) {
    const dot_unstuffer::result r = _unstuffer.feed(in.substr(i), _content);
    i += r.consumed;
    if (!r.done) return false;
    if (_unstuffer.bare_lf() && _settings.reject_bare_lf) {
        reply(out, 550, "5.6.11", "Bare LF/CR not allowed");
        reset_transaction();
        _phase = phase::command;
    } else if (_unstuffer.too_big()) {
        reply(out, 552, "5.3.4", "Message size exceeds fixed maximum message size");
        reset_transaction();
        _phase = phase::command;
    } else {
        _phase = phase::message_pending;
    }
    return true;
}

// Handles one complete command (or SASL response) line from in[i...]. Returns false
// when only a partial line is left (and not yet over its limit): the caller must wait
// for more.
bool server_protocol::feed_command(std::string_view in, std::size_t& i, std::string& out) {
    if (i >= in.size()) return false;
    const char* p = in.data() + i;
    const std::size_t available = in.size() - i;
    const void* lf = std::memchr(p, '\n', available);
    if (_discarding_line) {
        if (lf == nullptr) {
            i = in.size();
            return false;
        }
        i += std::size_t(static_cast<const char*>(lf) - p) + 1;
        _discarding_line = false;
        return true;
    }
    const std::size_t limit = line_max(std::string_view(p, available));
    const std::size_t length =
        lf == nullptr ? available : std::size_t(static_cast<const char*>(lf) - p) + 1;
    // Without a LF yet: even if one came next, the line would exceed the limit, so
    // answer now and skip the rest of it; neither side buffers more than the limit.
    if (lf == nullptr && available < limit) return false;
    if (lf == nullptr || length > limit) {
        i += length;
        _discarding_line = lf == nullptr;
        if (_phase == phase::auth_response) {
            end_auth_exchange();
            reply_error(out, 500, "5.5.6", "Authentication Exchange line is too long");
        } else {
            reply_error(out, 500, "5.5.2", "Error: line too long");
        }
        return true;
    }
    i += length;
    std::string_view line(p, length - 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    handle_line(line, out);
    return true;
}

void server_protocol::handle_line(std::string_view line, std::string& out) {
    if (_phase == phase::auth_response) return handle_auth_response(line, out);
    if (line.find('\0') != std::string_view::npos) {
        reply_error(out, 500, "5.5.2", "Error: bad syntax");
        return;
    }
    const command cmd = parse_command(line);
    if (cmd.verb != verb::unknown) {
        handle_verb(cmd, out);
        return;
    }
    const std::string_view name = line.substr(0, line.find(' '));
    if (name.empty() || has_non_ascii(name) || has_control(name)) {
        reply_error(out, 500, "5.5.2", "Error: bad syntax");
    } else if (detail::iequals(name, "CONNECT") || detail::iequals(name, "GET") ||
               detail::iequals(name, "POST")) {
        // An HTTP client or proxy abuse, not SMTP: hang up at once (Postfix's
        // smtpd_forbidden_commands).
        reply(out, 221, "2.7.0", "Error: I can break rules, too. Goodbye.");
        _phase = phase::closed;
    } else {
        reply_error(out, 500, "5.5.1", "Error: command not recognized");
    }
}

void server_protocol::handle_verb(const command& cmd, std::string& out) {
    switch (cmd.verb) {
    case verb::helo:
    case verb::ehlo:
        handle_helo(cmd, out);
        return;
    case verb::mail:
        handle_mail(cmd, out);
        return;
    case verb::rcpt:
        handle_rcpt(cmd, out);
        return;
    case verb::data:
        handle_data(cmd, out);
        return;
    case verb::rset:
        if (!cmd.argument.empty()) return reply_error(out, 501, "5.5.4", "Syntax: RSET");
        reset_transaction();
        return reply(out, 250, "2.0.0", "Ok");
    case verb::noop:
        return reply(out, 250, "2.0.0", "Ok");
    case verb::quit:
        reply(out, 221, "2.0.0", "Bye");
        _phase = phase::closed;
        return;
    case verb::vrfy:
        if (cmd.argument.empty()) return reply_error(out, 501, "5.5.4", "Syntax: VRFY address");
        return reply(out, 252, "2.5.0",
                     "Cannot VRFY user, but will accept message and attempt delivery");
    case verb::help:
        return reply(out, 214, "2.0.0",
                     "Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
    case verb::bdat:
        if (_settings.offer_chunking) return handle_bdat(cmd, out);
        return reply_error(out, 502, "5.5.1", "Error: command not implemented");
    case verb::starttls:
        if (!_settings.offer_starttls) {
            return reply_error(out, 502, "5.5.1", "Error: command not implemented");
        }
        if (_tls_active) return reply_error(out, 503, "5.5.1", "Error: TLS already active");
        if (!cmd.argument.empty()) return reply_error(out, 501, "5.5.4", "Syntax: STARTTLS");
        reply(out, 220, "2.0.0", "Ready to start TLS");
        _phase = phase::tls_pending;
        return;
    case verb::auth:
        if (_settings.offer_auth) return handle_auth(cmd, out);
        return reply_error(out, 502, "5.5.1", "Error: command not implemented");
    case verb::expn:
        return reply_error(out, 502, "5.5.1", "Error: command not implemented");
    case verb::unknown:
        break;
    }
    RINGMTA_ASSERT(false, "unhandled verb %d", int(cmd.verb));
}

void server_protocol::reply_refusal(std::string& out, const path_error& error) {
    reply_error(out, error.code, error.enhanced, error.text);
}

void server_protocol::handle_helo(const command& cmd, std::string& out) {
    const std::string_view name = detail::trim_spaces(cmd.argument);
    const bool ehlo = cmd.verb == verb::ehlo;
    // Control characters would end up in the Received: header.
    if (name.empty() || has_control(name)) {
        return reply_error(out, 501, "5.5.4",
                           ehlo ? "Syntax: EHLO hostname" : "Syntax: HELO hostname");
    }
    reset_transaction();  // RFC 5321 4.1.4: EHLO/HELO mid-transaction is an implied RSET
    _env.helo.assign(name);
    _env.esmtp = ehlo;
    _helo_seen = true;
    if (ehlo) {
        out += _tls_active ? _ehlo_reply_tls : _ehlo_reply;
    } else {
        reply(out, 250, "", _settings.hostname);
    }
}

std::optional<path_error> server_protocol::check_mail_extensions(
    const mail_params& params, std::string_view mailbox) const {
    if (params.size_given && params.size > _settings.message_bytes_max) return size_exceeded;
    if (params.body == mail_params::body_type::binary_mime &&
        !(_settings.offer_chunking && _settings.offer_binarymime)) {
        return unsupported;
    }
    if (params.smtputf8 && !_settings.offer_smtputf8) return unsupported;
    if ((!params.ret.empty() || !params.envid.empty()) && !_settings.offer_dsn) {
        return unsupported;
    }
    if (!params.auth.empty() && !_settings.offer_auth) return unsupported;
    if (!params.smtputf8 && has_non_ascii(mailbox)) return utf8_undeclared;
    return std::nullopt;
}

std::optional<path_error> server_protocol::check_rcpt_extensions(
    const rcpt_params& params, std::string_view mailbox) const {
    if ((!params.notify.empty() || !params.orcpt.empty()) && !_settings.offer_dsn) {
        return unsupported;
    }
    if (!_env.mail.smtputf8 && has_non_ascii(mailbox)) return utf8_undeclared;
    return std::nullopt;
}

void server_protocol::handle_mail(const command& cmd, std::string& out) {
    if (!_helo_seen) return reply_error(out, 503, "5.5.1", "Error: send HELO/EHLO first");
    if (_mail_given) return reply_error(out, 503, "5.5.1", "Error: nested MAIL command");
    std::string mailbox;
    mail_params params;
    if (auto error = parse_mail(cmd.argument, mailbox, params)) {
        return reply_refusal(out, *error);
    }
    if (auto error = check_mail_extensions(params, mailbox)) return reply_refusal(out, *error);
    _env.mail = std::move(params);
    if (auto refusal = _hooks.check_mail(_env, mailbox)) {
        _env.mail = mail_params{};
        return format_reply(out, *refusal);
    }
    _env.mail_from = std::move(mailbox);
    _mail_given = true;
    reply(out, 250, "2.1.0", "Ok");
}

void server_protocol::handle_rcpt(const command& cmd, std::string& out) {
    if (!_mail_given) return reply_error(out, 503, "5.5.1", "Error: need MAIL command");
    _rcpt_attempted = true;
    std::string mailbox;
    rcpt_params params;
    if (auto error = parse_rcpt(cmd.argument, mailbox, params)) {
        return reply_refusal(out, *error);
    }
    if (auto error = check_rcpt_extensions(params, mailbox)) return reply_refusal(out, *error);
    if (_env.rcpt_to.size() >= _settings.recipients_max) {
        return reply(out, 452, "4.5.3", "Error: too many recipients");
    }
    if (auto refusal = _hooks.check_rcpt(_env, mailbox)) return format_reply(out, *refusal);
    _env.rcpt_to.push_back(std::move(mailbox));
    _env.rcpt.push_back(std::move(params));
    reply(out, 250, "2.1.5", "Ok");
}

void server_protocol::handle_data(const command& cmd, std::string& out) {
    if (!cmd.argument.empty()) return reply_error(out, 501, "5.5.4", "Syntax: DATA");
    if (!_mail_given) return reply_error(out, 503, "5.5.1", "Error: need MAIL command");
    if (_env.rcpt_to.empty()) {
        if (_rcpt_attempted) return reply(out, 554, "5.5.1", "Error: no valid recipients");
        return reply_error(out, 503, "5.5.1", "Error: need RCPT command");
    }
    // RFC 3030: no DATA in a transaction that used BDAT, and BINARYMIME needs BDAT.
    if (_bdat_used) return reply_error(out, 503, "5.5.1", "Error: DATA after BDAT");
    if (_env.mail.body == mail_params::body_type::binary_mime) {
        return reply_error(out, 503, "5.5.1", "Error: BINARYMIME requires BDAT");
    }
    // The content buffer keeps its capacity from message to message unless the
    // caller moved it out. A declared SIZE presizes it (with room for the trace
    // headers), within a cap so that a client cannot make the server commit memory
    // it never sends.
    _content.clear();
    if (_env.mail.size_given) {
        const std::uint64_t expected_bytes =
            std::min<std::uint64_t>(_env.mail.size, content_reserve_bytes_max);
        _content.reserve(trace_headers_reserve_bytes + std::size_t(expected_bytes));
    }
    _hooks.append_trace_headers(_env, _content);
    _unstuffer.reset();
    _phase = phase::data;
    reply(out, 354, "", "End data with <CR><LF>.<CR><LF>");
}

const envelope& server_protocol::pending_envelope() const {
    RINGMTA_ASSERT(_phase == phase::message_pending, "no pending message");
    return _env;
}

std::string& server_protocol::pending_content() {
    RINGMTA_ASSERT(_phase == phase::message_pending, "no pending message");
    return _content;
}

bool server_protocol::pending_line_too_long() const {
    RINGMTA_ASSERT(_phase == phase::message_pending, "no pending message");
    return _unstuffer.line_too_long();
}

void server_protocol::message_done(const reply_spec& r, std::string& out) {
    RINGMTA_ASSERT(_phase == phase::message_pending, "message_done without a message");
    format_reply(out, r);
    reset_transaction();
    _phase = phase::command;
}

void server_protocol::tls_started() {
    RINGMTA_ASSERT(_phase == phase::tls_pending, "tls_started without STARTTLS");
    reset_transaction();
    _env = envelope{};  // an AUTH before STARTTLS is forgotten too (RFC 3207 4.2)
    _helo_seen = false;
    _tls_active = true;
    _phase = phase::command;
}

void server_protocol::idle_timeout(std::string& out) {
    reply_host(out, 421, "4.4.2", "Idle timeout, closing connection");
    _phase = phase::closed;
}

void server_protocol::shutting_down(std::string& out) {
    reply_host(out, 421, "4.3.2", "Service shutting down");
    _phase = phase::closed;
}

bool server_protocol::in_data() const {
    return _phase == phase::data || _phase == phase::chunk;
}

bool server_protocol::closed() const { return _phase == phase::closed; }

}  // namespace ringmta::smtp
