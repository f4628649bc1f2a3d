// scheduler: one shard's queued mail, no I/O (DESIGN.md, queue module).
//
// A message's pending recipients are split into jobs: the recipients that share a
// destination (a next-hop pool), at most `recipients_per_job` of them, delivered
// in one SMTP transaction. Ready jobs wait per destination in FIFO order; the
// delivery side takes them. A deferred job sleeps in a min-heap until its retry
// time, then rejoins its destination's ready queue.
//
// Retry schedule (Postfix's is the model): exponential backoff, attempt n waits
// retry_min * 2^(n-1), capped at retry_max; a job whose message is older than
// max_age when it would be retried expires instead.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringmta::queue {

// A message accepted or recovered on this shard; shared by its jobs. The body
// stays in memory until every recipient is finished (first cut; reading bodies
// back from the journal comes with the journal work).
struct message {
    std::uint64_t id = 0;
    std::uint64_t arrival_unix_ms = 0;
    std::uint32_t flags = 0;
    std::string sender;
    std::vector<std::string> recipients;
    std::string body;
    // RFC 3461 DSN parameters, passed on to a next hop that offers DSN.
    std::string envid;                 // xtext as received, "" = none
    std::uint8_t ret = 0;              // smtp::ret_*
    std::vector<std::uint8_t> notify;  // per recipient (smtp::notify_*), empty = none given
    std::vector<std::string> orcpt;    // per recipient, empty = none given
    std::uint64_t segment_sequence = 0;   // journal segment holding the message record
    std::uint32_t unfinished = 0;         // recipients without a final outcome
};
using message_ptr = std::shared_ptr<message>;

struct job {
    message_ptr msg;
    std::vector<std::uint32_t> recipients;   // indexes into msg->recipients
    std::uint32_t attempts = 0;              // attempts already made
    std::uint64_t due_ms = 0;                // monotonic time of the next attempt
};

struct retry_policy {
    std::uint64_t retry_min_ms = 60000;
    std::uint64_t retry_max_ms = 3600000;
    std::uint64_t max_age_ms = 5ull * 24 * 3600 * 1000;
};

struct destination {
    std::string key;
    std::deque<job> ready;
    std::uint64_t queued_recipients = 0;     // ready + deferred
};

class scheduler {
public:
    explicit scheduler(const retry_policy& policy, std::size_t recipients_per_job);

    // Queues recipients of `m` bound for `destination_key`: ready jobs, or, with
    // due_ms (monotonic) set, jobs that wait until then (retry state recovered
    // from the journal after a restart).
    void enqueue(std::string_view destination_key, const message_ptr& m,
                 const std::vector<std::uint32_t>& recipients, std::uint32_t attempts,
                 std::uint64_t due_ms = 0);
    // A job whose recipients were deferred; `attempts` already counts this one.
    // Returns false (and queues nothing) when the message is past max_age: the
    // caller expires those recipients.
    bool defer(std::string_view destination_key, job j, std::uint64_t now_ms,
               std::uint64_t now_unix_ms);
    // The delay before attempt `attempts + 1`, for a job that made `attempts`.
    std::uint64_t backoff_ms(std::uint32_t attempts) const;

    // Moves every deferred job whose time has come to its ready queue.
    void promote_due(std::uint64_t now_ms);
    // Monotonic time of the earliest deferred job, 0 if none.
    std::uint64_t next_due_ms() const;

    destination* find(std::string_view key);
    // Destinations that got ready work since the last call (each listed once).
    std::vector<destination*> take_activated();
    bool take(destination& d, job& out);

    std::uint64_t ready_jobs() const { return _ready_jobs; }
    std::uint64_t deferred_jobs() const { return _deferred.size(); }

private:
    struct deferred {
        std::uint64_t due_ms;
        std::uint64_t order;   // FIFO among equal due times
        destination* dest;
        job j;
        bool operator>(const deferred& other) const {
            return due_ms != other.due_ms ? due_ms > other.due_ms : order > other.order;
        }
    };

    destination& get(std::string_view key);
    void make_ready(destination& d, job j);
    void wait_until(destination& d, job j, std::uint64_t due_ms);

    retry_policy _policy;
    std::size_t _recipients_per_job;
    std::unordered_map<std::string, std::unique_ptr<destination>> _destinations;
    std::priority_queue<deferred, std::vector<deferred>, std::greater<deferred>> _deferred;
    std::vector<destination*> _activated;
    std::uint64_t _order = 0;
    std::uint64_t _ready_jobs = 0;
};

}  // namespace ringmta::queue
