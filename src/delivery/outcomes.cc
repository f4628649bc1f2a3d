// Per-recipient results (see engine.h): journal outcome records, retries with
// backoff, expiry, DSNs, and accounting lines.
//
// Ordering rule: a DSN's message record is appended before the outcome record
// that retires the bounced recipient, so no crash can leave the recipient
// finished without its bounce (the journal writes records in append order).
#include <algorithm>
#include <string>
#include <vector>

#include "pool.h"
#include "ringmta/delivery/dsn.h"
#include "ringmta/delivery/engine.h"
#include "ringmta/queue/throttle.h"
#include "ringmta/runtime/assert.h"
#include "ringmta/runtime/log.h"
#include "ringmta/smtp/command.h"
#include "ringmta/smtp/dsn_params.h"

namespace ringmta::delivery {

namespace {

observe::outcome accounting_status(journal::outcome_status s) {
    switch (s) {
    case journal::outcome_status::delivered: return observe::outcome::delivered;
    case journal::outcome_status::failed: return observe::outcome::failed;
    case journal::outcome_status::expired: return observe::outcome::expired;
    case journal::outcome_status::finished: break;   // compaction's re-append only
    }
    RINGMTA_ASSERT(false, "outcome status %u has no accounting", static_cast<unsigned>(s));
    return observe::outcome::failed;
}

std::string diagnostic_of(const smtp::reply& r) {
    if (r.code == 0) return "X-ringmta; " + r.text();
    std::string d = "smtp; " + std::to_string(r.code);
    if (!r.enhanced.empty()) d += " " + r.enhanced;
    return d + " " + r.text();
}

// A failure as the operator reads it in /queue: "421 4.7.0 Try again later".
std::string error_text(const smtp::reply& r) {
    std::string out;
    if (r.code != 0) out = std::to_string(r.code) + " ";
    if (!r.enhanced.empty()) out += r.enhanced + " ";
    return out + r.text();
}

}  // namespace

void engine::account(const queue::job& j, const queue::content& c, std::uint32_t recipient,
                     observe::outcome status, const smtp::reply& r,
                     const outcome_context& where) {
    if (_accounting == nullptr) return;
    const queue::message& m = *j.msg;
    std::string id = journal::format_queue_id(m.id);
    std::string text = r.text();
    observe::accounting_event e{};
    e.time_unix_ms = where.now_unix_ms;
    e.queue_id = id;
    e.sender = c.sender;
    e.recipient = c.recipients[recipient];
    e.domain = smtp::domain_of(c.recipients[recipient]);
    e.next_hop = where.exchanger;
    e.next_hop_ip = where.next_hop;
    e.tls_version = where.tls_version;
    e.tls_cipher = where.tls_cipher;
    e.attempt = std::max<std::uint32_t>(1, j.attempts);
    e.status = status;
    e.smtp_code = r.code;
    e.enhanced_code = r.enhanced;
    e.reply = text;
    e.size_bytes = c.body.size();
    e.queued_ms = where.now_unix_ms - std::min(where.now_unix_ms, m.arrival_unix_ms);
    _accounting->add(e);
}

void engine::finish(queue::job& j, const queue::content* c, std::uint32_t recipient,
                    journal::outcome_status status, const smtp::reply& r,
                    const outcome_context& where) {
    queue::message& m = *j.msg;
    std::uint64_t ticket = _log.append_outcome(
        journal::outcome_record{m.id, recipient, status, where.now_unix_ms});
    RINGMTA_ASSERT(m.unfinished > 0, "message %llx finished twice", (unsigned long long)m.id);
    if (--m.unfinished == 0) {
        _log.unpin_segment(m.segment_sequence, m.record_bytes, ticket);
        _cache.erase(m.id);
    }
    switch (status) {
    case journal::outcome_status::delivered: ++_stats.delivered; break;
    case journal::outcome_status::failed: ++_stats.failed; break;
    case journal::outcome_status::expired: ++_stats.expired; break;
    case journal::outcome_status::finished:   // compaction's re-append only
        RINGMTA_ASSERT(false, "a delivery outcome of status finished");
    }
    if (pool* p = where.from) {
        if (where.in_flight) count_settled(*p, 1);
        if (status == journal::outcome_status::delivered) {
            p->delivered->inc();
            std::uint64_t age_ms = where.now_unix_ms - std::min(where.now_unix_ms, m.arrival_unix_ms);
            _delivery_seconds->observe(static_cast<double>(age_ms) / 1000.0);
        } else {
            p->bounced->inc();
            p->last_error = error_text(r);
            p->last_error_unix_ms = where.now_unix_ms;
        }
    }
    if (c != nullptr) account(j, *c, recipient, accounting_status(status), r, where);
}

namespace {

struct report_item {
    std::uint32_t recipient;
    std::string enhanced;
    std::string diagnostic;
};

}  // namespace

// One report per message and action (RFC 3464 lets one DSN cover many recipients):
// "failed" for bounced and expired recipients that want it (NOTIFY), "relayed" for
// NOTIFY=SUCCESS delivered to a next hop without DSN (RFC 3461 4.1). The DSN's
// message record is appended here, before the outcomes that retire the recipients.
void engine::report(const queue::message_ptr& m, const queue::content& c,
                    std::string_view action, const std::vector<final_result>& results,
                    const outcome_context& where) {
    if (results.empty()) return;
    std::string id = journal::format_queue_id(m->id);
    if (c.sender.empty() || (m->flags & journal::message_flag_dsn)) {
        log_info("%s: no %s report (null sender)", id.c_str(), std::string(action).c_str());
        return;
    }
    std::vector<std::string> diagnostics, statuses;
    diagnostics.reserve(results.size());
    statuses.reserve(results.size());
    std::vector<dsn_recipient> entries;
    entries.reserve(results.size());
    for (const final_result& f : results) {
        diagnostics.push_back(diagnostic_of(f.reply));
        statuses.push_back(action == "relayed" ? "2.0.0"
                           : f.expired         ? "4.4.7"
                           : f.reply.enhanced.empty() ? "5.0.0" : f.reply.enhanced);
        dsn_recipient entry{c.recipients[f.recipient], action, statuses.back(),
                            where.exchanger, diagnostics.back(), where.now_unix_ms};
        if (!c.orcpt.empty()) entry.original_recipient = c.orcpt[f.recipient];
        entries.push_back(entry);
    }
    std::string hostname = _cfg.server.hostname;
    std::string postmaster = "MAILER-DAEMON@" + hostname;
    // Named, not a temporary: dsn_request holds string_views.
    std::string boundary_seed = id + std::to_string(where.now_unix_ms);
    dsn_request request{hostname, postmaster, c.sender, id, m->arrival_unix_ms,
                        where.now_unix_ms, c.body, c.ret == smtp::ret_full,
                        std::span(entries), boundary_seed};
    request.envid = c.envid;
    queue::message_ptr d = queue::make_message();
    d->id = _ids.next(where.now_unix_ms);
    d->arrival_unix_ms = where.now_unix_ms;
    d->flags = journal::message_flag_dsn;
    d->unfinished = 1;
    auto dc = std::make_shared<queue::content>();
    dc->recipients = {c.sender};
    dc->body = build_dsn(request);
    journal::message_view view{d->id, d->arrival_unix_ms, d->flags, "", hostname, "", "", 0,
                               dc->recipients, dc->body};
    journal::record_location at;
    std::uint64_t ticket = _log.append_message(view, &at);
    d->segment_sequence = at.segment_sequence;
    d->record_offset = at.offset;
    d->record_bytes = at.bytes;
    ++_stats.bounces;
    log_info("%s: %s report %s for %zu recipient(s) to <%s>", id.c_str(),
             std::string(action).c_str(), journal::format_queue_id(d->id).c_str(),
             results.size(), c.sender.c_str());
    runtime::spawn(submit_when_durable(this, std::move(d), std::move(dc), ticket));
}

void engine::conclude(queue::job& j, const queue::content* c,
                      const std::vector<final_result>& results, const outcome_context& where) {
    if (results.empty()) return;
    const queue::message_ptr& m = j.msg;
    std::vector<final_result> failed, relayed;
    for (const final_result& f : results) {
        if (c == nullptr) {
            log_error("%s: recipient %u finished without a report: the message record is "
                      "unreadable", journal::format_queue_id(m->id).c_str(), f.recipient);
            continue;
        }
        std::uint8_t notify = c->notify.empty() ? 0 : c->notify[f.recipient];
        bool delivered = f.reply.code >= 200 && f.reply.code < 300 && !f.expired;
        if (delivered) {
            if (!where.peer_dsn && (notify & smtp::notify_success) != 0) relayed.push_back(f);
        } else if (smtp::wants_failure_report(notify)) {
            failed.push_back(f);
        } else {
            log_info("%s: no DSN for <%s> (NOTIFY=%s)", journal::format_queue_id(m->id).c_str(),
                     c->recipients[f.recipient].c_str(), smtp::notify_text(notify).c_str());
        }
    }
    if (c != nullptr) {
        report(m, *c, "failed", failed, where);
        report(m, *c, "relayed", relayed, where);
    }
    for (const final_result& f : results) {
        journal::outcome_status status = f.expired ? journal::outcome_status::expired
                                         : f.reply.code >= 200 && f.reply.code < 300
                                             ? journal::outcome_status::delivered
                                             : journal::outcome_status::failed;
        finish(j, c, f.recipient, status, f.reply, where);
    }
}

void engine::settle(pool& p, queue::job& j, const queue::content* c,
                    std::vector<std::uint32_t>& deferred, const smtp::reply& last,
                    const outcome_context& where) {
    if (deferred.empty()) return;
    queue::job retry;
    retry.msg = j.msg;
    retry.recipients = deferred;
    retry.attempts = j.attempts;
    deferred.clear();
    defer_job(p, std::move(retry), c, last, where);
}

void engine::hold_until_tomorrow(pool& p) {
    std::uint64_t now_unix_ms = runtime::unix_ms();
    std::uint64_t due_ms = runtime::monotonic_ms() + queue::daily_cap::ms_until_reset(now_unix_ms);
    queue::job j;
    for (std::size_t n = p.dest->ready.size(); n > 0 && _scheduler.take(*p.dest, j); --n) {
        _scheduler.enqueue(p.key, j.msg, j.recipients.span(), j.attempts, due_ms);
    }
    _wake.notify();  // the dispatcher re-arms its timer for the new due time
}

void engine::defer_job(pool& p, queue::job j, const queue::content* c, const smtp::reply& r,
                       const outcome_context& where) {
    std::uint64_t now = runtime::monotonic_ms();
    queue::job view = j;
    p.last_error = error_text(r);
    p.last_error_unix_ms = where.now_unix_ms;
    if (!_scheduler.defer(p.key, std::move(j), now, where.now_unix_ms)) {
        // Expired: conclude settles them one by one (finish, through from).
        std::vector<final_result> results;
        for (std::uint32_t index : view.recipients) results.push_back({index, r, true});
        outcome_context from_pool = where;
        from_pool.from = &p;
        conclude(view, c, results, from_pool);
        return;
    }
    count_settled(p, view.recipients.size());
    p.deferred->inc(view.recipients.size());
    std::uint64_t next_unix_ms = where.now_unix_ms + _scheduler.backoff_ms(view.attempts);
    for (std::uint32_t index : view.recipients) {
        _log.append_attempt(
            journal::attempt_record{view.msg->id, index, view.attempts, next_unix_ms});
        ++_stats.deferred;
        if (c != nullptr) account(view, *c, index, observe::outcome::deferred, r, where);
    }
    _wake.notify();  // the dispatcher re-arms its timer for the new due time
}

}  // namespace ringmta::delivery
