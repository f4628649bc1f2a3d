// Delivery on one shard (DESIGN.md, delivery): static routes to next hops, else
// the domain's MX hosts from the shard's resolver (dns module), per-destination
// connection pools, STARTTLS by the domain's policy, pooled client sessions that reuse a
// connection for many transactions (RSET between), PIPELINING when offered, and
// per-recipient results: 2xx delivered, 4xx deferred (retry with backoff until
// max_age, then expired), 5xx failed. Failed and expired recipients get an RFC
// 3464 DSN to the envelope sender (never for the null sender).
//
// Pools: a destination is one [routes] entry, or one mail domain routed by MX. A
// domain with configured limits ([domains."x"] max_connections or message_rate,
// or a group) draws on a budget global across the shards, lent by its owner
// shard over the budget mesh (DESIGN.md, Scheduling and throttles;
// src/delivery/budget_table.h): a connection takes one of the shard's slots, a
// transaction one of its rate tokens. Other pools split delivery.max_connections
// over the shards (shard i gets its share; at least one).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "ringmta/config/config.h"
#include "ringmta/delivery/budget_message.h"
#include "ringmta/dns/resolver.h"
#include "ringmta/journal/id_generator.h"
#include "ringmta/journal/journal.h"
#include "ringmta/observe/accounting_log.h"
#include "ringmta/observe/admin_backend.h"
#include "ringmta/observe/metrics.h"
#include "ringmta/observe/mta_metrics.h"
#include "ringmta/queue/content_cache.h"
#include "ringmta/queue/scheduler.h"
#include "ringmta/runtime/notifier.h"
#include "ringmta/runtime/task.h"
#include "ringmta/smtp/reply.h"
#include "ringmta/tls/context.h"

namespace ringmta::delivery {

class budget_table;
struct budget;

struct delivery_stats {
    std::uint64_t delivered = 0;
    std::uint64_t deferred = 0;
    std::uint64_t failed = 0;
    std::uint64_t expired = 0;
    std::uint64_t connections = 0;
    std::uint64_t transactions = 0;
    std::uint64_t batched = 0;              // transactions pipelined behind another in one write
    std::uint64_t bounces = 0;
    std::uint64_t tls_connections = 0;      // STARTTLS completed
    std::uint64_t exchanger_failures = 0;   // a candidate failed and the next was tried
    std::uint64_t reads = 0;                // contents read back from the journal
    std::uint64_t unreadable = 0;           // read-backs that failed (jobs retried)
    std::uint64_t compactions = 0;          // journal compaction passes
    std::uint64_t compaction_rewrites = 0;  // messages rewritten forward by them
};

class engine {
public:
    engine(const config::config& cfg, journal::journal& log, journal::id_generator& ids,
           observe::accounting_log* accounting, unsigned shard, unsigned shards);
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    // A message ingress just made durable: its content goes into the content cache
    // (so delivering it right away reads nothing back) and every recipient is queued.
    void accept(const queue::message_ptr& m, queue::content_ptr c);
    // Routes the recipients (indexes into `addresses`, the message's recipient
    // list) and queues them: ready now, or not before `not_before_unix_ms` (a
    // retry time recovered at start-up).
    void submit(const queue::message_ptr& m, std::span<const std::string> addresses,
                std::span<const std::uint32_t> recipients, std::uint32_t attempts,
                std::uint64_t not_before_unix_ms = 0);
    // The message's envelope and body: from the content cache, else read back from
    // the journal (and cached). nullptr when the record cannot be read (logged).
    runtime::task<queue::content_ptr> load(queue::message_ptr m);
    const queue::content_cache& cache() const { return _cache; }
    // The dispatcher: starts connections for ready work and promotes retries. It
    // starts the resolver first (an error there is logged; MX routing then defers)
    // and stops it last; finished() says it has returned.
    runtime::task<void> run();
    bool finished() const { return _finished; }
    // Stops starting work; idle connections quit. Transactions in flight finish.
    void stop();
    std::size_t connections() const;
    bool stopping() const { return _stopping; }
    // Per-destination budgets across shards: the mesh every shard's engine shares
    // (required with more than one shard), and, on this shard's wake-up, the
    // messages the other shards sent over it.
    void attach_budget_mesh(budget_mesh* mesh);
    void receive_budget_messages();

    // Operator control and metrics (admin.cc), on the shard's own thread; the
    // daemon's admin backend asks every shard and merges the answers. A name is
    // what the throttles know: a domain routed by MX, a [routes] key, or a
    // budget's key ("limited.example", "group:google"); a domain that shares a
    // [routes] pool with others and has no budget of its own names no pool.
    struct destination_report {
        observe::domain_summary summary;   // this shard's part of it
        std::uint64_t last_error_unix_ms = 0;
    };
    std::vector<destination_report> report_destinations() const;
    observe::metrics_snapshot snapshot_metrics();
    // Suspends the pools `name` names, and those made for it later, until
    // until_unix_ms (0: until resumed): no new connection, no new transaction;
    // those under way finish. Returns the recipients queued for them now.
    std::uint64_t suspend(const std::string& name, std::uint64_t until_unix_ms);
    // Ends the operator's suspension of `name` and, where this shard holds its
    // budget, an adaptive one. Returns how many were ended.
    std::size_t resume(const std::string& name);
    // `name`'s deferred recipients become due now; returns them (-1: no pool).
    std::int64_t retry_now(const std::string& name);
    // Fails (bounce: with DSNs) or drops (no DSN) the queued recipients that
    // match; recipients in transactions under way are left alone.
    runtime::task<observe::admin_result> drop(observe::message_filter filter, bool bounce);

    const delivery_stats& stats() const { return _stats; }
    const config::config& settings() const { return _cfg; }
    void count_transaction() { ++_stats.transactions; }
    void count_batched(std::uint64_t n) { _stats.batched += n; }

    struct pool;
    struct connection;
    struct outcome_context;
    struct final_result {
        std::uint32_t recipient;
        smtp::reply reply;
        bool expired = false;
    };

    // Wakes the dispatcher (a connection closed or went idle).
    void poke() { _wake.notify(); }
    bool take(pool& p, queue::job& out) { return take_job(p, out); }
    // A job taken but not attempted (its connection is closing) goes back to the
    // pool's ready queue as it was.
    void requeue(pool& p, queue::job j);
    budget_table& budgets() { return *_budgets; }

    dns::resolver& resolver() { return *_resolver; }
    const dns::resolver& resolver() const { return *_resolver; }
    // The client TLS context for a policy (built on first use; nullptr with the
    // reason logged when it cannot be, e.g. an unreadable tls_ca_file).
    tls::context* client_tls(config::tls_policy policy);
    // The dead-destination cache: an address that failed is skipped until then.
    bool host_down(const std::string& address, std::uint64_t now_ms) const;
    void mark_down(const std::string& address, std::uint64_t now_ms);
    const std::string& ehlo_name() const { return _ehlo_name; }
    delivery_stats& mutable_stats() { return _stats; }

private:
    friend runtime::task<void> run_connection(engine* e, pool* p);
    friend struct transaction;

    pool& pool_for(const config::route& route, std::string_view domain);
    pool& pool_for_domain(std::string_view domain);
    pool& add_pool(std::string key, const config::route* route, std::string_view domain,
                   budget* b);
    void start_connections(pool& p);
    bool take_job(pool& p, queue::job& out);
    // The job-handling calls take the message's content (envelope and body); a
    // job whose content could not be read passes nullptr: its recipients are
    // retried, or expired without a DSN, and get no accounting line.
    void finish(queue::job& j, const queue::content* c, std::uint32_t recipient,
                journal::outcome_status status, const smtp::reply& r,
                const outcome_context& where);
    void settle(pool& p, queue::job& j, const queue::content* c,
                std::vector<std::uint32_t>& deferred, const smtp::reply& last,
                const outcome_context& where);
    void defer_job(pool& p, queue::job j, const queue::content* c, const smtp::reply& r,
                   const outcome_context& where);
    // The pool's budget has spent today's daily cap: its ready jobs wait for
    // 00:00 UTC (not an attempt: nothing is journaled; a restart makes them ready).
    void hold_until_tomorrow(pool& p);
    // Final results of one job's recipients: 2xx delivered, else failed (expired
    // when `expired`). One DSN per message for the failures and one for "relayed"
    // NOTIFY=SUCCESS, appended before the outcomes that retire the recipients.
    void conclude(queue::job& j, const queue::content* c, const std::vector<final_result>& results,
                  const outcome_context& where);
    void report(const queue::message_ptr& m, const queue::content& c, std::string_view action,
                const std::vector<final_result>& results, const outcome_context& where);
    void account(const queue::job& j, const queue::content& c, std::uint32_t recipient,
                 observe::outcome status, const smtp::reply& r, const outcome_context& where);
    friend runtime::task<void> conclude_unroutable(engine* e, queue::job j,
                                                   std::vector<final_result> results);
    // Journal compaction (compaction.cc): one pass at a time, started by the
    // dispatcher when the journal names a segment to compact.
    void maybe_compact();
    bool named(const pool& p, std::string_view name) const;
    void count_settled(pool& p, std::size_t recipients);
    friend runtime::task<void> compact_segment(engine* e, std::uint64_t segment);
    friend runtime::task<void> submit_when_durable(engine* e, queue::message_ptr m,
                                                   queue::content_ptr c, std::uint64_t ticket);

    const config::config& _cfg;
    journal::journal& _log;
    journal::id_generator& _ids;
    observe::accounting_log* _accounting;
    unsigned _shard;
    unsigned _shards;
    queue::scheduler _scheduler;
    queue::content_cache _cache;
    std::unique_ptr<dns::resolver> _resolver;
    std::unique_ptr<tls::context> _tls_any;      // opportunistic and required
    std::unique_ptr<tls::context> _tls_verify;   // verify: chain and name
    std::unordered_map<std::string, std::uint64_t> _down_until;   // address -> monotonic ms
    std::string _ehlo_name;
    bool _finished = false;
    std::unordered_map<std::string, std::unique_ptr<pool>> _pools;
    runtime::notifier _wake;
    runtime::timer _timer{_wake};
    std::unique_ptr<budget_table> _budgets;   // wakes the dispatcher through _wake
    bool _stopping = false;
    bool _compacting = false;
    std::uint64_t _compaction_blocked_segment = 0;   // a pass left messages behind
    std::uint64_t _compaction_retry_at_ms = 0;
    delivery_stats _stats;
    observe::metrics_registry _registry;
    observe::mta_metrics _metrics{_registry};
    observe::histogram* _delivery_seconds = nullptr;
    // Operator suspensions by name (admin.cc): unix ms, or pool::suspended_forever.
    std::unordered_map<std::string, std::uint64_t> _suspensions;
    unsigned _admin_passes = 0;   // bounce/delete passes under way: no compaction meanwhile
};

}  // namespace ringmta::delivery
