// Delivery engine (see engine.h): routing, the dispatcher, and outcome handling.
#include "ringmta/delivery/engine.h"

#include <algorithm>
#include <cstring>

#include "budget_table.h"
#include "pool.h"
#include "ringmta/delivery/dsn.h"
#include "ringmta/runtime/log.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/smtp/command.h"
#include "ringmta/tls/session.h"

namespace ringmta::delivery {

namespace {

queue::retry_policy policy_of(const config::delivery_config& d) {
    queue::retry_policy p;
    p.retry_min_ms = static_cast<std::uint64_t>(d.retry_min.count());
    p.retry_max_ms = static_cast<std::uint64_t>(d.retry_max.count());
    p.max_age_ms = static_cast<std::uint64_t>(d.max_age.count());
    return p;
}

constexpr std::uint64_t idle_sweep_ms = 250;
// The dead-destination cache is swept of expired entries when it grows past this.
constexpr std::size_t down_hosts_sweep_at = 4096;

dns::resolver_options resolver_options_of(const config::config& cfg) {
    dns::resolver_options o;
    for (const config::endpoint& e : cfg.dns.resolvers) {
        runtime::socket_address a;
        std::memcpy(&a.storage, &e.address, sizeof e.address);
        a.length = e.address_len;
        o.servers.push_back(a);
    }
    o.attempt_timeout_ms = static_cast<std::uint64_t>(cfg.dns.timeout.count());
    o.rounds = cfg.dns.attempts;
    o.cache_entries_max = cfg.dns.cache_entries;
    return o;
}

// Pools are keyed by route key or by domain; a domain cannot collide with a
// route key because route pools carry this prefix.
constexpr std::string_view route_pool_prefix = "route:";

// Jobs are cut at the largest max_recipients_per_message any destination
// takes; each pool then takes at most its own per transaction (scheduler::take).
std::size_t recipients_per_job_of(const config::config& cfg) {
    std::size_t n = cfg.delivery.max_recipients_per_transaction;
    for (const config::domain_policy& d : cfg.domains) {
        n = std::max<std::size_t>(n, d.limits.max_recipients_per_message);
    }
    for (const config::group_policy& g : cfg.groups) {
        n = std::max<std::size_t>(n, g.limits.max_recipients_per_message);
    }
    return n;
}

// RCPTs per transaction for mail to `domain`: its budget's (a group's limits
// replace the domain's), else its [domains] entry's, else the [delivery] default.
unsigned recipients_max_of(const config::config& cfg, std::string_view domain,
                           const budget* b) {
    if (b != nullptr) return b->scope.limits.max_recipients_per_message;
    return cfg.limits_for(cfg.policy_for(domain).limits).max_recipients_per_message;
}

}  // namespace

engine::engine(const config::config& cfg, journal::journal& log, journal::id_generator& ids,
               observe::accounting_log* accounting, unsigned shard, unsigned shards)
    : _cfg(cfg), _log(log), _ids(ids), _accounting(accounting), _shard(shard),
      _shards(shards), _scheduler(policy_of(cfg.delivery), recipients_per_job_of(cfg)),
      _cache(cfg.journal.cache_size / std::max(1u, shards)),
      _resolver(std::make_unique<dns::resolver>(resolver_options_of(cfg))),
      _ehlo_name(cfg.delivery.ehlo_name.empty() ? cfg.server.hostname : cfg.delivery.ehlo_name),
      _budgets(std::make_unique<budget_table>(cfg, _wake, shard, shards)) {
    _delivery_seconds = &_metrics.delivery_seconds.histogram_for({});
    _budgets->set_metrics(&_metrics);
}

engine::~engine() = default;

void engine::attach_budget_mesh(budget_mesh* mesh) { _budgets->attach(mesh); }

void engine::receive_budget_messages() { _budgets->receive(); }

engine::pool& engine::add_pool(std::string key, const config::route* route,
                               std::string_view domain, budget* b) {
    auto p = std::make_unique<pool>();
    p->key = std::move(key);
    p->route = route;
    p->tls = _cfg.policy_for(domain).tls;
    p->budget = b;
    if (b != nullptr) {
        // The budget's slots are the limit; this bound only keeps a share sane.
        p->connections_max = b->scope.limits.max_connections;
    } else {
        unsigned limit = _cfg.delivery.max_connections;
        p->connections_max = std::max(1u, limit / _shards + (_shard < limit % _shards ? 1u : 0u));
    }
    // A [routes] pool goes by its route's key ("smarthost.example", "*").
    p->label = b != nullptr ? b->key : route != nullptr ? route->domain : p->key;
    p->delivered = &_metrics.delivered.counter_for({p->label});
    p->deferred = &_metrics.deferred.counter_for({p->label});
    p->bounced = &_metrics.bounced.counter_for({p->label});
    p->connections_opened = &_metrics.connections_opened.counter_for({p->label});
    p->queued_gauge = &_metrics.queued.gauge_for({p->label});
    p->in_flight_gauge = &_metrics.in_flight.gauge_for({p->label});
    p->connections_gauge = &_metrics.connections.gauge_for({p->label});
    if (queue::owner_shard(p->label, _shards) == _shard) {
        p->suspended_gauge = &_metrics.suspended.gauge_for({p->label});
    }
    _budgets->join(*p);
    pool& ref = *p;
    _pools.emplace(ref.key, std::move(p));
    // A suspension the operator made before the pool existed applies to it.
    std::uint64_t now_unix_ms = runtime::unix_ms();
    for (const auto& [name, until] : _suspensions) {
        if (until > now_unix_ms && named(ref, name)) {
            ref.suspended_until_unix_ms = std::max(ref.suspended_until_unix_ms, until);
        }
    }
    return ref;
}

engine::pool& engine::pool_for(const config::route& route, std::string_view domain) {
    std::string key = std::string(route_pool_prefix) + route.domain;
    // Mail for a domain with a budget of its own gets a pool of its own on the
    // route ("route:*|limited.example"), so a pool draws on one destination
    // budget at most (and on source budgets: budget_table::join).
    budget* b = _budgets->budget_for(domain);
    unsigned recipients_max = recipients_max_of(_cfg, domain, b);
    if (b != nullptr && b->key != route.domain) {
        key += "|" + b->key;
    } else if (b == nullptr && recipients_max != recipients_max_of(_cfg, route.domain, nullptr)) {
        key += "|" + _cfg.policy_for(domain).domain;   // a [domains] entry's own limit
    }
    auto it = _pools.find(key);
    if (it != _pools.end()) return *it->second;
    // A static route's TLS policy is that of its key ("*" and ".parent" included).
    pool& p = add_pool(std::move(key), &route, route.domain, b);
    p.recipients_max = recipients_max;
    return p;
}

engine::pool& engine::pool_for_domain(std::string_view domain) {
    std::string key(domain);
    for (char& ch : key) ch = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
    if (!key.empty() && key.back() == '.') key.pop_back();
    auto it = _pools.find(key);
    if (it != _pools.end()) return *it->second;
    std::string name = key;
    pool& p = add_pool(std::move(key), nullptr, name, _budgets->budget_for(name));
    p.recipients_max = recipients_max_of(_cfg, name, p.budget);
    return p;
}

tls::context* engine::client_tls(config::tls_policy policy) {
    if (policy == config::tls_policy::none) return nullptr;
    bool verify = policy == config::tls_policy::verify;
    std::unique_ptr<tls::context>& slot = verify ? _tls_verify : _tls_any;
    if (!slot) {
        tls::context_options o;
        o.side = tls::role::client;
        o.verify = verify ? tls::verify_mode::chain_and_name : tls::verify_mode::none;
        if (verify) o.ca_file = _cfg.delivery.tls_ca_file;
        std::string error;
        slot = tls::context::create(o, error);
        if (!slot) log_error("delivery: no outbound TLS (%s): %s", verify ? "verify" : "any",
                             error.c_str());
    }
    return slot.get();
}

bool engine::host_down(const std::string& address, std::uint64_t now_ms) const {
    auto it = _down_until.find(address);
    return it != _down_until.end() && it->second > now_ms;
}

void engine::mark_down(const std::string& address, std::uint64_t now_ms) {
    auto down_ms = static_cast<std::uint64_t>(_cfg.delivery.host_down_time.count());
    if (down_ms == 0) return;
    if (_down_until.size() >= down_hosts_sweep_at) {
        std::erase_if(_down_until, [now_ms](const auto& entry) { return entry.second <= now_ms; });
    }
    _down_until[address] = now_ms + down_ms;
}

// Recipients without a domain cannot be routed; their content may have to be
// read back first (a recovered message), so they are concluded here.
runtime::task<void> conclude_unroutable(engine* e, queue::job j,
                                        std::vector<engine::final_result> results) {
    queue::content_ptr c = co_await e->load(j.msg);
    engine::outcome_context where{{}, {}, runtime::unix_ms()};
    e->conclude(j, c.get(), results, where);
}

// A generated message (a DSN) is queued once its record is durable: until then
// it could not be read back from the journal.
runtime::task<void> submit_when_durable(engine* e, queue::message_ptr m, queue::content_ptr c,
                                        std::uint64_t ticket) {
    int rc = co_await e->_log.durable(ticket);
    if (rc != 0) co_return;  // the journal failed: recovery requeues it on restart
    e->_cache.insert(m->id, c);
    std::vector<std::uint32_t> all(c->recipients.size());
    for (std::uint32_t i = 0; i < all.size(); ++i) all[i] = i;
    e->submit(m, c->recipients, all, 0);
}

void engine::accept(const queue::message_ptr& m, queue::content_ptr c) {
    _cache.insert(m->id, c);
    std::vector<std::uint32_t> all(c->recipients.size());
    for (std::uint32_t i = 0; i < all.size(); ++i) all[i] = i;
    submit(m, c->recipients, all, 0);
}

runtime::task<queue::content_ptr> engine::load(queue::message_ptr m) {
    if (queue::content_ptr cached = _cache.find(m->id)) co_return cached;
    journal::message_record record;
    journal::record_location at{m->segment_sequence, m->record_offset, m->record_bytes};
    int rc = co_await _log.read_message(at, m->id, &record);
    if (rc < 0) {
        ++_stats.unreadable;
        log_error("delivery: cannot read %s back from the journal (segment %llu offset %llu): "
                  "%s; its recipients are retried", journal::format_queue_id(m->id).c_str(),
                  (unsigned long long)m->segment_sequence, (unsigned long long)m->record_offset,
                  std::strerror(-rc));
        co_return nullptr;
    }
    ++_stats.reads;
    auto c = std::make_shared<queue::content>();
    c->sender = std::move(record.sender);
    c->body = std::move(record.body);
    c->envid = std::move(record.envid);
    c->ret = record.ret;
    c->recipients.reserve(record.recipients.size());
    for (std::size_t i = 0; i < record.recipients.size(); ++i) {
        journal::recipient_entry& e = record.recipients[i];
        c->recipients.push_back(std::move(e.address));
        if (e.notify != 0 && c->notify.empty()) c->notify.resize(record.recipients.size());
        if (!e.orcpt.empty() && c->orcpt.empty()) c->orcpt.resize(record.recipients.size());
        if (!c->notify.empty()) c->notify[i] = e.notify;
        if (!c->orcpt.empty()) c->orcpt[i] = std::move(e.orcpt);
    }
    // A message finished while this read was under way is not cached again.
    if (m->unfinished > 0) _cache.insert(m->id, c);
    co_return c;
}

void engine::submit(const queue::message_ptr& m, std::span<const std::string> addresses,
                    std::span<const std::uint32_t> recipients, std::uint32_t attempts,
                    std::uint64_t not_before_unix_ms) {
    std::uint64_t now_unix_ms = runtime::unix_ms();
    std::uint64_t due_ms = not_before_unix_ms > now_unix_ms
                               ? runtime::monotonic_ms() + (not_before_unix_ms - now_unix_ms)
                               : 0;
    // Group by destination so one transaction carries all recipients sharing a route.
    // Nearly every message has one destination: no map for that case.
    pool* first = nullptr;
    std::vector<std::uint32_t> first_indexes;
    std::unordered_map<pool*, std::vector<std::uint32_t>> others;
    std::vector<final_result> unroutable;
    for (std::uint32_t index : recipients) {
        std::string_view domain = smtp::domain_of(addresses[index]);
        pool* p = nullptr;
        if (const config::route* route = _cfg.find_route(domain)) {
            p = &pool_for(*route, domain);
        } else if (!domain.empty()) {
            p = &pool_for_domain(domain);
        } else {
            unroutable.push_back(
                {index, smtp::reply{550, "5.1.3", {"Unable to route: the address has no domain"}}});
            continue;
        }
        if (first == nullptr || first == p) {
            first = p;
            first_indexes.push_back(index);
        } else {
            others[p].push_back(index);
        }
    }
    if (!unroutable.empty()) {
        queue::job j;
        j.msg = m;
        std::vector<std::uint32_t> indexes;
        for (const final_result& f : unroutable) indexes.push_back(f.recipient);
        j.recipients = indexes;
        j.attempts = attempts + 1;
        runtime::spawn(conclude_unroutable(this, std::move(j), std::move(unroutable)));
    }
    if (first != nullptr) {
        _scheduler.enqueue(first->key, m, first_indexes, attempts, due_ms);
        first->dest = _scheduler.find(first->key);
    }
    for (auto& [p, indexes] : others) {
        _scheduler.enqueue(p->key, m, indexes, attempts, due_ms);
        p->dest = _scheduler.find(p->key);
    }
    _wake.notify();
}

bool engine::take_job(pool& p, queue::job& out) {
    if (p.dest == nullptr || (p.suspended_until_unix_ms != 0 && p.suspended(runtime::unix_ms()))) {
        return false;
    }
    if (!_scheduler.take(*p.dest, out, p.recipients_max)) return false;
    p.in_flight += out.recipients.size();
    return true;
}

void engine::count_settled(pool& p, std::size_t recipients) {
    p.in_flight -= std::min<std::uint64_t>(p.in_flight, recipients);
}

void engine::requeue(pool& p, queue::job j) {
    count_settled(p, j.recipients.size());
    _scheduler.enqueue(p.key, j.msg, j.recipients.span(), j.attempts);
    _wake.notify();
}

void engine::start_connections(pool& p) {
    if (p.dest == nullptr || p.dest->ready.empty() || _stopping) return;
    if (p.suspended_until_unix_ms != 0 && p.suspended(runtime::unix_ms())) return;
    if (!group_decided(this, &p)) return;   // a group by MX: not before the lookup
    if (_budgets->daily_spent(p)) {
        hold_until_tomorrow(p);   // a budget's daily cap is spent
        return;
    }
    // Idle connections first: they are already open, and take a job (or a batch
    // of them, connection::takes) when they resume.
    std::size_t woken = 0;
    while (!p.idle.empty() && woken < p.dest->ready.size()) {
        connection* c = p.idle.back();
        p.idle.pop_back();
        c->work.notify();
        woken += c->takes;
    }
    if (p.dead_until_ms > runtime::monotonic_ms()) return;
    // A new connection takes its first job before spawn() returns (tasks start
    // eagerly), so the ready queue shrinks by one per connection started.
    while (p.dest->ready.size() > woken && p.connections < p.connections_max) {
        // A budgeted pool needs a slot of each budget (none: wait for a grant).
        if (!_budgets->try_acquire_slots(p, runtime::monotonic_ms())) break;
        ++p.connections;
        ++p.starting;
        ++_stats.connections;
        p.connections_opened->inc();
        runtime::spawn(run_connection(this, &p));
    }
}

runtime::task<void> engine::run() {
    if (std::string error = _resolver->start(); !error.empty()) {
        log_error("delivery: DNS resolver: %s (mail routed by MX will be deferred)",
                  error.c_str());
    }
    while (!_stopping) {
        std::uint64_t now = runtime::monotonic_ms();
        _scheduler.promote_due(now);
        _scheduler.take_activated();
        std::uint64_t next = _scheduler.next_due_ms();
        if (std::uint64_t tick = _budgets->pump(now); tick != 0) {
            next = next == 0 ? tick : std::min(next, tick);
        }
        std::uint64_t now_unix_ms = runtime::unix_ms();
        for (auto& [key, p] : _pools) {
            if (p->suspended_until_unix_ms != 0) {
                if (!p->suspended(now_unix_ms)) {
                    p->suspended_until_unix_ms = 0;
                    log_info("delivery to %s resumed: its suspension ended", p->key.c_str());
                } else if (p->suspended_until_unix_ms != pool::suspended_forever) {
                    std::uint64_t tick = now + (p->suspended_until_unix_ms - now_unix_ms);
                    next = next == 0 ? tick : std::min(next, tick);
                }
            }
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
        maybe_compact();
        if (_compaction_retry_at_ms > now) {
            next = next == 0 ? _compaction_retry_at_ms : std::min(next, _compaction_retry_at_ms);
        }
        if (next != 0) _timer.arm_at(next);
        co_await _wake.wait();
    }
    // A compaction or an operator's bounce pass notifies when it ends.
    while (_compacting || _admin_passes > 0) co_await _wake.wait();
    for (auto& [key, p] : _pools) {
        for (connection* c : p->idle) {
            c->quit = true;
            c->work.notify();
        }
        p->idle.clear();
    }
    co_await _resolver->stop();
    _finished = true;
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
