// One shard's side of the per-destination budgets (see budget_table.h).
//
// Strategy, as src/queue/README.md "How the engine uses this" sets it out: each
// borrower reports its demand (connections it could use, messages ready) when it
// changes and every 100 ms while it has mail, and gives its whole share back
// once it has no mail and no connection; the owner feeds the outcomes that come
// with each demand to its controller, sets the budget to the controller's
// allowed values and rebalances at once and every 100 ms. A revoke closes the
// borrower's idle connections beyond its new share at once; busy ones close
// before their next transaction (transaction.cc), and the release goes out when
// the last of them has closed.
#include "budget_table.h"

#include <algorithm>
#include <variant>

#include "pool.h"
#include "ringmta/runtime/assert.h"
#include "ringmta/runtime/log.h"

namespace ringmta::delivery {

namespace {

// How often a borrower with mail repeats its demand, and an owner whose budget
// is lent out rebalances (and ends a suspension whose time has come).
constexpr std::uint64_t heartbeat_ms = 100;
// Messages to this shard itself handled in one pump (grants answer demands).
constexpr int local_messages_max = 100000;
// A full ring's backlog per shard: far beyond what a few budgets produce.
constexpr std::size_t outbox_max = 1 << 16;

const std::vector<std::string> no_patterns;

// A source budget without max_connections: no limit but this.
constexpr unsigned source_slots_unlimited = 1u << 20;
constexpr std::string_view source_tag = "source:";

// The outbound source address's canonical text, or "" (the kernel's choice:
// source budgets do not apply).
std::string_view source_address(const config::config& cfg) {
    const config::endpoint& e = cfg.delivery.source_address;
    return e.address_len != 0 ? std::string_view(e.text) : std::string_view();
}

// A destination draws on a budget of its own when its [domains] entry sets a
// connection limit, a message or connection rate or a daily cap, or limits for
// mail from the source address, or a group lists it.
bool limited(const config::config& cfg, std::string_view domain) {
    if (cfg.group_for(domain) != nullptr) return true;
    const config::domain_policy& policy = cfg.policy_for(domain);
    const config::throttle_limits& l = policy.limits;
    std::string_view source = source_address(cfg);
    return l.max_connections != 0 || !l.message_rate.unlimited() ||
           !l.connection_rate.unlimited() || l.max_deliveries_per_day != 0 ||
           (!source.empty() && config::find_source(policy.sources, source) != nullptr);
}

// A source budget's scope: the table's limits as they are (0: no limit), no
// backoff (replies speak of the destination, whose budget has it).
config::throttle_scope source_scope(std::string key, const config::source_limits* s) {
    config::throttle_scope scope;
    scope.key = std::move(key);
    if (s != nullptr) scope.limits = s->limits;
    if (scope.limits.max_connections == 0) scope.limits.max_connections = source_slots_unlimited;
    return scope;
}

// The scope of a budget key, on an owner that may have no mail for it:
// "gmail.com", "group:google", "source:192.0.2.1", "gmail.com|source:192.0.2.1".
config::throttle_scope scope_for_key(const config::config& cfg, const std::string& key) {
    static constexpr std::string_view group_prefix = "group:";
    if (std::size_t at = key.find(source_tag); at != std::string::npos) {
        std::string_view address = std::string_view(key).substr(at + source_tag.size());
        if (at == 0) return source_scope(key, cfg.source_for(address));
        config::throttle_scope destination = scope_for_key(cfg, key.substr(0, at - 1));
        const config::source_limits* s = destination.sources != nullptr
                                             ? config::find_source(*destination.sources, address)
                                             : nullptr;
        return source_scope(key, s);
    }
    if (key.starts_with(group_prefix)) {
        std::string_view name = std::string_view(key).substr(group_prefix.size());
        for (const config::group_policy& g : cfg.groups) {
            if (g.name == name) return cfg.group_scope(g);   // members by MX too
        }
    }
    return cfg.throttle_for(key);
}

queue::controller_settings settings_of(const config::throttle_scope& s) {
    queue::controller_settings c;
    c.connections_max = std::max(1u, s.limits.max_connections);
    c.rate_count = s.limits.message_rate.count;
    c.rate_period_ms = static_cast<std::uint64_t>(s.limits.message_rate.period.count());
    if (s.backoff != nullptr) {
        c.floor_percent = s.backoff->floor_percent;
        c.suspend_after = s.backoff->suspend_after;
        c.suspend_ms = static_cast<std::uint64_t>(s.backoff->suspend_time.count());
    }
    return c;
}

unsigned borrower_of(const queue::lease_message& m) {
    return std::visit([](const auto& x) { return x.borrower; }, m);
}

}  // namespace

const std::vector<std::string>& budget::patterns() const {
    return scope.backoff != nullptr ? scope.backoff->patterns : no_patterns;
}

struct budget_table::owned {
    std::string key;
    config::throttle_scope scope;
    queue::throttle_controller controller;
    queue::lease_owner owner;
    // The owner's gauges (the only shard that sets them), made with the budget.
    observe::gauge* connections_allowed = nullptr;
    observe::gauge* rate_allowed = nullptr;
    observe::gauge* suspended = nullptr;

    double rate_per_second() const {
        if (scope.limits.message_rate.unlimited()) return 0;
        double period_s = static_cast<double>(scope.limits.message_rate.period.count()) / 1000.0;
        return static_cast<double>(std::max<std::uint64_t>(1, controller.rate_allowed())) / period_s;
    }
    std::uint64_t spent_logged_day = 0;   // the UTC day "daily cap reached" was logged

    // The controller's values as the budget to lend. A configured rate stays a
    // limit however far backoff cuts it (a lease_budget rate of 0 is no limit);
    // backoff cuts the connection rate by the same share as the message rate.
    queue::lease_budget allowed() const {
        queue::lease_budget b;
        b.slots = controller.connections_allowed();
        if (!scope.limits.message_rate.unlimited()) {
            b.rate_count = std::max<std::uint64_t>(1, controller.rate_allowed());
            b.rate_period_ms = static_cast<std::uint64_t>(scope.limits.message_rate.period.count());
        }
        if (const config::rate& c = scope.limits.connection_rate; !c.unlimited()) {
            b.connect_count =
                std::max<std::uint64_t>(1, c.count * controller.rate_permille() / 1000);
            b.connect_period_ms = static_cast<std::uint64_t>(c.period.count());
        }
        b.daily_cap = scope.limits.max_deliveries_per_day;
        return b;
    }
    bool lent() const {
        return owner.slots_held() > 0 || owner.rate_held_per_day() > 0 || controller.suspended();
    }
};

budget_table::budget_table(const config::config& cfg, runtime::notifier& wake, unsigned shard,
                           unsigned shards)
    : _cfg(cfg), _wake(wake), _shard(shard), _shards(shards), _outbox(shards) {
    for (const config::group_policy& g : cfg.groups) _mx_groups = _mx_groups || !g.mx.empty();
}

budget_table::~budget_table() = default;

budget* budget_table::budget_for(std::string_view domain) {
    if (!limited(_cfg, domain)) return nullptr;
    return get(_cfg.throttle_for(domain));
}

void budget_table::join(engine::pool& p) {
    // A domain routed by MX may join a group by its exchangers' names: until
    // they are known (regroup), its pool opens no connection.
    p.group_pending = p.route == nullptr && _mx_groups &&
                      (p.budget == nullptr || p.budget->scope.group == nullptr);
    if (p.budget != nullptr) p.budgets.push_back(p.budget);
    std::string_view source = source_address(_cfg);
    if (!source.empty()) {
        std::string key = std::string(source_tag) + std::string(source);
        if (const config::source_limits* s = _cfg.source_for(source)) {
            if (budget* b = get(source_scope(key, s))) p.budgets.push_back(b);
        }
        const config::source_limits* pair =
            p.budget != nullptr && p.budget->scope.sources != nullptr
                ? config::find_source(*p.budget->scope.sources, source)
                : nullptr;
        if (pair != nullptr) {
            if (budget* b = get(source_scope(p.budget->key + "|" + key, pair))) {
                p.budgets.push_back(b);
            }
        }
    }
    for (budget* b : p.budgets) b->pools.push_back(&p);
}

void budget_table::regroup(engine::pool& p, std::span<const std::string> mx_hosts) {
    const config::group_policy* group = _cfg.group_for(p.key, mx_hosts);
    if (group == nullptr || p.connections != 0) return;
    budget* b = get(_cfg.group_scope(*group));
    if (b == nullptr || b == p.budget) return;
    // No connection is open: nothing holds a slot of the budgets it leaves.
    for (budget* old : p.budgets) std::erase(old->pools, &p);
    p.budgets.clear();
    p.budget = b;
    p.connections_max = b->scope.limits.max_connections;
    p.recipients_max = b->scope.limits.max_recipients_per_message;
    join(p);
    std::string hosts;
    for (const std::string& h : mx_hosts) hosts += (hosts.empty() ? "" : ", ") + h;
    log_info("delivery: %s joins %s by its exchangers (%s)", p.key.c_str(), b->key.c_str(),
             hosts.c_str());
}

bool budget_table::try_acquire_slots(engine::pool& p, std::uint64_t now_ms) {
    for (std::size_t i = 0; i < p.budgets.size(); ++i) {
        if (p.budgets[i]->borrower.try_acquire_slot(now_ms)) continue;
        for (std::size_t k = 0; k < i; ++k) p.budgets[k]->borrower.cancel_slot();
        return false;
    }
    return true;
}

void budget_table::release_slots(engine::pool& p) {
    for (budget* b : p.budgets) release_slot(*b);
}

queue::send_verdict budget_table::try_send(engine::pool& p, std::uint64_t recipients,
                                           std::uint64_t* wait_ms) {
    std::uint64_t now_ms = runtime::monotonic_ms(), now_unix_ms = runtime::unix_ms();
    for (std::size_t i = 0; i < p.budgets.size(); ++i) {
        queue::lease_borrower& b = p.budgets[i]->borrower;
        queue::send_verdict verdict = b.try_send(now_ms, now_unix_ms, recipients);
        if (verdict == queue::send_verdict::ok) continue;
        *wait_ms = verdict == queue::send_verdict::wait_rate ? b.wait_ms(now_ms) : 0;
        for (std::size_t k = 0; k < i; ++k) {
            p.budgets[k]->borrower.cancel_send(now_unix_ms, recipients);
        }
        return verdict;
    }
    return queue::send_verdict::ok;
}

std::uint64_t budget_table::daily_cut(const engine::pool& p, std::uint64_t recipients) const {
    std::uint64_t now_unix_ms = runtime::unix_ms();
    for (const budget* b : p.budgets) {
        if (b->borrower.daily_spent(now_unix_ms)) {
            recipients = std::min(recipients, b->borrower.daily_left(now_unix_ms));
        }
    }
    return recipients;
}

bool budget_table::daily_spent(const engine::pool& p) const {
    if (p.budgets.empty()) return false;
    return daily_cut(p, 1) == 0;
}

bool budget_table::over_share(const engine::pool& p) const {
    for (const budget* b : p.budgets) {
        if (b->borrower.slots_in_use() > b->borrower.slots_limit()) return true;
    }
    return false;
}

void budget_table::give_back_daily(engine::pool& p, std::uint64_t recipients) {
    if (recipients == 0) return;
    std::uint64_t now_unix_ms = runtime::unix_ms();
    for (budget* b : p.budgets) b->borrower.give_back_daily(now_unix_ms, recipients);
}

budget* budget_table::get(config::throttle_scope scope) {
    auto it = _by_key.find(scope.key);
    if (it != _by_key.end()) return it->second.get();
    auto b = std::make_unique<budget>();
    b->key = scope.key;
    b->id = queue::lease_key_hash(b->key);
    b->owner = queue::owner_shard(b->key, _shards);
    b->borrower = queue::lease_borrower(b->id, _shard);
    b->scope = std::move(scope);
    if (!_by_id.emplace(b->id, b.get()).second) {
        log_error("delivery: budget keys %s and %s have the same hash; %s is not throttled",
                  b->key.c_str(), _by_id[b->id]->key.c_str(), b->key.c_str());
        return nullptr;
    }
    budget* ref = b.get();
    _by_key.emplace(ref->key, std::move(b));
    return ref;
}

void budget_table::record(budget& b, queue::throttle_signal signal) {
    b.borrower.record(signal);
    if (signal != queue::throttle_signal::success && signal != queue::throttle_signal::neutral) {
        b.last_throttle = signal;
        if (_metrics != nullptr) {
            _metrics->throttle_signals.counter_for({b.key, queue::throttle_signal_name(signal)}).inc();
        }
    }
}

void budget_table::release_slot(budget& b) {
    b.borrower.release_slot();
    send_release(b, runtime::unix_ms(), false);
}

void budget_table::send_release(budget& b, std::uint64_t now_unix_ms, bool idle) {
    std::optional<queue::lease_release> r =
        idle ? b.borrower.release_idle(now_unix_ms) : b.borrower.take_release(now_unix_ms);
    if (r) send(b.owner, budget_message{*r, {}, queue::throttle_signal::neutral});
}

void budget_table::send_demand(budget& b, unsigned slots_wanted, std::uint64_t messages,
                               std::uint64_t daily_wanted, std::uint64_t now_ms) {
    queue::lease_demand d = b.borrower.demand(slots_wanted, messages, daily_wanted);
    budget_message m{d, b.key, d.throttles > 0 ? b.last_throttle : queue::throttle_signal::neutral};
    send(b.owner, std::move(m));
    b.slots_wanted_sent = slots_wanted;
    b.mail_sent = messages > 0;
    b.daily_wanted_sent = daily_wanted;
    b.demand_sent_ms = now_ms;
}

// Under a daily cap: the recipients ready or waiting for a block beyond what
// this shard's blocks have left today.
std::uint64_t budget_table::daily_wanted(budget& b, std::uint64_t now_unix_ms) const {
    if (b.scope.limits.max_deliveries_per_day == 0) return 0;
    std::uint64_t wanted = 0;
    for (engine::pool* p : b.pools) {
        wanted += p->daily_waiting;
        if (p->dest != nullptr) wanted += p->dest->ready_recipients;
    }
    std::uint64_t left = b.borrower.daily_left(now_unix_ms);
    return wanted > left ? wanted - left : 0;
}

void budget_table::receive() {
    if (_mesh == nullptr) return;
    _mesh->drain(_shard, [this](unsigned from, budget_message&& m) { handle(from, std::move(m)); });
    flush_outbox();
}

void budget_table::handle(unsigned, budget_message&& m) {
    if (const auto* d = std::get_if<queue::lease_demand>(&m.lease)) {
        on_demand(*d, m);
    } else if (const auto* g = std::get_if<queue::lease_grant>(&m.lease)) {
        on_grant(*g);
    } else if (const auto* r = std::get_if<queue::lease_revoke>(&m.lease)) {
        on_revoke(*r);
    } else if (const auto* rel = std::get_if<queue::lease_release>(&m.lease)) {
        auto it = _owned.find(rel->budget);
        if (it == _owned.end()) return;
        it->second->owner.on_release(*rel, runtime::unix_ms());
        rebalance(*it->second, runtime::monotonic_ms());
    }
}

void budget_table::on_demand(const queue::lease_demand& d, const budget_message& m) {
    auto it = _owned.find(d.budget);
    if (it == _owned.end()) {
        if (m.key.empty() || queue::lease_key_hash(m.key) != d.budget) return;
        config::throttle_scope scope = scope_for_key(_cfg, m.key);
        auto o = std::make_unique<owned>(owned{m.key, scope,
                                               queue::throttle_controller(settings_of(scope)),
                                               queue::lease_owner(d.budget, _shards, {})});
        o->owner.set_budget(o->allowed());
        if (_metrics != nullptr) {
            o->connections_allowed = &_metrics->connections_allowed.gauge_for({o->key});
            o->rate_allowed = &_metrics->rate_allowed.gauge_for({o->key});
            o->suspended = &_metrics->suspended.gauge_for({o->key});
        }
        log_info("throttle %s: budget held by shard %u: %u connection(s), message rate %s",
                 o->key.c_str(), _shard, o->scope.limits.max_connections,
                 config::format_rate(o->scope.limits.message_rate).c_str());
        it = _owned.emplace(d.budget, std::move(o)).first;
    }
    owned& o = *it->second;
    // A borrower that holds nothing and wants a connection gets its share at
    // once; other changes of demand wait for the next tick, so that shares (and
    // with them connections, which close to give a slot back) move at most every
    // 100 ms however fast demand swings, and the rotation that hands out a
    // split's remainder turns every 1.6 s as lease_owner intends.
    const bool moves = d.slots_wanted > 0 && o.owner.held(d.borrower).slots == 0;
    o.owner.on_demand(d);
    std::uint64_t now_ms = runtime::monotonic_ms();
    unsigned connections_before = o.controller.connections_allowed();
    for (std::uint32_t i = 0; i < d.successes; ++i) {
        log_change(o.key, o.controller.report(queue::throttle_signal::success, now_ms));
    }
    queue::throttle_signal kind =
        m.throttle == queue::throttle_signal::neutral ? queue::throttle_signal::reply_421
                                                      : m.throttle;
    for (std::uint32_t i = 0; i < d.throttles; ++i) {
        log_change(o.key, o.controller.report(kind, now_ms));
    }
    if (moves || d.throttles > 0 || o.controller.connections_allowed() != connections_before) {
        rebalance(o, now_ms);
    }
}

void budget_table::on_grant(const queue::lease_grant& g) {
    auto it = _by_id.find(g.budget);
    if (it == _by_id.end()) return;
    it->second->borrower.on_grant(g, runtime::monotonic_ms());
    _wake.notify();   // the dispatcher may open connections now
}

void budget_table::on_revoke(const queue::lease_revoke& r) {
    auto it = _by_id.find(r.budget);
    if (it == _by_id.end()) return;
    budget& b = *it->second;
    b.borrower.on_revoke(r, runtime::monotonic_ms());
    // Idle connections beyond the new share quit now; each releases its slot.
    unsigned in_use = b.borrower.slots_in_use(), limit = b.borrower.slots_limit();
    unsigned excess = in_use > limit ? in_use - limit : 0;
    for (engine::pool* p : b.pools) {
        for (engine::connection* c : p->idle) {
            if (excess == 0) break;
            if (c->quit) continue;
            c->quit = true;
            c->work.notify();
            --excess;
        }
    }
    send_release(b, runtime::unix_ms(), false);   // a revoke that already fits
}

void budget_table::rebalance(owned& o, std::uint64_t now_ms) {
    log_change(o.key, o.controller.tick(now_ms));
    o.owner.set_budget(o.allowed());
    _out.clear();
    o.owner.rebalance(runtime::unix_ms(), _out);
    for (queue::lease_message& m : _out) {
        const auto* g = std::get_if<queue::lease_grant>(&m);
        if (g != nullptr && g->daily_spent && o.spent_logged_day != g->daily_day) {
            o.spent_logged_day = g->daily_day;   // once a day: the borrowers hold their mail
            log_info("throttle %s: daily cap of %llu deliveries reached: more mail waits "
                     "for 00:00 UTC", o.key.c_str(),
                     (unsigned long long)o.scope.limits.max_deliveries_per_day);
        }
        unsigned to = borrower_of(m);
        send(to, budget_message{std::move(m), {}, queue::throttle_signal::neutral});
    }
}

void budget_table::log_change(const std::string& key, const queue::throttle_change& change) {
    if (!change.changed()) return;
    if (_metrics != nullptr) {
        _metrics->throttle_changes.counter_for({key, queue::change_kind_name(change.kind)}).inc();
    }
    log_info("throttle %s: %s: %s", key.c_str(), queue::change_kind_name(change.kind),
             change.reason.c_str());
}

void budget_table::send(unsigned to, budget_message&& m) {
    if (to == _shard) {
        _local.push_back(std::move(m));
        _wake.notify();   // handled by the dispatcher's next pump, soon
        return;
    }
    RINGMTA_ASSERT(_mesh != nullptr && to < _shards, "budget message to shard %u without a mesh",
                   to);
    // A ring that was full keeps its order: later messages queue behind the backlog.
    if (_outbox[to].empty() && _mesh->send(_shard, to, std::move(m))) return;
    RINGMTA_ASSERT(_outbox[to].size() < outbox_max, "budget messages to shard %u pile up", to);
    _outbox[to].push_back(std::move(m));
}

void budget_table::flush_outbox() {
    for (unsigned to = 0; to < _outbox.size(); ++to) {
        std::deque<budget_message>& q = _outbox[to];
        while (!q.empty() && _mesh->send(_shard, to, std::move(q.front()))) q.pop_front();
    }
}

std::uint64_t budget_table::pump(std::uint64_t now_ms) {
    std::uint64_t now_unix_ms = runtime::unix_ms();
    bool active = false;
    std::uint64_t wake_ms = now_ms + heartbeat_ms;
    for (auto& [key, b] : _by_key) {
        // Connections wanted: those open (an idle one keeps its slot until its
        // idle timeout, as pools without a budget keep theirs, unless another
        // shard needs the slot) and one per ready job. Messages: ready or in flight.
        std::uint64_t ready = 0, open = 0, busy = 0;
        for (engine::pool* p : b->pools) {
            if (p->dest != nullptr) ready += p->dest->ready.size();
            open += p->connections;
            busy += p->connections - std::min<std::size_t>(p->connections, p->idle.size());
        }
        std::uint64_t messages = ready + busy;
        auto wanted = static_cast<unsigned>(
            std::min<std::uint64_t>(b->scope.limits.max_connections, open + ready));
        if (messages == 0 && b->borrower.slots_in_use() == 0) {
            // Nothing to send: say so, and give the whole share back.
            if (b->mail_sent || b->slots_wanted_sent != 0) send_demand(*b, 0, 0, 0, now_ms);
            send_release(*b, now_unix_ms, true);
            continue;
        }
        active = true;
        std::uint64_t daily = daily_wanted(*b, now_unix_ms);
        if (wanted != b->slots_wanted_sent || (messages > 0) != b->mail_sent ||
            (daily > 0) != (b->daily_wanted_sent > 0) ||
            now_ms - b->demand_sent_ms >= heartbeat_ms) {
            send_demand(*b, wanted, messages, daily, now_ms);
        }
        // Under a connection rate, the dispatcher looks again when the next
        // token is due (a later look would lose what the bucket cannot hold).
        if (ready > 0 && b->borrower.slots_in_use() < b->borrower.slots_limit()) {
            if (std::uint64_t wait = b->borrower.connect_wait_ms(now_ms); wait > 0) {
                wake_ms = std::min(wake_ms, now_ms + wait);
            }
        }
    }
    if (now_ms >= _owner_tick_ms) {
        for (auto& [id, o] : _owned) {
            if (o->lent()) rebalance(*o, now_ms);
        }
        _owner_tick_ms = now_ms + heartbeat_ms;
    }
    for (int n = 0; n < local_messages_max && !_local.empty(); ++n) {
        budget_message m = std::move(_local.front());
        _local.pop_front();
        handle(_shard, std::move(m));
    }
    if (_mesh != nullptr) flush_outbox();
    for (auto& [id, o] : _owned) active = active || o->lent();
    return active ? wake_ms : 0;
}

}  // namespace ringmta::delivery

namespace ringmta::delivery {

void budget_table::refresh_owner_gauges() {
    for (auto& [id, o] : _owned) {
        if (o->connections_allowed == nullptr) continue;
        o->connections_allowed->set(o->controller.connections_allowed());
        o->rate_allowed->set(o->controller.suspended() ? 0 : o->rate_per_second());
        // The pools' operator suspension may have set it already (engine).
        if (o->controller.suspended()) o->suspended->set(1);
    }
}

void budget_table::report_owned(std::vector<engine::destination_report>& out) const {
    std::uint64_t now_ms = runtime::monotonic_ms(), now_unix_ms = runtime::unix_ms();
    for (const auto& [id, o] : _owned) {
        engine::destination_report r;
        observe::domain_summary& d = r.summary;
        d.domain = o->key;
        d.connections_max = o->scope.limits.max_connections;
        d.connections_allowed = o->controller.connections_allowed();
        d.rate_allowed_per_second = o->controller.suspended() ? 0 : o->rate_per_second();
        d.rate_limit = config::format_rate(o->scope.limits.message_rate);
        d.daily_cap = o->scope.limits.max_deliveries_per_day;
        // Counted against the cap: what the owner has lent out today (used, or
        // not yet given back), so never below the deliveries made.
        if (d.daily_cap != 0) d.deliveries_today = o->owner.daily_lent();
        if (o->controller.suspended()) {
            d.suspended = true;
            std::uint64_t until = o->controller.suspended_until_ms();
            d.suspended_until_unix_ms = now_unix_ms + (until > now_ms ? until - now_ms : 0);
        }
        out.push_back(std::move(r));
    }
}

bool budget_table::resume_owned(const std::string& key) {
    for (auto& [id, o] : _owned) {
        if (o->key != key || !o->controller.suspended()) continue;
        std::uint64_t now_ms = runtime::monotonic_ms();
        log_change(o->key, o->controller.resume(now_ms, "resumed by the operator"));
        rebalance(*o, now_ms);
        _wake.notify();
        return true;
    }
    return false;
}

}  // namespace ringmta::delivery
