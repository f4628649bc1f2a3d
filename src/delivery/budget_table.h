// Internal to delivery: one shard's side of the per-destination budgets
// (DESIGN.md, "Scheduling and throttles"; the protocol in
// include/ringmta/queue/lease.h; the recipe in src/queue/README.md, "How the
// engine uses this").
//
// * Borrower side: a `budget` per budget key this shard has mail for, holding a
//   lease_borrower. The engine takes a slot before it opens a connection of a
//   pool that draws on it and a token before each transaction; pump() reports
//   the demand to the owner and gives an idle share back. A pool draws on up to
//   three (engine::pool::budgets, in this order): its destination's, and when
//   delivery.source_address is set, the source address's ([sources."ip"], key
//   "source:ip") and the destination-from-source pair's (scope.sources, key
//   "<destination key>|source:ip"); an attempt takes from each in turn and
//   gives back what it took when a later one refuses.
// * Owner side: for the keys this shard owns (queue::owner_shard), the
//   throttle_controller (adaptive backoff; every change logged with its reason)
//   and the lease_owner that lends the global budget in shares.
//
// A domain without configured limits (no [domains] max_connections, message or
// connection rate, max_deliveries_per_day or entry for the source address, no
// group) has no budget of its own: its pool keeps delivery.max_connections split
// over the shards (and draws on the source's budget, if any). Runs on its shard
// only; no I/O but the mesh.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ringmta/config/config.h"
#include "ringmta/delivery/budget_message.h"
#include "ringmta/delivery/engine.h"
#include "ringmta/observe/mta_metrics.h"
#include "ringmta/queue/lease_borrower.h"
#include "ringmta/queue/lease_owner.h"
#include "ringmta/queue/throttle_controller.h"
#include "ringmta/runtime/notifier.h"

namespace ringmta::delivery {

// A budget this shard draws on: the pools that use it and this shard's share.
struct budget {
    std::string key;                  // "limited.example", "group:google"
    std::uint64_t id = 0;             // queue::lease_key_hash(key)
    unsigned owner = 0;               // the shard that holds the global budget
    config::throttle_scope scope;     // resolved limits and backoff
    queue::lease_borrower borrower{0, 0};
    std::vector<engine::pool*> pools;
    // The last demand sent, so that only changes (and a heartbeat) go out.
    unsigned slots_wanted_sent = 0;
    bool mail_sent = false;
    std::uint64_t demand_sent_ms = 0;
    std::uint64_t daily_wanted_sent = 0;
    queue::throttle_signal last_throttle = queue::throttle_signal::neutral;

    const std::vector<std::string>& patterns() const;
};

class budget_table {
public:
    budget_table(const config::config& cfg, runtime::notifier& wake, unsigned shard,
                 unsigned shards);
    ~budget_table();

    // The mesh to the other shards (needed with more than one shard).
    void attach(budget_mesh* mesh) { _mesh = mesh; }
    // The budget mail to `domain` draws on (created on first use), or nullptr when
    // the domain has no configured limits. Allocates nothing for such a domain.
    budget* budget_for(std::string_view domain);
    // Lists in p.budgets what the pool draws on: p.budget (its destination's, if
    // any), then the source address's and the destination-from-source budgets
    // configured for delivery.source_address; the pool joins each one's pools.
    void join(engine::pool& p);
    // A pool routed by MX whose exchangers are now known: when they make its
    // domain a member of a group ([groups] mx patterns), the pool leaves its
    // budgets and joins the group's. Only before its first connection.
    void regroup(engine::pool& p, std::span<const std::string> mx_hosts);

    // The attempt's side, over every budget of a pool, in order. Before a
    // connection opens: a slot (and a connection token) from each, or none.
    bool try_acquire_slots(engine::pool& p, std::uint64_t now_ms);
    void release_slots(engine::pool& p);
    // Before a transaction of `recipients`: a rate token and today's deliveries
    // from each; when one refuses, the others' go back and *wait_ms says when
    // to look again (0: when a grant comes).
    queue::send_verdict try_send(engine::pool& p, std::uint64_t recipients,
                                 std::uint64_t* wait_ms);
    // `recipients`, cut to what budgets whose day is spent still have left.
    std::uint64_t daily_cut(const engine::pool& p, std::uint64_t recipients) const;
    // A budget of p has spent today's cap and has nothing left: p's mail waits.
    bool daily_spent(const engine::pool& p) const;
    // A budget of p now lends fewer slots than p's shard has in use.
    bool over_share(const engine::pool& p) const;
    // Recipients of a transaction that were not delivered (daily caps).
    void give_back_daily(engine::pool& p, std::uint64_t recipients);

    // The outcome of an attempt, for the owner's adaptive controller.
    void record(budget& b, queue::throttle_signal signal);
    // A connection that held one of b's slots closed.
    void release_slot(budget& b);
    // Takes the messages other shards sent (on the shard's wake-up).
    void receive();
    // Demands, idle releases, the owned budgets' ticks and rebalances, messages to
    // this shard itself and a full ring's backlog. Returns when it wants to run
    // again (monotonic ms; 0: not before something changes).
    std::uint64_t pump(std::uint64_t now_ms);

    std::size_t budgets() const { return _by_key.size(); }

    // The engine's metrics: throttle changes and signals are counted there, and
    // the budgets this shard owns set their gauges (refresh_owner_gauges).
    void set_metrics(observe::mta_metrics* metrics) { _metrics = metrics; }
    void refresh_owner_gauges();
    // The owner's part of /queue for each budget this shard holds: the
    // configured and allowed connections and rate, and an adaptive suspension.
    void report_owned(std::vector<engine::destination_report>& out) const;
    // Ends an adaptive suspension of the budget `key` if this shard holds it.
    bool resume_owned(const std::string& key);

private:
    struct owned;

    budget* get(config::throttle_scope scope);
    void handle(unsigned from, budget_message&& m);
    void on_demand(const queue::lease_demand& d, const budget_message& m);
    void on_grant(const queue::lease_grant& g);
    void on_revoke(const queue::lease_revoke& r);
    void send_demand(budget& b, unsigned slots_wanted, std::uint64_t messages,
                     std::uint64_t daily_wanted, std::uint64_t now_ms);
    std::uint64_t daily_wanted(budget& b, std::uint64_t now_unix_ms) const;
    void send_release(budget& b, std::uint64_t now_unix_ms, bool idle);
    void rebalance(owned& o, std::uint64_t now_ms);
    void log_change(const std::string& key, const queue::throttle_change& change);
    void send(unsigned to, budget_message&& m);
    void flush_outbox();

    const config::config& _cfg;
    runtime::notifier& _wake;
    unsigned _shard;
    unsigned _shards;
    budget_mesh* _mesh = nullptr;
    std::unordered_map<std::string, std::unique_ptr<budget>> _by_key;
    std::unordered_map<std::uint64_t, budget*> _by_id;
    std::unordered_map<std::uint64_t, std::unique_ptr<owned>> _owned;
    std::deque<budget_message> _local;                 // sent to this shard itself
    std::vector<std::deque<budget_message>> _outbox;   // per shard: a full ring's backlog
    std::vector<queue::lease_message> _out;            // rebalance's output, reused
    std::uint64_t _owner_tick_ms = 0;                  // the owned budgets' next rebalance
    observe::mta_metrics* _metrics = nullptr;
    bool _mx_groups = false;                           // a [groups] entry has mx patterns
};

}  // namespace ringmta::delivery
