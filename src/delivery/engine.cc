// Delivery engine (see engine.h): routing, the dispatcher, and outcome handling.
#include "ringmta/delivery/engine.h"

#include <algorithm>

#include "pool.h"
#include "ringmta/delivery/dsn.h"
#include "ringmta/runtime/log.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/smtp/command.h"

namespace ringmta::delivery {

namespace {

queue::retry_policy policy_of(const config::delivery_config& d) {
    queue::retry_policy p;
    p.retry_min_ms = static_cast<std::uint64_t>(d.retry_min.count());
    p.retry_max_ms = static_cast<std::uint64_t>(d.retry_max.count());
    p.max_age_ms = static_cast<std::uint64_t>(d.max_age.count());
    return p;
}

// While every next hop of a destination refuses connections, new ones wait this long.
constexpr std::uint64_t dead_destination_pause_ms = 1000;
constexpr std::uint64_t idle_sweep_ms = 250;

}  // namespace

engine::engine(const config::config& cfg, journal::journal& log, journal::id_generator& ids,
               observe::accounting_log* accounting, unsigned shard, unsigned shards)
    : _cfg(cfg), _log(log), _ids(ids), _accounting(accounting), _shard(shard),
      _shards(shards), _scheduler(policy_of(cfg.delivery),
                                  cfg.delivery.max_recipients_per_transaction) {}

engine::~engine() = default;

engine::pool& engine::pool_for(const config::route& route) {
    auto it = _pools.find(route.domain);
    if (it != _pools.end()) return *it->second;
    auto p = std::make_unique<pool>();
    p->key = route.domain;
    p->route = &route;
    unsigned limit = _cfg.delivery.max_connections;
    p->connections_max = std::max(1u, limit / _shards + (_shard < limit % _shards ? 1u : 0u));
    pool& ref = *p;
    _pools.emplace(ref.key, std::move(p));
    return ref;
}

void engine::submit(const queue::message_ptr& m, const std::vector<std::uint32_t>& recipients,
                    std::uint32_t attempts, std::uint64_t not_before_unix_ms) {
    std::uint64_t now_unix_ms = runtime::unix_ms();
    std::uint64_t due_ms = not_before_unix_ms > now_unix_ms
                               ? runtime::monotonic_ms() + (not_before_unix_ms - now_unix_ms)
                               : 0;
    // Group by destination so one transaction carries all recipients sharing a route.
    std::unordered_map<const config::route*, std::vector<std::uint32_t>> by_route;
    for (std::uint32_t index : recipients) {
        std::string_view domain = smtp::domain_of(m->recipients[index]);
        const config::route* route = _cfg.find_route(domain);
        if (route == nullptr) {
            smtp::reply r{550, "5.4.4", {"Unable to route: no route for this domain"}};
            queue::job j;
            j.msg = m;
            j.attempts = attempts + 1;
            finish(j, index, journal::outcome_status::failed, r, outcome_context{"", now_unix_ms});
            continue;
        }
        by_route[route].push_back(index);
    }
    for (auto& [route, indexes] : by_route) {
        pool& p = pool_for(*route);
        _scheduler.enqueue(p.key, m, indexes, attempts, due_ms);
        p.dest = _scheduler.find(p.key);
    }
    _wake.notify();
}

bool engine::take_job(pool& p, queue::job& out) {
    return p.dest != nullptr && _scheduler.take(*p.dest, out);
}

void engine::start_connections(pool& p) {
    if (p.dest == nullptr || p.dest->ready.empty() || _stopping) return;
    // Idle connections first: they are already open, and take a job when they resume.
    std::size_t woken = 0;
    while (!p.idle.empty() && woken < p.dest->ready.size()) {
        connection* c = p.idle.back();
        p.idle.pop_back();
        c->work.notify();
        ++woken;
    }
    if (p.dead_until_ms > runtime::monotonic_ms()) return;
    // A new connection takes its first job before spawn() returns (tasks start
    // eagerly), so the ready queue shrinks by one per connection started.
    while (p.dest->ready.size() > woken && p.connections < p.connections_max) {
        ++p.connections;
        ++p.starting;
        ++_stats.connections;
        runtime::spawn(run_connection(this, &p));
    }
}

runtime::task<void> engine::run() {
    while (!_stopping) {
        std::uint64_t now = runtime::monotonic_ms();
        _scheduler.promote_due(now);
        _scheduler.take_activated();
        std::uint64_t next = _scheduler.next_due_ms();
        for (auto& [key, p] : _pools) {
            start_connections(*p);
            // Idle connections past their time quit; dead destinations are retried.
            for (connection* c : p->idle) {
                auto idle_ms = static_cast<std::uint64_t>(_cfg.delivery.connection_idle_timeout.count());
                if (now - c->idle_since_ms >= idle_ms) {
                    c->quit = true;
                    c->work.notify();
                }
            }
            bool waiting = p->dead_until_ms > now && p->dest && !p->dest->ready.empty();
            if (!p->idle.empty() || waiting) {
                std::uint64_t tick = now + (waiting ? p->dead_until_ms - now : idle_sweep_ms);
                next = next == 0 ? tick : std::min(next, tick);
            }
        }
        if (next != 0) _timer.arm_at(next);
        co_await _wake.wait();
    }
    for (auto& [key, p] : _pools) {
        for (connection* c : p->idle) {
            c->quit = true;
            c->work.notify();
        }
        p->idle.clear();
    }
}

void engine::stop() {
    _stopping = true;
    _timer.disarm();
    _wake.notify();
}

std::size_t engine::connections() const {
    std::size_t n = 0;
    for (const auto& [key, p] : _pools) n += p->connections;
    return n;
}

}  // namespace ringmta::delivery
