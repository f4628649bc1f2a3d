// Operator control and metrics on one shard (see engine.h): the daemon's admin
// backend asks every shard and merges what they answer.
//
// Names: a pool is named by its budget's key, by its mail domain when it is
// routed by MX, or by its [routes] key. Suspension and retry act on whole
// pools. Bounce and delete act on recipients: a named pool's queued jobs all
// match a domain filter; other [routes] pools (a smarthost carrying many
// domains) and any sender filter need the message's envelope, read back (from
// the content cache, else the journal) job by job.
#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "budget_table.h"
#include "pool.h"
#include "ringmta/runtime/log.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/smtp/command.h"

namespace ringmta::delivery {

namespace {

bool same_text(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// How long a bounce or delete pass waits for a compaction pass to end.
constexpr int compaction_waits_max = 3000;   // 10 ms each
constexpr std::uint64_t compaction_wait_step_ms = 10;

}  // namespace

bool engine::named(const pool& p, std::string_view name) const {
    if (p.budget != nullptr && p.budget->key == name) return true;
    if (p.route == nullptr) return p.key == name;
    return p.route->domain == name && p.budget == nullptr;
}

std::vector<engine::destination_report> engine::report_destinations() const {
    std::vector<destination_report> out;
    std::unordered_map<std::string_view, std::size_t> at;
    std::uint64_t now_unix_ms = runtime::unix_ms();
    for (const auto& [key, p] : _pools) {
        auto [it, fresh] = at.emplace(p->label, out.size());
        if (fresh) {
            out.emplace_back();
            out.back().summary.domain = p->label;
        }
        destination_report& r = out[it->second];
        observe::domain_summary& d = r.summary;
        if (p->dest != nullptr) {
            std::uint64_t ready = p->dest->ready_recipients;
            d.queued += p->dest->queued_recipients;
            d.deferred += p->dest->queued_recipients - std::min(ready, p->dest->queued_recipients);
        }
        d.in_flight += p->in_flight;
        d.connections += p->connections;
        if (p->budget == nullptr) {
            // This shard's share of delivery.max_connections: the shares add up.
            d.connections_max += p->connections_max;
            d.connections_allowed += p->connections_max;
        }
        if (p->suspended(now_unix_ms)) {
            d.suspended = true;
            if (p->suspended_until_unix_ms != pool::suspended_forever) {
                d.suspended_until_unix_ms = std::max(d.suspended_until_unix_ms,
                                                     p->suspended_until_unix_ms);
            }
        }
        if (p->last_error_unix_ms > r.last_error_unix_ms) {
            r.last_error_unix_ms = p->last_error_unix_ms;
            d.last_error = p->last_error;
        }
    }
    _budgets->report_owned(out);
    return out;
}

observe::metrics_snapshot engine::snapshot_metrics() {
    // Gauges of one label may be shared by several pools: zero, then add.
    std::uint64_t now_unix_ms = runtime::unix_ms();
    for (auto& [key, p] : _pools) {
        p->queued_gauge->set(0);
        p->in_flight_gauge->set(0);
        p->connections_gauge->set(0);
        if (p->suspended_gauge != nullptr) p->suspended_gauge->set(0);
    }
    for (auto& [key, p] : _pools) {
        if (p->dest != nullptr) p->queued_gauge->add(static_cast<double>(p->dest->queued_recipients));
        p->in_flight_gauge->add(static_cast<double>(p->in_flight));
        p->connections_gauge->add(p->connections);
        if (p->suspended_gauge != nullptr && p->suspended(now_unix_ms)) p->suspended_gauge->set(1);
    }
    _budgets->refresh_owner_gauges();
    return _registry.snapshot();
}

std::uint64_t engine::suspend(const std::string& name, std::uint64_t until_unix_ms) {
    std::uint64_t until = until_unix_ms == 0 ? pool::suspended_forever : until_unix_ms;
    std::uint64_t now_unix_ms = runtime::unix_ms();
    std::erase_if(_suspensions, [now_unix_ms](const auto& s) { return s.second <= now_unix_ms; });
    _suspensions[name] = until;
    std::uint64_t recipients = 0;
    for (auto& [key, p] : _pools) {
        if (!named(*p, name)) continue;
        p->suspended_until_unix_ms = until;
        recipients += p->in_flight + (p->dest != nullptr ? p->dest->queued_recipients : 0);
        // Idle connections quit now; busy ones finish their transaction and
        // take no other (take_job).
        for (connection* c : p->idle) {
            c->quit = true;
            c->work.notify();
        }
    }
    if (_shard == 0) {
        log_info("delivery to %s suspended by the operator %s", name.c_str(),
                 until_unix_ms == 0 ? "until resumed" : "for a time");
    }
    _wake.notify();
    return recipients;
}

std::size_t engine::resume(const std::string& name) {
    std::size_t n = _suspensions.erase(name);
    std::uint64_t now_unix_ms = runtime::unix_ms();
    for (auto& [key, p] : _pools) {
        if (!named(*p, name) || !p->suspended(now_unix_ms)) continue;
        p->suspended_until_unix_ms = 0;
        ++n;
    }
    if (_budgets->resume_owned(name)) ++n;
    if (n > 0 && _shard == 0) log_info("delivery to %s resumed by the operator", name.c_str());
    _wake.notify();
    return n;
}

std::int64_t engine::retry_now(const std::string& name) {
    std::unordered_map<const queue::destination*, pool*> chosen;
    for (auto& [key, p] : _pools) {
        if (!named(*p, name)) continue;
        p->dead_until_ms = 0;
        if (p->dest != nullptr) chosen.emplace(p->dest, p.get());
    }
    if (chosen.empty()) return -1;
    std::vector<queue::scheduler::queued_job> due = _scheduler.extract(
        [&](const queue::destination& d) { return chosen.contains(&d); }, false, true);
    std::int64_t recipients = 0;
    for (queue::scheduler::queued_job& q : due) {
        recipients += static_cast<std::int64_t>(q.j.recipients.size());
        _scheduler.enqueue(q.dest->key, q.j.msg, q.j.recipients.span(), q.j.attempts);
    }
    _wake.notify();
    return recipients;
}

runtime::task<observe::admin_result> engine::drop(observe::message_filter filter, bool bounce) {
    // A compaction pass moves messages it finds in the queue; the jobs this
    // pass takes out would not be among them. So one waits for the other (and
    // the dispatcher, stopping, for both).
    ++_admin_passes;
    for (int n = 0; _compacting && n < compaction_waits_max; ++n) {
        runtime::io::sleep_for pause(compaction_wait_step_ms);
        co_await pause;
    }
    if (_compacting) {
        --_admin_passes;
        _wake.notify();
        co_return observe::admin_result{409, 0, "journal compaction is running"};
    }
    const bool by_domain = !filter.domain.empty();
    // Pools whose every recipient matches (a domain filter naming the pool), and
    // pools whose jobs must be looked at one by one.
    std::unordered_map<const queue::destination*, pool*> whole, mixed;
    for (auto& [key, p] : _pools) {
        if (p->dest == nullptr) continue;
        if (by_domain && named(*p, filter.domain)) {
            whole.emplace(p->dest, p.get());
        } else if (!by_domain || p->route != nullptr) {
            mixed.emplace(p->dest, p.get());
        }
    }
    std::vector<queue::scheduler::queued_job> taken = _scheduler.extract(
        [&](const queue::destination& d) { return whole.contains(&d) || mixed.contains(&d); },
        true, true);
    const smtp::reply why{0, "5.0.0", {bounce ? "bounced by the operator"
                                              : "deleted by the operator"}};
    std::uint64_t affected = 0, unreadable = 0;
    for (queue::scheduler::queued_job& q : taken) {
        pool* p = whole.contains(q.dest) ? whole[q.dest] : mixed[q.dest];
        // Bounces need the envelope (for the DSN) and so do the accounting
        // lines: a job whose record cannot be read goes back as it was.
        queue::content_ptr c = co_await load(q.j.msg);
        std::vector<std::uint32_t> matched, kept;
        for (std::uint32_t r : q.j.recipients) {
            bool match = c != nullptr &&
                         (whole.contains(q.dest) ||
                          (by_domain ? same_text(smtp::domain_of(c->recipients[r]), filter.domain)
                                     : same_text(c->sender, filter.sender)));
            (match ? matched : kept).push_back(r);
        }
        if (c == nullptr) ++unreadable;
        if (!kept.empty()) _scheduler.enqueue(q.dest->key, q.j.msg, kept, q.j.attempts, q.due_ms);
        if (matched.empty()) continue;
        queue::job j;
        j.msg = q.j.msg;
        j.recipients = matched;
        j.attempts = q.j.attempts;
        outcome_context where{{}, {}, runtime::unix_ms()};
        where.from = p;
        where.in_flight = false;
        if (bounce) {
            std::vector<final_result> results;
            for (std::uint32_t r : matched) results.push_back({r, why});
            conclude(j, c.get(), results, where);
        } else {
            for (std::uint32_t r : matched) {
                finish(j, c.get(), r, journal::outcome_status::failed, why, where);
            }
        }
        affected += matched.size();
    }
    --_admin_passes;
    _wake.notify();
    std::string what = by_domain ? "domain " + filter.domain : "sender " + filter.sender;
    if (affected > 0) {
        log_info("shard %u: %llu queued recipient(s) of %s %s by the operator", _shard,
                 (unsigned long long)affected, what.c_str(), bounce ? "bounced" : "deleted");
    }
    if (unreadable > 0) {
        log_error("shard %u: %llu queued job(s) kept: their message records could not be read "
                  "to match them against %s", _shard, (unsigned long long)unreadable,
                  what.c_str());
    }
    co_return observe::admin_result{200, affected, {}};
}

}  // namespace ringmta::delivery
