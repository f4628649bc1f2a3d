// A blast connection's transaction loop (see blast_connection.h).
//
// Latency of a message: from handing MAIL to the kernel to reading the final
// reply to the end of DATA, on the monotonic clock in microseconds. Messages
// refused before DATA have no latency sample. After a failed transaction the
// connection sends RSET; a successful one goes straight to the next MAIL.
#include "blast_connection.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <limits>

#include "blast_shard.h"
#include "ringmta/runtime/ops.h"
#include "smtp_client.h"

namespace ringmta::blast {

namespace {

namespace io = runtime::io;

constexpr std::uint64_t reconnect_pause_ms = 100;

enum class outcome { accepted, refused, dropped };

std::uint64_t monotonic_us() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1'000'000 + std::uint64_t(ts.tv_nsec) / 1000;
}

struct connection {
    blast_shard* shard;
    smtp_client client;
    bool pipelining = false;
    std::string commands;
    std::string body;
    std::uint64_t body_bytes = 0;
    bool failure_noted = false;  // one failure reply per transaction is enough

    shard_results& results() { return shard->results(); }
    std::uint64_t timeout_ms() const { return shard->op_timeout_ms(); }
    void note(const smtp::reply& r) {
        if (failure_noted) return;
        failure_noted = true;
        results().note_failure(describe(r));
    }
};

void append_mail(connection* c) {
    const blast_options& options = c->shard->options();
    c->commands += "MAIL FROM:<" + options.from + ">";
    if (c->client.capabilities().size_max > 0) {
        c->commands += " SIZE=" + std::to_string(c->body_bytes);
    }
    c->commands += "\r\n";
}

void append_rcpt(connection* c, std::uint64_t message, unsigned k) {
    c->commands += "RCPT TO:<";
    c->shard->builder().append_recipient(c->commands, message, k);
    c->commands += ">\r\n";
}

// Sends `c->commands` and reads one reply. <0: the connection is gone.
runtime::task<int> round_trip(connection* c, smtp::reply* r) {
    int rc = co_await smtp_client::send(&c->client, c->commands, c->timeout_ms());
    if (rc == 0) rc = co_await smtp_client::read_reply(&c->client, r, c->timeout_ms());
    c->commands.clear();
    co_return rc;
}

// After a refusal: RSET, so the next transaction starts clean.
runtime::task<outcome> reset(connection* c) {
    c->commands = "RSET\r\n";
    smtp::reply r;
    int rc = co_await round_trip(c, &r);
    co_return rc < 0 ? outcome::dropped : outcome::refused;
}

// The content after 354, then the final reply. `ok`: MAIL and every RCPT took.
runtime::task<outcome> send_content(connection* c, std::uint64_t started_us, bool ok) {
    c->results().sent_bytes += c->body_bytes;
    int rc = co_await smtp_client::send(&c->client, c->body, c->timeout_ms());
    smtp::reply r;
    if (rc == 0) rc = co_await smtp_client::read_reply(&c->client, &r, c->timeout_ms());
    if (rc < 0) co_return outcome::dropped;
    const std::uint64_t elapsed_us = monotonic_us() - started_us;
    c->results().latency_us.push_back(std::uint32_t(
        std::min<std::uint64_t>(elapsed_us, std::numeric_limits<std::uint32_t>::max())));
    if (r.code / 100 == 2 && ok) co_return outcome::accepted;
    if (r.code / 100 != 2) c->note(r);
    co_return co_await reset(c);
}

runtime::task<outcome> send_pipelined(connection* c, std::uint64_t message) {
    const unsigned recipients = c->shard->options().recipients;
    append_mail(c);
    for (unsigned k = 0; k < recipients; ++k) append_rcpt(c, message, k);
    c->commands += "DATA\r\n";
    const std::uint64_t started_us = monotonic_us();
    int rc = co_await smtp_client::send(&c->client, c->commands, c->timeout_ms());
    c->commands.clear();
    if (rc < 0) co_return outcome::dropped;
    bool ok = true;
    smtp::reply r;
    for (unsigned k = 0; k < recipients + 2; ++k) {  // MAIL, each RCPT, DATA
        rc = co_await smtp_client::read_reply(&c->client, &r, c->timeout_ms());
        if (rc < 0) co_return outcome::dropped;
        const bool data = k == recipients + 1;
        if (data ? r.code == 354 : r.code / 100 == 2) continue;
        c->note(r);
        ok = false;
    }
    if (r.code != 354) co_return co_await reset(c);
    co_return co_await send_content(c, started_us, ok);
}

runtime::task<outcome> send_lockstep(connection* c, std::uint64_t message) {
    const unsigned recipients = c->shard->options().recipients;
    smtp::reply r;
    append_mail(c);
    const std::uint64_t started_us = monotonic_us();
    if (co_await round_trip(c, &r) < 0) co_return outcome::dropped;
    if (r.code / 100 != 2) {
        c->note(r);
        co_return co_await reset(c);
    }
    unsigned taken = 0;
    for (unsigned k = 0; k < recipients; ++k) {
        append_rcpt(c, message, k);
        if (co_await round_trip(c, &r) < 0) co_return outcome::dropped;
        if (r.code / 100 == 2) {
            ++taken;
        } else {
            c->note(r);
        }
    }
    if (taken == 0) co_return co_await reset(c);
    c->commands = "DATA\r\n";
    if (co_await round_trip(c, &r) < 0) co_return outcome::dropped;
    if (r.code != 354) {
        c->note(r);
        co_return co_await reset(c);
    }
    co_return co_await send_content(c, started_us, taken == recipients);
}

// Sends messages until none is left. False when the connection dropped.
runtime::task<bool> send_messages(connection* c) {
    std::uint64_t message = 0;
    while (c->shard->take_message(message)) {
        c->failure_noted = false;
        c->body.clear();
        c->body_bytes = c->shard->builder().append_stuffed(c->body, message);
        outcome o = c->pipelining ? co_await send_pipelined(c, message)
                                  : co_await send_lockstep(c, message);
        if (o == outcome::accepted) {
            ++c->results().accepted;
            if (!c->shard->options().accepted_log.empty()) {
                c->results().accepted_messages.push_back(message);
            }
            continue;
        }
        ++c->results().failed;
        if (o == outcome::dropped) {
            if (!c->failure_noted) c->results().note_failure("connection lost");
            co_return false;
        }
    }
    c->commands = "QUIT\r\n";
    smtp::reply r;
    co_await round_trip(c, &r);
    co_return true;
}

}  // namespace

runtime::task<void> run_connection(blast_shard* shard) {
    connection c{shard};
    for (unsigned attempt = 0; shard->work_left(); ++attempt) {
        if (attempt > reconnects_max) {
            c.results().note_failure("a connection gave up after " +
                                     std::to_string(reconnects_max) + " reconnects");
            break;
        }
        if (attempt > 0) {
            io::sleep_for pause(reconnect_pause_ms);
            co_await pause;
        }
        std::string failure;
        int rc = co_await smtp_client::open(&c.client, shard->options().server,
                                            shard->op_timeout_ms(), &failure);
        if (attempt == 0) shard->arrive();
        if (rc < 0) {
            c.results().note_failure(failure);
            continue;
        }
        if (attempt == 0) co_await shard->start_line();
        c.pipelining = shard->options().pipelining && c.client.capabilities().pipelining;
        const bool finished = co_await send_messages(&c);
        c.client.close();
        if (finished) break;
    }
}

}  // namespace ringmta::blast
