// The server side of an SMTP session (RFC 5321, with RFC 1869 ESMTP, 1870 SIZE,
// 2034 ENHANCEDSTATUSCODES, 2920 PIPELINING, 6152 8BITMIME, 4954 AUTH), sans I/O: bytes in,
// replies and events out. The ingress session coroutine and ringmta-sink drive it
// from their shard; it never reads a socket, a file or a clock. Memory is bounded:
// a command line by command_line_max (the caller holds at most that much), content
// by message_bytes_max, the envelope by recipients_max.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringmta/smtp/command.h"
#include "ringmta/smtp/dot.h"
#include "ringmta/smtp/reply.h"

namespace ringmta::smtp {

struct server_settings {
    std::string hostname = "localhost";
    // RFC 5321 4.5.3.1.4, incl. CRLF; longer: "500 5.5.2 Line too long", line discarded.
    std::size_t command_line_max = 512;
    // DATA lines incl. CRLF; longer lines are kept exact and only flagged
    // (server_protocol::pending_line_too_long()); the DATA reply stays 250.
    std::size_t text_line_max = 1000;
    // Advertised with SIZE; MAIL SIZE= over it: 552 5.3.4; content over it is read to
    // the end of data (not stored), then 552 5.3.4.
    std::uint64_t message_bytes_max = 50u << 20;
    std::size_t recipients_max = 1000;  // more: 452 4.5.3 Too many recipients
    // Bad commands (500/501/502/503/555 replies) before "421 4.7.0 Too many errors".
    std::size_t errors_max = 20;
    // DATA with a bare LF/CR: after the end of data "550 5.6.11", message dropped.
    bool reject_bare_lf = true;
    // Extensions the caller can honour; advertised and accepted only when true.
    bool offer_smtputf8 = false;  // RFC 6531: SMTPUTF8 parameter, UTF-8 mailboxes
    bool offer_dsn = false;       // RFC 3461: RET, ENVID, NOTIFY, ORCPT
    bool offer_chunking = false;  // RFC 3030: CHUNKING (BDAT)
    bool offer_starttls = false;  // RFC 3207: the caller has a TLS context for this listener
    // RFC 3030 BINARYMIME (needs offer_chunking): only where the next hops' path can
    // carry binary content unaltered (BDAT on the delivery side).
    bool offer_binarymime = false;
    // RFC 4954 AUTH PLAIN LOGIN: the caller checks the credentials (event::auth).
    bool offer_auth = false;
    // AUTH only under TLS (RFC 4954 section 4: no plaintext passwords in the clear);
    // without TLS it is not advertised and answers 538 5.7.11.
    bool auth_requires_tls = true;
    // AUTH command lines and SASL response lines, incl. CRLF (RFC 4954 section 4
    // raises the 512-octet command limit to 12288 for them); longer: 500 5.5.6.
    std::size_t auth_line_max = 12288;
};

// What a client sent to authenticate (RFC 4616 PLAIN or the LOGIN mechanism);
// the caller verifies it and answers with auth_done().
struct auth_credentials {
    std::string mechanism;  // "PLAIN" or "LOGIN"
    std::string authzid;    // PLAIN's authorization identity; "" = the same as user
    std::string user;       // authentication identity, 1 to 255 octets, no NUL
    std::string password;   // 1 to 255 octets, no NUL; wiped by auth_done()
};

enum class auth_result {
    success,      // 235 2.7.0
    failure,      // 535 5.7.8 (counts towards errors_max)
    unavailable,  // 454 4.7.0: temporary, e.g. too many verifications in flight
};

struct envelope {
    std::string helo;  // EHLO/HELO argument
    bool esmtp = false;
    std::string auth_user;  // after a successful AUTH: who (kept until STARTTLS)
    std::string mail_from;  // "" for the null sender
    mail_params mail;
    std::vector<std::string> rcpt_to;
    std::vector<rcpt_params> rcpt;
};

class server_hooks {
public:
    virtual ~server_hooks() = default;
    // Return std::nullopt to accept (250 2.1.0 / 250 2.1.5), or a reply to refuse with.
    // During check_mail, env.mail holds this command's parameters.
    virtual std::optional<reply_spec> check_mail(const envelope& env,
                                                 std::string_view mailbox) = 0;
    virtual std::optional<reply_spec> check_rcpt(const envelope& env,
                                                 std::string_view mailbox) = 0;
    // Appends the trace header(s) (e.g. "Received: ...\r\n") to `content`, which is
    // empty: they head the content when DATA (or the first BDAT) starts. Appending
    // into the session's buffer, which keeps its capacity from message to message,
    // costs no allocation per message.
    virtual void append_trace_headers(const envelope& env, std::string& content) = 0;
};

class server_protocol {
public:
    server_protocol(const server_settings& settings, server_hooks& hooks);

    void greet(std::string& out);  // "220 <hostname> ESMTP ringmta\r\n"

    // starttls: "220 Ready to start TLS" is in `out`. The caller sends it, DISCARDS
    // every byte received after the STARTTLS line (plaintext pipelined past it must
    // never be read as commands under TLS: RFC 3207 section 4.2), runs the TLS
    // handshake, and calls tls_started(), or closes the connection if it failed.
    // auth: an AUTH exchange is complete; pending_auth() holds what the client sent.
    // The caller verifies it (off the reactor thread: it is slow on purpose) and
    // calls auth_done() before feeding more; bytes after it are left unconsumed.
    enum class event { need_more, message, close, starttls, auth };
    struct feed_result {
        std::size_t consumed;
        server_protocol::event event;
    };

    // Consumes bytes from `in` and appends every reply to `out`. Returns need_more when
    // all complete input is consumed except a trailing partial line (consumed <
    // in.size(): the caller keeps the rest and calls again with more appended). A
    // partial line already over command_line_max is answered with 500 5.5.2 and
    // consumed, and the rest of it discarded up to its LF. Returns `message` right
    // after a message's terminating CRLF.CRLF was consumed and the content is
    // acceptable: NO reply is written for it yet; the caller makes it durable, then
    // calls message_done(); bytes after the terminator are left unconsumed (pipelined
    // next commands) until then. Returns `close` after QUIT (221 written) or after
    // 421 (too many errors); later calls consume nothing and return close.
    feed_result feed(std::string_view in, std::string& out);

    const envelope& pending_envelope() const;  // valid after event::message
    std::string& pending_content();  // trace headers + unstuffed content; may be moved out
    bool pending_line_too_long() const;  // a content line exceeded text_line_max
    // Writes the DATA reply, resets the transaction (keeps HELO).
    void message_done(const reply_spec& r, std::string& out);

    void idle_timeout(std::string& out);   // "421 4.4.2 <host> Idle timeout, closing ..."
    void shutting_down(std::string& out);  // "421 4.3.2 <host> Service shutting down"
    bool in_data() const;
    // After a successful handshake: the session starts over (RFC 3207 section 4.2:
    // forget everything learnt before TLS, expect a new EHLO).
    void tls_started();
    bool tls_active() const { return _tls_active; }
    bool closed() const;

    const auth_credentials& pending_auth() const;  // valid after event::auth
    // Writes 235, 535 or 454 and wipes the password. After success the envelope's
    // auth_user is set and AUTH is refused (503) for the rest of the session.
    void auth_done(auth_result result, std::string& out);
    bool authenticated() const { return !_env.auth_user.empty(); }

private:
    enum class phase : std::uint8_t {
        command, data, chunk, message_pending, tls_pending, auth_response, auth_pending,
        closed
    };

    bool feed_command(std::string_view in, std::size_t& i, std::string& out);
    bool feed_data(std::string_view in, std::size_t& i, std::string& out);
    bool feed_chunk(std::string_view in, std::size_t& i, std::string& out);
    void handle_bdat(const command& cmd, std::string& out);
    void handle_line(std::string_view line, std::string& out);
    void handle_verb(const command& cmd, std::string& out);
    void handle_helo(const command& cmd, std::string& out);
    void handle_mail(const command& cmd, std::string& out);
    void handle_rcpt(const command& cmd, std::string& out);
    void handle_data(const command& cmd, std::string& out);
    void handle_auth(const command& cmd, std::string& out);
    void handle_auth_response(std::string_view line, std::string& out);
    void take_auth_response(std::string_view decoded, std::string& out);
    void end_auth_exchange();
    std::size_t line_max(std::string_view start) const;
    std::optional<path_error> check_mail_extensions(const mail_params& params,
                                                    std::string_view mailbox) const;
    std::optional<path_error> check_rcpt_extensions(const rcpt_params& params,
                                                    std::string_view mailbox) const;
    void reply_refusal(std::string& out, const path_error& error);
    void reply(std::string& out, int code, std::string_view enhanced, std::string_view text);
    void reply_error(std::string& out, int code, std::string_view enhanced,
                     std::string_view text);
    void count_error(std::string& out);  // 421 and close at errors_max
    void reply_host(std::string& out, int code, std::string_view enhanced,
                    std::string_view text);
    void reset_transaction();

    server_settings _settings;
    server_hooks& _hooks;
    std::string _ehlo_reply;       // built once; with STARTTLS when offered
    std::string _ehlo_reply_tls;   // after STARTTLS: the same without it
    bool _tls_active = false;
    phase _phase = phase::command;
    bool _helo_seen = false;
    bool _mail_given = false;
    bool _rcpt_attempted = false;
    bool _discarding_line = false;  // an overlong command line is being skipped
    // BDAT (RFC 3030): the chunk being read, and the transaction's state.
    std::uint64_t _chunk_remaining = 0;
    std::uint64_t _chunk_bytes_total = 0;  // message bytes received over BDAT so far
    bool _chunk_last = false;
    bool _chunk_discard = false;   // a refused BDAT: its bytes are read and dropped
    bool _chunk_too_big = false;
    bool _bdat_used = false;       // this transaction uses BDAT: DATA is refused
    std::size_t _errors = 0;
    // AUTH: the exchange in progress (LOGIN asks for the user, then the password).
    auth_credentials _auth;
    bool _auth_login_wants_password = false;
    envelope _env;
    std::string _content;
    dot_unstuffer _unstuffer;
};

}  // namespace ringmta::smtp
