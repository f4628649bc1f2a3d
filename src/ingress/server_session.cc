// Server sessions (see server_session.h).
#include "ringmta/ingress/server_session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ringmta/runtime/log.h"
#include "ringmta/runtime/net.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/time_format.h"
#include "ringmta/smtp/command.h"
#include "ringmta/smtp/dsn_params.h"
#include "ringmta/smtp/header.h"
#include "session_transport.h"

namespace ringmta::ingress {

namespace {

bool lower_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

// The most a session's input and output strings keep allocated between reads.
constexpr std::size_t idle_buffer_bytes_max = 4096;

// Provided receive buffers per shard: enough for the receives that complete in one
// reactor turn; a session holds one only while it copies the data out.
constexpr unsigned receive_buffers_count = 256;
constexpr unsigned receive_buffers_group = 1;

constexpr smtp::reply_spec storage_full{452, "4.3.1",
                                        "Insufficient system storage, try again later"};

bool in_relay_networks(const config::config& cfg, const sockaddr* address) {
    for (const config::cidr& network : cfg.ingress.relay_networks) {
        if (network.contains(address)) return true;
    }
    return false;
}

// Per-connection policy: relay permission and the trace header.
class session_hooks final : public smtp::server_hooks {
public:
    session_hooks(ingress_context* ctx, const runtime::socket_address& peer)
        : _ctx(ctx),
          _client(runtime::format_address(peer.get(), false)),
          _relay_allowed(in_relay_networks(*ctx->cfg, peer.get())) {}

    std::optional<smtp::reply_spec> check_mail(const smtp::envelope& env,
                                               std::string_view) override {
        // Refuse early when the spool has no room for a message of the declared size
        // (or a typical one); the end of DATA checks again with the real size.
        std::size_t expected = env.mail.size_given ? env.mail.size : 64 * 1024;
        if (!_ctx->log->make_room(expected)) return storage_full;
        return std::nullopt;
    }

    std::optional<smtp::reply_spec> check_rcpt(const smtp::envelope& env,
                                               std::string_view mailbox) override {
        if (!_relay_allowed && env.auth_user.empty()) {
            ++_ctx->stats.relay_denied;
            return smtp::reply_spec{554, "5.7.1", "Relay access denied"};
        }
        std::string_view domain = smtp::domain_of(mailbox);
        if (lower_equal(mailbox, "postmaster") || domain.empty()) {
            return smtp::reply_spec{550, "5.1.1", "No local mailboxes here; this host only relays"};
        }
        return std::nullopt;
    }

    // After STARTTLS: recorded in the Received header ("with ESMTPS ... using ...").
    void set_tls(std::string_view version, std::string_view cipher) {
        _tls = "(using " + std::string(version) + " with cipher " + std::string(cipher) + ")";
    }

    void append_trace_headers(const smtp::envelope& env, std::string& h) override {
        std::uint64_t now = runtime::unix_ms();
        _queue_id_value = _ctx->ids->next(now);
        _arrival_unix_ms = now;
        h += "Received: from ";
        h += env.helo.empty() ? std::string_view("unknown") : std::string_view(env.helo);
        h += " ([";
        h += _client;
        h += "])\r\n\tby ";
        h += _ctx->settings.hostname;
        h += " (ringmta) with ";
        h += env.esmtp ? "ESMTP" : "SMTP";
        if (!_tls.empty()) h += 'S';              // RFC 3848: ESMTPS, ESMTPSA
        if (!env.auth_user.empty()) h += 'A';     // RFC 3848: ESMTPA
        if (!_tls.empty()) {
            h += ' ';
            h += _tls;
        }
        if (!env.auth_user.empty()) {
            // A users-file name (no spaces or controls); in an RFC 5322 comment,
            // '(', ')' and '\\' are quoted.
            h += " (authenticated as ";
            for (char c : env.auth_user) {
                if (c == '(' || c == ')' || c == '\\') h += '\\';
                h += c;
            }
            h += ')';
        }
        h += " id ";
        journal::append_queue_id(h, _queue_id_value);
        if (env.rcpt_to.size() == 1) {
            h += "\r\n\tfor <";
            h += env.rcpt_to.front();
            h += '>';
        }
        h += "; ";
        runtime::append_rfc5322_date(h, now);
        h += "\r\n";
    }

    std::uint64_t queue_id() const { return _queue_id_value; }
    std::uint64_t arrival_unix_ms() const { return _arrival_unix_ms; }
    const std::string& client() const { return _client; }

private:
    ingress_context* _ctx;
    std::string _client;
    bool _relay_allowed;
    std::string _tls;
    std::uint64_t _queue_id_value = 0;
    std::uint64_t _arrival_unix_ms = 0;
};

// ingress.priority_header: a first such field saying "high" (any case) asks for
// delivery before the destination's normal mail; another value, or none, is normal.
bool asks_high_priority(const config::config& cfg, std::string_view content) {
    if (cfg.ingress.priority_header.empty()) return false;
    std::optional<std::string_view> value = smtp::header_value(content,
                                                               cfg.ingress.priority_header);
    return value && lower_equal(*value, "high");
}

// Journals the pending message; resumes once it is durable. Returns the message
// (its content in `*c`), or nullptr when the spool has no room for it (`*full`
// set) or the journal failed (the shard is stopping); either way nothing was
// promised.
runtime::task<queue::message_ptr> commit_message(ingress_context* ctx,
                                                 smtp::server_protocol* protocol,
                                                 session_hooks* hooks, bool* full,
                                                 queue::content_ptr* c) {
    const smtp::envelope& env = protocol->pending_envelope();
    std::size_t record_bytes = protocol->pending_content().size() + 4096;
    for (const std::string& r : env.rcpt_to) record_bytes += r.size() + 16;
    *full = !ctx->log->make_room(record_bytes);
    if (*full) co_return queue::message_ptr();
    queue::message_ptr m = queue::make_message();
    m->id = hooks->queue_id();
    m->arrival_unix_ms = hooks->arrival_unix_ms();
    if (env.mail.body != smtp::mail_params::body_type::seven_bit) {
        m->flags |= journal::message_flag_8bitmime;
    }
    if (env.mail.smtputf8) m->flags |= journal::message_flag_smtputf8;
    if (asks_high_priority(*ctx->cfg, protocol->pending_content())) {
        m->flags |= journal::message_flag_priority_high;
    }
    auto content = std::make_shared<queue::content>();
    content->sender = env.mail_from;
    content->recipients = env.rcpt_to;
    content->body = std::move(protocol->pending_content());
    m->unfinished = static_cast<std::uint32_t>(content->recipients.size());
    // RFC 3461: kept only when given, so mail without DSN parameters costs nothing.
    content->envid = env.mail.envid;
    content->ret = smtp::ret_value(env.mail.ret);
    for (std::size_t i = 0; i < env.rcpt.size(); ++i) {
        if (!env.rcpt[i].notify.empty() && content->notify.empty()) {
            content->notify.resize(env.rcpt.size());
        }
        if (!env.rcpt[i].orcpt.empty() && content->orcpt.empty()) {
            content->orcpt.resize(env.rcpt.size());
        }
        if (!content->notify.empty()) content->notify[i] = smtp::notify_bits(env.rcpt[i].notify);
        if (!content->orcpt.empty()) content->orcpt[i] = env.rcpt[i].orcpt;
    }
    journal::message_view view{m->id,  m->arrival_unix_ms, m->flags, content->sender, env.helo,
                               hooks->client(), content->envid, content->ret,
                               content->recipients, content->body, content->notify,
                               content->orcpt};
    journal::record_location where;
    std::uint64_t ticket = ctx->log->append_message(view, &where);
    m->segment_sequence = where.segment_sequence;
    m->record_offset = where.offset;
    m->record_bytes = where.bytes;
    *c = std::move(content);
    int rc = co_await ctx->log->durable(ticket);
    if (rc != 0) co_return queue::message_ptr();
    co_return m;
}

// A client-chosen name for the log: printable ASCII, at most 64 octets.
std::string loggable(std::string_view name) {
    std::string out;
    for (char c : name.substr(0, 64)) {
        const auto octet = static_cast<unsigned char>(c);
        out += octet > 0x20 && octet < 0x7f ? c : '?';
    }
    return out;
}

// AUTH (RFC 4954): the credentials go to the shard's verifier (a worker thread);
// a wrong password is answered only after auth_failure_delay_ms.
runtime::task<smtp::auth_result> authenticate(ingress_context* ctx,
                                              smtp::server_protocol* protocol,
                                              session_hooks* hooks) {
    smtp::auth_credentials credentials = protocol->pending_auth();
    const std::string user = loggable(credentials.user);
    runtime::task<smtp::auth_result> check = ctx->auth->verify(std::move(credentials));
    const smtp::auth_result result = co_await std::move(check);
    if (result == smtp::auth_result::success) {
        ++ctx->stats.auth_succeeded;
        log_info("%s: authenticated as %s", hooks->client().c_str(), user.c_str());
    } else if (result == smtp::auth_result::failure) {
        ++ctx->stats.auth_failed;
        log_info("%s: authentication failed for %s", hooks->client().c_str(), user.c_str());
        runtime::io::sleep_for pause(ctx->auth_failure_delay_ms);
        co_await pause;
    }
    co_return result;
}

}  // namespace

// STARTTLS (RFC 3207): the 220 goes out in plaintext, every byte the client sent
// after the STARTTLS line is dropped (never read as a command under TLS), and after
// the handshake the protocol starts over. False: the connection is to be closed.
runtime::task<bool> start_tls(ingress_context* ctx, session_transport* t,
                              smtp::server_protocol* protocol, session_hooks* hooks,
                              std::string* in, std::string* out) {
    if (co_await write_plain(t, *out) != 0) co_return false;
    out->clear();
    in->clear();
    std::string error = co_await accept_tls(t, ctx->tls);
    if (!error.empty()) {
        log_info("%s: %s", hooks->client().c_str(), error.c_str());
        co_return false;
    }
    protocol->tls_started();
    hooks->set_tls(t->tls->version(), t->tls->cipher());
    co_return true;
}

runtime::task<void> serve_session(ingress_context* ctx, int fd, bool limited) {
    runtime::socket_address peer = runtime::peer_address(fd);
    session_hooks hooks(ctx, peer);
    smtp::server_protocol protocol(ctx->settings, hooks);
    session_transport t;
    t.fd = fd;
    // RFC 5321 4.5.3.2: idle_timeout waiting for a command, data_timeout for more
    // DATA/BDAT content; sends use idle_timeout.
    const auto idle_ms = static_cast<std::uint64_t>(ctx->cfg->ingress.idle_timeout.count());
    const auto data_ms = static_cast<std::uint64_t>(ctx->cfg->ingress.data_timeout.count());
    t.timeout_ms = idle_ms;
    t.shared_buffers = ctx->receive_buffers.get();
    std::string in;
    std::string out;
    // Input is parsed where the kernel put it (a buffer of the shared ring, lent)
    // when nothing was left over from before; what is left unparsed, and all of it
    // before the session waits for anything, moves into `in` and the buffer goes
    // back. Most of a message's content is thus copied once, into the content.
    runtime::lent_buffer lent;
    std::size_t used = 0;
    auto input = [&] { return lent ? lent.bytes() : std::string_view(in); };
    auto keep_rest = [&] {
        if (!lent) return;
        in.assign(lent.bytes().substr(used));
        lent.release();
        used = 0;
    };
    protocol.greet(out);
    bool open = co_await write_plain(&t, out) == 0;
    out.clear();
    while (open) {
        t.timeout_ms = protocol.in_data() ? data_ms : idle_ms;
        int n = co_await read_plain(&t, &in, &lent);
        t.timeout_ms = idle_ms;
        if (n <= 0) {
            if (n == -ETIMEDOUT) protocol.idle_timeout(out);
            if (n == 0 && ctx->stopping) protocol.shutting_down(out);
            break;
        }
        used = 0;
        while (open) {
            auto r = protocol.feed(input().substr(used), out);
            used += r.consumed;
            if (r.event == smtp::server_protocol::event::need_more) break;
            if (r.event == smtp::server_protocol::event::close) {
                open = false;
                break;
            }
            keep_rest();  // what follows may wait
            if (r.event == smtp::server_protocol::event::starttls) {
                open = co_await start_tls(ctx, &t, &protocol, &hooks, &in, &out);
                used = 0;  // `in` was emptied: what followed STARTTLS is gone
                break;
            }
            if (r.event == smtp::server_protocol::event::auth) {
                const smtp::auth_result result = co_await authenticate(ctx, &protocol, &hooks);
                protocol.auth_done(result, out);
                continue;
            }
            bool full = false;
            queue::content_ptr content;
            queue::message_ptr m =
                co_await commit_message(ctx, &protocol, &hooks, &full, &content);
            if (!m) {
                protocol.message_done(full ? storage_full
                                           : smtp::reply_spec{451, "4.3.0",
                                                              "Local error: the message was not "
                                                              "stored, try again later"},
                                      out);
                continue;
            }
            char text[] = "Ok: queued as 0123456789abcdef";
            journal::write_queue_id(text + sizeof text - 1 - journal::queue_id_chars, m->id);
            protocol.message_done(smtp::reply_spec{250, "2.0.0", text}, out);
            ++ctx->stats.messages;
            ctx->stats.recipients += content->recipients.size();
            ctx->stats.bytes += content->body.size();
            ctx->accepted(std::move(m), std::move(content));
        }
        if (lent) {
            keep_rest();
        } else {
            in.erase(0, used);
        }
        if (!out.empty()) {
            if (co_await write_plain(&t, out) != 0) open = false;
            out.clear();
        }
        // A session waiting for its next command keeps no large buffer.
        if (in.capacity() > idle_buffer_bytes_max && in.size() < idle_buffer_bytes_max) {
            in.shrink_to_fit();
        }
        if (out.capacity() > idle_buffer_bytes_max) std::string().swap(out);
    }
    if (!out.empty()) {
        t.timeout_ms = 1000;
        co_await write_plain(&t, out);
    }
    ctx->sessions.erase(fd);
    if (limited) ctx->limits->release(peer.get());
    ::close(fd);
}

namespace {

// Refuses a connection before any session exists: one best-effort send, no wait.
void refuse(int fd, const ingress_context* ctx, std::string_view reason) {
    std::string line = "421 4.7.0 " + ctx->settings.hostname + " " + std::string(reason) +
                       "\r\n";
    [[maybe_unused]] ssize_t w = ::send(fd, line.data(), line.size(), MSG_DONTWAIT);
    ::close(fd);
}

// Per-client limits (clients in relay_networks are exempt). True: admitted and
// counted, so the session releases it; false with `*refused` when refused.
bool admit_client(ingress_context* ctx, int fd, bool* refused) {
    *refused = false;
    if (!ctx->limits) return false;
    runtime::socket_address peer = runtime::peer_address(fd);
    if (in_relay_networks(*ctx->cfg, peer.get())) return false;
    using verdict = client_limits::verdict;
    verdict v = ctx->limits->admit(peer.get(), runtime::reactor::current().now_ms());
    if (v == verdict::admitted) return true;
    ++ctx->stats.refused_per_ip;
    *refused = true;
    refuse(fd, ctx, v == verdict::too_fast
                        ? "Error: too many connections from your address, slow down"
                        : "Error: too many open connections from your address");
    return false;
}

}  // namespace

unsigned shard_share(unsigned limit, unsigned shards) {
    return limit == 0 ? 0 : (limit + shards - 1) / shards;
}

std::unique_ptr<client_limits> make_client_limits(const config::ingress_config& ingress,
                                                  unsigned shards) {
    config::rate rate = ingress.connection_rate_per_ip;
    if (!rate.unlimited()) {
        rate.count = (rate.count + shards - 1) / shards;
    }
    const unsigned connections = shard_share(ingress.max_connections_per_ip, shards);
    if (connections == 0 && rate.unlimited()) return nullptr;
    // Room for every open session's client and as many recently seen ones.
    const std::size_t tracked_max =
        std::max<std::size_t>(65536, 2 * std::size_t(ingress.max_connections));
    return std::make_unique<client_limits>(connections, rate, tracked_max);
}

runtime::task<void> run_listener(ingress_context* ctx, runtime::acceptor* listener) {
    if (!ctx->receive_buffers_tried) {
        ctx->receive_buffers_tried = true;
        int error = 0;
        ctx->receive_buffers = runtime::buffer_ring::create(
            receive_buffers_group, receive_buffers_count, session_transport::receive_bytes,
            &error);
        if (!ctx->receive_buffers) {
            log_warn("shard %u: no io_uring provided buffers (%s; Linux 5.19+): each "
                     "session keeps its own 16 KiB receive buffer", ctx->shard,
                     std::strerror(-error));
        }
    }
    listener->start();
    for (;;) {
        int fd = co_await listener->next();
        if (fd == -ECANCELED) break;
        if (fd < 0) {  // out of descriptors: back off, then accept again
            runtime::io::sleep_for pause(100);
            co_await pause;
            listener->start();
            continue;
        }
        ++ctx->stats.connections;
        if (ctx->sessions.size() >= ctx->sessions_max) {
            refuse(fd, ctx, "Too many connections, try again later");
            continue;
        }
        bool refused = false;
        const bool limited = admit_client(ctx, fd, &refused);
        if (refused) continue;
        runtime::set_nodelay(fd);
        ctx->sessions.insert(fd);
        runtime::spawn(serve_session(ctx, fd, limited));
    }
}

void end_sessions(ingress_context* ctx) {
    ctx->stopping = true;
    for (int fd : ctx->sessions) ::shutdown(fd, SHUT_RD);
}

}  // namespace ringmta::ingress
