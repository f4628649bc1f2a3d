// One SMTP transaction per job, and the connection loop that runs them (see
// engine.h). Replies map to outcomes per recipient: MAIL refused → every
// recipient gets that reply; RCPT refused → that recipient; DATA or the final
// reply → every recipient the server accepted.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "budget_table.h"
#include "pool.h"
#include "ringmta/runtime/log.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/time_format.h"
#include "ringmta/smtp/dot.h"
#include "ringmta/smtp/dsn_params.h"

namespace ringmta::delivery {

namespace {

// While every candidate of a destination fails, new connections wait this long.
constexpr std::uint64_t dead_destination_pause_ms = 1000;
// Waiting for a budget's rate token: at most this long between looks at the
// share (a grant, a revoke, the engine stopping), and this long while the share
// allows no sending at all (before the first grant, or suspended).
constexpr std::uint64_t send_wait_step_ms = 100;
constexpr std::uint64_t send_blocked_wait_ms = 20;
// Waits for one transaction's turn, then the connection closes and its job goes
// back to the queue (a suspension longer than about a day).
constexpr int send_waits_max = 1000000;
// How long a connection of a budgeted pool waits for the reply to QUIT.
constexpr std::uint64_t quit_reply_wait_ms = 1000;

// With PIPELINING and CHUNKING, content this size or smaller is written together
// with MAIL, the RCPTs and "BDAT <size> LAST", as RFC 3030's pipelined example
// does: one round trip per transaction. A server that refused every recipient
// still reads the chunk and refuses it, so at most this much is sent in vain;
// larger content waits for the RCPT replies.
constexpr std::size_t pipelined_content_bytes_max = 128 * 1024;
// A connection that sends content with its commands takes up to this many ready
// jobs of its pool at once and pipelines their transactions in one write, up to
// batch_bytes_max of content: a burst of mail for a domain (a group commit
// releases many messages at once) costs one write and one read of replies per
// batch instead of per message, on both sides.
constexpr unsigned batch_jobs_max = 8;
constexpr std::size_t batch_bytes_max = 256 * 1024;

// The reason recorded for a job whose message record could not be read back.
const smtp::reply unreadable{0, "4.3.0", {"the message record could not be read back from "
                                          "the journal"}};

engine::outcome_context context_of(const engine::connection& c) {
    engine::outcome_context where{c.exchanger, c.next_hop, runtime::unix_ms()};
    where.peer_dsn = c.caps.dsn;
    if (c.tls) {
        where.tls_version = c.tls->version();
        where.tls_cipher = c.tls->cipher();
    }
    return where;
}

}  // namespace

struct transaction {
    engine* e;
    engine::pool* p;
    engine::connection* c;
    queue::job* j;
    queue::content_ptr content;      // the job's envelope and body
    std::vector<std::uint32_t> deferred;
    std::vector<engine::final_result> finals;
    smtp::reply last;
    // A pooled connection the receiver had closed: not even RSET was answered,
    // so nothing of the job was sent and it may run again on a new connection.
    bool stale = false;
    // A later transaction of a batch whose connection turned out stale: nothing
    // was answered, and it goes back to the queue as it was.
    bool unsent = false;
    int lost_error = 0;              // -errno when the connection failed mid-transaction

    engine::outcome_context where() const {
        engine::outcome_context w = context_of(*c);
        w.from = p;
        return w;
    }

    std::size_t delivered() const {
        std::size_t n = 0;
        for (const engine::final_result& f : finals) n += f.reply.code >= 200 && f.reply.code < 300;
        return n;
    }

    // 2xx delivered, 5xx failed; anything else (4xx, or a reply that makes no
    // sense at this point, such as 3xx to RCPT) is retried, never bounced.
    void apply(std::uint32_t recipient, const smtp::reply& r) {
        if ((r.code >= 200 && r.code < 300) || (r.code >= 500 && r.code < 600)) {
            finals.push_back({recipient, r});
        } else {
            deferred.push_back(recipient);
            last = r;
        }
    }

    // The connection failed mid-transaction: recipients not yet decided retry.
    void lose(std::span<const std::uint32_t> undecided, int error) {
        lost_error = error;
        last = smtp::reply{0, "4.4.2", {std::string("connection to ") + c->next_hop +
                                        " lost: " + std::strerror(-error)}};
        for (std::uint32_t r : undecided) deferred.push_back(r);
    }

    void settle() {
        e->conclude(*j, content.get(), finals, where());
        finals.clear();
        e->settle(*p, *j, content.get(), deferred, last, where());
    }

    // More jobs for one write after a first transaction (defined below; a member
    // for the engine's queue calls).
    static runtime::task<void> gather_batch(engine* e, engine::pool* p, engine::connection* c,
                                            std::size_t room, std::size_t bytes,
                                            std::vector<queue::job>* jobs,
                                            std::vector<transaction>* batch);

    // What commands() appends, with room for "BDAT <size> LAST".
    std::size_t commands_size() const {
        const queue::content& m = *content;
        std::size_t size = 96 + m.sender.size() + m.envid.size();
        for (std::uint32_t r : j->recipients) {
            size += 48 + m.recipients[r].size() + (m.orcpt.empty() ? 0 : m.orcpt[r].size());
        }
        return size;
    }

    std::string commands(bool reset) const {
        std::string out;
        out.reserve(commands_size());
        append_commands(out, reset);
        return out;
    }

    // RSET (after the first transaction), MAIL, every RCPT, then DATA; or, when
    // the receiver offers CHUNKING, no DATA: the caller appends BDAT and the body.
    // Appended to `out`, which the caller sized (commands_size()): no temporaries.
    void append_commands(std::string& out, bool reset) const {
        const queue::content& m = *content;
        std::uint32_t flags = j->msg->flags;
        if (reset) out += "RSET\r\n";
        out += "MAIL FROM:<";
        out += m.sender;
        out += '>';
        if (c->caps.size_max > 0) {
            out += " SIZE=";
            runtime::append_uint(out, m.body.size());
        }
        if ((flags & journal::message_flag_8bitmime) && c->caps.eightbitmime) {
            out += " BODY=8BITMIME";
        }
        if ((flags & journal::message_flag_smtputf8) && c->caps.smtputf8) out += " SMTPUTF8";
        if (c->caps.dsn && m.ret != smtp::ret_unspecified) {
            out += m.ret == smtp::ret_full ? " RET=FULL" : " RET=HDRS";
        }
        if (c->caps.dsn && !m.envid.empty()) {
            out += " ENVID=";
            out += m.envid;
        }
        out += "\r\n";
        for (std::uint32_t r : j->recipients) {
            out += "RCPT TO:<";
            out += m.recipients[r];
            out += '>';
            if (c->caps.dsn && !m.notify.empty() && m.notify[r] != 0) {
                out += " NOTIFY=";
                out += smtp::notify_text(m.notify[r]);
            }
            if (c->caps.dsn && !m.orcpt.empty() && !m.orcpt[r].empty()) {
                out += " ORCPT=";
                out += m.orcpt[r];
            }
            out += "\r\n";
        }
        if (!c->caps.chunking) out += "DATA\r\n";
    }
};

namespace {

// What a transaction's replies say about the receiver's appetite (the owner's
// adaptive backoff): a throttling reply (421, a configured pattern) or a
// timeout wins over a success, a success over other failures.
queue::throttle_signal signal_of(const transaction& t, const std::vector<std::string>& patterns) {
    if (t.lost_error == -ETIMEDOUT) return queue::throttle_signal::timeout;
    if (!t.deferred.empty() && t.last.code != 0) {
        queue::throttle_signal s = queue::classify_reply(t.last.code, t.last.text(), patterns);
        if (s != queue::throttle_signal::neutral) return s;
    }
    queue::throttle_signal out = queue::throttle_signal::neutral;
    for (const engine::final_result& f : t.finals) {
        queue::throttle_signal s = queue::classify_reply(f.reply.code, f.reply.text(), patterns);
        if (s != queue::throttle_signal::neutral && s != queue::throttle_signal::success) return s;
        if (s == queue::throttle_signal::success) out = s;
    }
    return out;
}

// The signal of a connection that could not be opened: the refusal's reply, or
// for a failure without one (code 0, see client_session.cc), a timeout or a
// refused connection when the connect or the greeting failed.
queue::throttle_signal failure_signal(const smtp::reply& why,
                                      const std::vector<std::string>& patterns) {
    if (why.code != 0) return queue::classify_reply(why.code, why.text(), patterns);
    std::string text = why.text();
    if (text.find(std::strerror(ETIMEDOUT)) != std::string::npos) {
        return queue::throttle_signal::timeout;
    }
    if (text.starts_with("connect to ") || text.starts_with("greeting from ")) {
        return queue::throttle_signal::refused;
    }
    return queue::throttle_signal::neutral;
}

// Waits until the pool's budget lets this connection run one more transaction
// of `recipients`: a rate token and, under a daily cap, as many of today's
// deliveries (waiting for a block from the owner meanwhile). Returns how many
// recipients it may send: all, fewer once the owner said the day's cap is all
// lent and this shard's blocks have less left (the caller splits the job), or
// 0: the connection is to close first, because the engine stops, the shard's
// share now has fewer slots than it has connections open, or the day's cap is
// spent here (borrower.daily_spent(): the pool's mail waits for 00:00 UTC).
runtime::task<std::uint64_t> wait_send_turn(engine* e, engine::pool* p,
                                            std::uint64_t recipients) {
    budget_table& budgets = e->budgets();
    std::uint64_t waiting = 0;       // counted in p->daily_waiting
    std::uint64_t allowed = 0;
    for (int waits = 0; waits < send_waits_max; ++waits) {
        if (e->stopping() || budgets.over_share(*p)) break;
        recipients = budgets.daily_cut(*p, recipients);
        if (recipients == 0) break;
        std::uint64_t wait_ms = 0;
        queue::send_verdict verdict = budgets.try_send(*p, recipients, &wait_ms);
        if (verdict == queue::send_verdict::ok) {
            allowed = recipients;
            break;
        }
        if (verdict == queue::send_verdict::wait_daily && waiting == 0) {
            waiting = recipients;
            p->daily_waiting += waiting;
            e->poke();   // the next demand asks the owner for a block
        }
        if (wait_ms == 0) wait_ms = send_blocked_wait_ms;
        runtime::io::sleep_for pause(std::min(wait_ms, send_wait_step_ms));
        co_await pause;
    }
    p->daily_waiting -= waiting;
    co_return allowed;
}

// The job keeps its first `count` recipients; the rest go back to the queue.
void keep_first(engine* e, engine::pool* p, queue::job& j, std::size_t count) {
    queue::job rest;
    rest.msg = j.msg;
    rest.attempts = j.attempts;
    rest.recipients.assign(j.recipients.span().subspan(count));
    j.recipients.assign(std::vector<std::uint32_t>(j.recipients.begin(),
                                                   j.recipients.begin() + count));
    e->requeue(*p, std::move(rest));
}

// Recipients that took today's deliveries but were not delivered give them back.
void give_back_daily(engine* e, engine::pool* p, std::uint64_t recipients) {
    e->budgets().give_back_daily(*p, recipients);
}

bool ascii(std::string_view text) {
    for (char ch : text) {
        if (static_cast<unsigned char>(ch) >= 0x80) return false;
    }
    return true;
}

// One reply per line of the pipelined `commands`, in order; the last may take
// last_ms (the final reply after content), the others reply_ms.
runtime::task<int> read_replies(engine::connection* c, std::string_view commands,
                                std::vector<smtp::reply>* replies, std::uint64_t reply_ms,
                                std::uint64_t last_ms) {
    const auto lines = static_cast<std::size_t>(std::count(commands.begin(), commands.end(), '\n'));
    replies->resize(lines);
    for (std::size_t i = 0; i < lines; ++i) {
        c->timeout_ms = i + 1 < lines ? reply_ms : last_ms;
        int rc = co_await read_reply(c, &(*replies)[i]);
        if (rc < 0) co_return rc;
    }
    co_return 0;
}

// Sends the commands (all at once with PIPELINING, else one by one) and collects
// the replies to RSET (if any), MAIL, each RCPT and DATA, in order.
runtime::task<int> exchange(engine::connection* c, std::string commands,
                            std::vector<smtp::reply>* replies, std::uint64_t ms) {
    c->timeout_ms = ms;
    if (c->caps.pipelining) {
        int rc = co_await send_plain(c, commands);
        if (rc < 0) co_return rc;
        co_return co_await read_replies(c, commands, replies, ms, ms);
    }
    std::size_t from = 0;
    while (from < commands.size()) {
        std::size_t end = commands.find('\n', from) + 1;
        std::string_view one(commands.data() + from, end - from);
        int rc = co_await send_plain(c, one);
        if (rc < 0) co_return rc;
        replies->emplace_back();
        rc = co_await read_reply(c, &replies->back());
        if (rc < 0) co_return rc;
        bool is_data = one.starts_with("DATA");
        bool mail_refused = one.starts_with("MAIL") && replies->back().code >= 400;
        if (mail_refused || is_data) break;
        from = end;
    }
    co_return 0;
}

// Sends the commands, the last of them "BDAT <size> LAST", and the content in
// one write, then collects a reply per command: RSET (if any), MAIL, each RCPT,
// and last the final one, which may take the longer data timeout.
runtime::task<int> exchange_with_content(engine::connection* c, std::string commands,
                                         std::string_view content,
                                         std::vector<smtp::reply>* replies,
                                         std::uint64_t reply_ms, std::uint64_t data_ms) {
    c->timeout_ms = data_ms;
    int rc = co_await send_plain(c, commands, content);
    if (rc < 0) co_return rc;
    co_return co_await read_replies(c, commands, replies, reply_ms, data_ms);
}

// Why the next hop cannot take a transaction as it is, if it cannot: an
// internationalized envelope without SMTPUTF8 (RFC 6531 §3.2: it cannot be
// downgraded), or content over the hop's SIZE. Then nothing is sent and every
// recipient gets this reply.
std::optional<smtp::reply> refusal_before_sending(const transaction& t) {
    const engine::connection* c = t.c;
    const queue::content& m = *t.content;
    if ((t.j->msg->flags & journal::message_flag_smtputf8) && !c->caps.smtputf8) {
        bool needs = !ascii(m.sender);
        for (std::uint32_t r : t.j->recipients) needs = needs || !ascii(m.recipients[r]);
        if (needs) {
            return smtp::reply{553, "5.6.7", {"SMTPUTF8 is required, but was not offered by " +
                                              c->exchanger + " (" + c->next_hop + ")"}};
        }
    }
    if (c->caps.size_max > 0 && m.body.size() > c->caps.size_max) {
        return smtp::reply{552, "5.3.4", {"message too big for the next hop (SIZE " +
                                          std::to_string(c->caps.size_max) + ")"}};
    }
    return std::nullopt;
}

// With CHUNKING and PIPELINING, content up to pipelined_content_bytes_max goes
// in the same write as its commands, one round trip for the transaction.
bool content_pipelined(const engine::connection& c, const queue::content& m) {
    return c.caps.chunking && c.caps.pipelining && m.body.size() <= pipelined_content_bytes_max;
}

void append_bdat_last(std::string& out, std::size_t size) {
    out += "BDAT ";
    runtime::append_uint(out, size);
    out += " LAST\r\n";
}

// The replies to MAIL and each RCPT, from replies[at]: true when MAIL was taken,
// with the recipients the server accepted in `*accepted` (the others have their
// replies). When MAIL was refused every recipient has that reply, and `*alive`
// says whether the connection goes on (not after a 421).
bool envelope_taken(transaction* t, std::span<const smtp::reply> replies, std::size_t at,
                    std::vector<std::uint32_t>* accepted, bool* alive) {
    const queue::recipient_list& rcpts = t->j->recipients;
    if (replies.size() <= at || replies[at].code >= 400 || replies[at].code < 200) {
        const smtp::reply& refusal = replies.size() > at ? replies[at] : replies.back();
        for (std::uint32_t r : rcpts) t->apply(r, refusal);
        *alive = replies.size() > at && replies[at].code != 421 && replies.back().code != 421;
        return false;
    }
    for (std::size_t i = 0; i < rcpts.size(); ++i) {
        const smtp::reply& r = replies[at + 1 + i];
        if (r.code >= 200 && r.code < 300) {
            accepted->push_back(rcpts[i]);
        } else {
            t->apply(rcpts[i], r);
        }
    }
    return true;
}

// The final reply concerns the accepted recipients; false after a 421.
bool apply_final(transaction* t, const std::vector<std::uint32_t>& accepted,
                 const smtp::reply& final_reply) {
    for (std::uint32_t r : accepted) t->apply(r, final_reply);
    t->e->count_transaction();
    return final_reply.code != 421;
}

// The replies to a transaction sent with its content ([RSET], MAIL, each RCPT,
// BDAT LAST), all answered; false when the connection is no longer usable.
bool apply_pipelined_replies(transaction* t, std::span<const smtp::reply> replies, bool reset) {
    std::vector<std::uint32_t> accepted;
    bool alive = true;
    if (!envelope_taken(t, replies, reset ? 1 : 0, &accepted, &alive)) return alive;
    // The reply to BDAT LAST is the final one; with no recipient accepted it
    // refuses an empty transaction and concerns nobody.
    const smtp::reply& final_reply = replies.back();
    if (accepted.empty()) return final_reply.code != 421;
    return apply_final(t, accepted, final_reply);
}

// Runs one transaction; false when the connection is no longer usable.
runtime::task<bool> run_transaction(transaction* t, bool reset) {
    engine::connection* c = t->c;
    const queue::content& m = *t->content;
    const config::delivery_config& d = t->e->settings().delivery;
    auto reply_ms = static_cast<std::uint64_t>(d.reply_timeout.count());
    auto data_ms = static_cast<std::uint64_t>(d.data_timeout.count());
    const queue::recipient_list& rcpts = t->j->recipients;
    if (std::optional<smtp::reply> refusal = refusal_before_sending(*t)) {
        for (std::uint32_t r : rcpts) t->apply(r, *refusal);
        co_return true;
    }
    const bool pipelined = content_pipelined(*c, m);
    std::string commands = t->commands(reset);
    if (pipelined) append_bdat_last(commands, m.body.size());
    std::vector<smtp::reply> replies;
    int rc = 0;
    if (pipelined) {
        rc = co_await exchange_with_content(c, std::move(commands), m.body, &replies, reply_ms,
                                            data_ms);
    } else {
        rc = co_await exchange(c, std::move(commands), &replies, reply_ms);
    }
    if (rc < 0 && reset && (replies.empty() || replies[0].code == 0)) {
        t->stale = true;
        co_return false;
    }
    if (rc < 0) {
        t->lose(rcpts.span(), rc);
        co_return false;
    }
    if (pipelined) co_return apply_pipelined_replies(t, replies, reset);
    std::vector<std::uint32_t> accepted;
    bool alive = true;
    if (!envelope_taken(t, replies, reset ? 1 : 0, &accepted, &alive)) co_return alive;
    smtp::reply final_reply;
    if (c->caps.chunking) {
        // RFC 3030: the body as it is, no dot-stuffing, in one BDAT LAST chunk.
        // Larger content is not pipelined: with no recipient accepted, none is sent.
        if (accepted.empty()) co_return true;  // the next transaction starts with RSET
        std::string command;
        append_bdat_last(command, m.body.size());
        c->timeout_ms = data_ms;
        rc = co_await send_plain(c, command, m.body);
    } else {
        const smtp::reply& data = replies.back();
        if (data.code != 354) {
            for (std::uint32_t r : accepted) t->apply(r, data);
            co_return data.code != 421;
        }
        std::string body;
        body.reserve(m.body.size() + m.body.size() / 64 + 8);
        smtp::dot_stuff_state state;
        if (!accepted.empty()) smtp::dot_stuff(m.body, body, state);
        smtp::dot_stuff_finish(body, state);  // with no recipient left: an empty message, ended
        c->timeout_ms = data_ms;
        rc = co_await send_plain(c, body);
    }
    if (rc == 0) rc = co_await read_reply(c, &final_reply);
    if (rc < 0) {
        t->lose(accepted, rc);
        co_return false;
    }
    co_return apply_final(t, accepted, final_reply);
}

// Runs transactions that each go with their content (content_pipelined) in one
// write, as RFC 2920 allows (RSET, MAIL and RCPT anywhere in a group; RFC 3030
// §4.2: BDAT too): every transaction after the connection's first starts with
// RSET, so each is on its own whatever the one before came to. Then reads the
// replies in order and applies each transaction's. When the connection fails
// midway, the transactions answered in full are applied, the rest are lost
// (retried), and a pooled connection that answered nothing at all (not even the
// first RSET) marks the first transaction stale and the others `unsent`.
// False when the connection is no longer usable.
runtime::task<bool> run_batch(std::vector<transaction>* batch, bool reset) {
    engine::connection* c = batch->front().c;
    const config::delivery_config& d = batch->front().e->settings().delivery;
    auto reply_ms = static_cast<std::uint64_t>(d.reply_timeout.count());
    auto data_ms = static_cast<std::uint64_t>(d.data_timeout.count());
    std::string text;   // every transaction's commands, one after the other
    std::vector<std::size_t> ends;    // where each transaction's commands end in `text`
    std::vector<std::size_t> lines;   // each transaction's reply count
    std::size_t size = 0;
    for (const transaction& t : *batch) size += t.commands_size();
    text.reserve(size);
    for (std::size_t i = 0; i < batch->size(); ++i) {
        transaction& t = (*batch)[i];
        const bool rset = reset || i > 0;
        t.append_commands(text, rset);
        append_bdat_last(text, t.content->body.size());
        ends.push_back(text.size());
        lines.push_back((rset ? 1 : 0) + 1 + t.j->recipients.size() + 1);
    }
    std::vector<std::string_view> pieces;
    pieces.reserve(2 * batch->size());
    for (std::size_t i = 0; i < batch->size(); ++i) {
        std::size_t from = i == 0 ? 0 : ends[i - 1];
        pieces.emplace_back(text.data() + from, ends[i] - from);
        pieces.emplace_back((*batch)[i].content->body);
    }
    c->timeout_ms = data_ms;
    int rc = co_await send_pieces(c, pieces);
    bool alive = rc == 0;
    std::vector<smtp::reply> replies;
    for (std::size_t i = 0; i < batch->size(); ++i) {
        transaction& t = (*batch)[i];
        const bool rset = reset || i > 0;
        replies.assign(lines[i], smtp::reply{});
        std::size_t got = 0;
        for (; rc == 0 && got < lines[i]; ++got) {
            c->timeout_ms = got + 1 < lines[i] ? reply_ms : data_ms;
            rc = co_await read_reply(c, &replies[got]);
            if (rc < 0) break;
        }
        if (rc == 0) {
            alive = apply_pipelined_replies(&t, replies, rset) && alive;
            continue;
        }
        alive = false;
        if (i == 0 && reset && got == 0) {
            t.stale = true;
        } else if (i > 0 && (*batch)[0].stale) {
            t.unsent = true;
        } else {
            t.lose(t.j->recipients.span(), rc);
        }
    }
    co_return alive;
}

// A transaction's outcome to the pool's budget (its adaptive backoff), to the
// queue and the accounting log.
void settle_transaction(engine* e, engine::pool* p, transaction* t) {
    if (p->budget != nullptr) {
        e->budgets().record(*p->budget, signal_of(*t, p->budget->patterns()));
    }
    t->settle();
}

// Whether a connection of the pool pipelines several transactions per write:
// it sends content with its commands, and the pool draws on no budget (a budget
// hands out a rate token and daily deliveries per transaction: wait_send_turn).
bool batches(const engine::connection& c, const engine::pool& p) {
    return c.caps.chunking && c.caps.pipelining && p.budgets.empty();
}

// Takes up to `room` more of the pool's ready jobs to go in one write after a
// first transaction with `bytes` of content: each loaded, its transaction added
// to `*batch` and its job kept in `*jobs` (reserved here, so never moved while a
// transaction points at it). A job whose record cannot be read is deferred, one
// the next hop cannot take is refused at once (refusal_before_sending), and one
// whose content would not go with its commands or would take the write past
// batch_bytes_max goes back to the queue and ends the batch.
}  // namespace

runtime::task<void> transaction::gather_batch(engine* e, engine::pool* p,
                                              engine::connection* c, std::size_t room,
                                              std::size_t bytes, std::vector<queue::job>* jobs,
                                              std::vector<transaction>* batch) {
    queue::job next;
    for (std::size_t taken = 0; taken < room && e->take(*p, next); ++taken) {
        if (jobs->empty()) {
            jobs->reserve(room);
            batch->reserve(room + 1);   // and the first transaction
        }
        jobs->push_back(std::move(next));
        next = queue::job{};
        queue::job& j = jobs->back();
        ++j.attempts;
        queue::content_ptr content = co_await e->load(j.msg);
        if (!content) {
            engine::outcome_context where{{}, {}, runtime::unix_ms()};
            e->defer_job(*p, std::move(j), nullptr, unreadable, where);
            jobs->pop_back();
            continue;
        }
        transaction t{e, p, c, &j, std::move(content), {}, {}, {}};
        if (std::optional<smtp::reply> refusal = refusal_before_sending(t)) {
            for (std::uint32_t r : j.recipients) t.apply(r, *refusal);
            settle_transaction(e, p, &t);
            jobs->pop_back();
            continue;
        }
        const std::size_t size = t.content->body.size();
        if (!content_pipelined(*c, *t.content) || bytes + size > batch_bytes_max) {
            --j.attempts;
            e->requeue(*p, std::move(j));
            jobs->pop_back();
            break;
        }
        bytes += size;
        batch->push_back(std::move(t));
    }
}

namespace {

// Waits for the next job of the pool; false when the connection should close.
runtime::task<bool> next_job(engine* e, engine::pool* p, engine::connection* c, queue::job* j) {
    for (int waits = 0; waits < 1000000; ++waits) {
        if (e->stopping()) co_return false;
        if (e->take(*p, *j)) co_return true;
        c->idle_since_ms = runtime::monotonic_ms();
        p->idle.push_back(c);
        e->poke();
        co_await c->work.wait();
        std::erase(p->idle, c);
        if (c->quit) co_return false;
    }
    co_return false;
}

}  // namespace

runtime::task<void> run_connection(engine* e, engine::pool* p) {
    engine::connection c;
    queue::job j;
    bool have_job = e->take_job(*p, j);
    --p->starting;
    smtp::reply why;
    bool open = false;
    if (have_job) {
        std::vector<candidate> candidates = co_await find_candidates(e, p, &why);
        if (!candidates.empty()) open = co_await open_connection(e, p, &c, std::move(candidates), &why);
    }
    if (have_job && !open) {
        // No candidate took the connection: this job and the rest of the
        // destination's ready work bounce (a permanent routing failure: null MX,
        // NXDOMAIN) or retry later, and new connections pause for a moment.
        bool permanent = why.code >= 500;
        if (p->budget != nullptr) {
            e->budgets().record(*p->budget, failure_signal(why, p->budget->patterns()));
        }
        if (!permanent) p->dead_until_ms = runtime::monotonic_ms() + dead_destination_pause_ms;
        engine::outcome_context where{{}, {}, runtime::unix_ms()};
        where.from = p;
        log_warn("delivery to %s %s: %s", p->key.c_str(), permanent ? "failed" : "deferred",
                 why.text().c_str());
        for (int n = 0; have_job && n < 1000000; ++n) {
            ++j.attempts;
            queue::content_ptr content = co_await e->load(j.msg);
            if (permanent) {
                std::vector<engine::final_result> results;
                for (std::uint32_t r : j.recipients) results.push_back({r, why});
                e->conclude(j, content.get(), results, where);
            } else {
                e->defer_job(*p, std::move(j), content.get(), why, where);
            }
            have_job = e->take_job(*p, j);
        }
    } else if (have_job) {
        unsigned sent = 0;
        unsigned per_connection = p->budget != nullptr
                                      ? p->budget->scope.limits.max_messages_per_connection
                                      : e->_cfg.delivery.max_messages_per_connection;
        for (bool alive = true; alive;) {
            if (!p->budgets.empty()) {
                std::uint64_t turn = co_await wait_send_turn(e, p, j.recipients.size());
                if (turn == 0) {
                    e->requeue(*p, std::move(j));
                    break;
                }
                if (turn < j.recipients.size()) keep_first(e, p, j, turn);
            }
            ++j.attempts;
            queue::content_ptr content = co_await e->load(j.msg);
            if (!content) {
                give_back_daily(e, p, j.recipients.size());
                engine::outcome_context where{{}, {}, runtime::unix_ms()};
                e->defer_job(*p, std::move(j), nullptr, unreadable, where);
                alive = co_await next_job(e, p, &c, &j);
                continue;
            }
            transaction t{e, p, &c, &j, std::move(content), {}, {}, {}};
            c.takes = batches(c, *p) ? batch_jobs_max : 1;
            std::vector<queue::job> more;       // a batch's other jobs
            std::vector<transaction> batch;     // and every transaction of it
            if (c.takes > 1 && sent + 1 < per_connection && content_pipelined(c, *t.content) &&
                !refusal_before_sending(t)) {
                std::size_t room = std::min<std::size_t>(batch_jobs_max, per_connection - sent) - 1;
                co_await transaction::gather_batch(e, p, &c, room, t.content->body.size(), &more,
                                                   &batch);
            }
            if (batch.empty()) {
                alive = co_await run_transaction(&t, sent > 0);
            } else {
                batch.insert(batch.begin(), std::move(t));
                alive = co_await run_batch(&batch, sent > 0);
                t = std::move(batch.front());
                const unsigned sent_before = sent;
                for (std::size_t i = 1; i < batch.size(); ++i) {
                    transaction& x = batch[i];
                    if (x.unsent) {   // the connection was stale: back to the queue as it was
                        --x.j->attempts;
                        e->requeue(*p, std::move(*x.j));
                        continue;
                    }
                    settle_transaction(e, p, &x);
                    ++sent;
                }
                e->count_batched(sent - sent_before);
            }
            if (t.stale) {
                // Reconnect once and run the same job again, instead of deferring
                // it for retry_min because the pooled connection had died.
                --j.attempts;
                give_back_daily(e, p, j.recipients.size());
                ::close(c.fd);
                c.fd = -1;
                c.tls.reset();
                std::vector<candidate> fresh = co_await find_candidates(e, p, &why);
                bool reopened = !fresh.empty() &&
                                co_await open_connection(e, p, &c, std::move(fresh), &why);
                if (reopened) {
                    sent = 0;
                    alive = true;
                    continue;
                }
                ++j.attempts;
                engine::outcome_context where{{}, {}, runtime::unix_ms()};
                e->defer_job(*p, std::move(j), t.content.get(), why, where);
                break;
            }
            give_back_daily(e, p, j.recipients.size() - t.delivered());
            settle_transaction(e, p, &t);
            if (!alive || ++sent >= per_connection) break;
            alive = co_await next_job(e, p, &c, &j);
        }
        if (c.fd >= 0) {
            static constexpr std::string_view quit = "QUIT\r\n";
            if (!p->budgets.empty()) {
                // The slot is given back only once the receiver has answered QUIT
                // (it closes then), so that the receiver, which counts connections
                // until it sees them close, never counts more than the limit.
                c.timeout_ms = quit_reply_wait_ms;
                smtp::reply bye;
                int rc = co_await send_plain(&c, quit);
                if (rc == 0) rc = co_await read_reply(&c, &bye);
            } else if (c.tls) {
                c.timeout_ms = 1000;
                [[maybe_unused]] int rc = co_await send_plain(&c, quit);
            } else {
                [[maybe_unused]] ssize_t w = ::send(c.fd, quit.data(), quit.size(),
                                                    MSG_DONTWAIT | MSG_NOSIGNAL);
            }
        }
    }
    if (c.fd >= 0) ::close(c.fd);
    --p->connections;
    // Every connection of a budgeted pool took a slot (engine::start_connections).
    e->budgets().release_slots(*p);
    e->poke();
}

}  // namespace ringmta::delivery
