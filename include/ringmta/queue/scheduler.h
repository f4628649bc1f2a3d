// scheduler: one shard's queued mail, no I/O (DESIGN.md, queue module).
//
// A message's pending recipients are split into jobs: the recipients that share a
// destination (a next-hop pool), at most `recipients_per_job` of them, delivered
// in one SMTP transaction (or split further when taken: take()'s recipients_max).
// Ready jobs wait per destination in FIFO order; the delivery side takes them. A deferred job sleeps in a min-heap until its retry
// time, then rejoins its destination's ready queue.
//
// Priority (two levels, from the message's flags: journal::message_flag_priority_high,
// set at submission from ingress.priority_header): a destination's high-priority
// ready jobs are all taken before its normal ones, each level FIFO. Strict, so
// that transactional mail overtakes a campaign's backlog to the same destination;
// it never reorders mail between destinations (their connections are apart), and
// a deferred job keeps its level when it becomes ready again.
//
// Retry schedule (Postfix's is the model): exponential backoff, attempt n waits
// retry_min * 2^(n-1), capped at retry_max; a job whose message is older than
// max_age when it would be retried expires instead.
#pragma once

#include <cstdint>
#include <algorithm>
#include <deque>
#include <iterator>
#include <functional>
#include <memory>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ringmta/queue/message.h"

namespace ringmta::queue {

// A message's pending recipients bound for one destination, delivered in one
// SMTP transaction. 32 bytes; the content is fetched when the job runs.
struct job {
    message_ptr msg;
    recipient_list recipients;               // indexes into the message's recipients
    std::uint32_t attempts = 0;              // attempts already made
};

struct retry_policy {
    std::uint64_t retry_min_ms = 60000;
    std::uint64_t retry_max_ms = 3600000;
    std::uint64_t max_age_ms = 5ull * 24 * 3600 * 1000;
};

// True for a job of a high-priority message (journal::message_flag_priority_high).
bool high_priority(const job& j);

// One destination's ready jobs: high-priority ones first, each level first in
// first out. The high-priority deque exists only once such a job came: a
// std::deque allocates even when empty, and most destinations never see one.
class ready_jobs {
public:
    bool empty() const noexcept { return _normal.empty() && high() == 0; }
    std::size_t size() const noexcept { return _normal.size() + high(); }
    std::size_t high() const noexcept { return _high ? _high->size() : 0; }
    void push_back(job j);
    // The first high-priority job, else the first normal one; false when empty.
    bool pop_front(job& out);
    // The job pop_front() would take; not empty().
    job& front();
    // High-priority jobs first, in the order they will be taken.
    void for_each(const std::function<void(const job&)>& f) const;

private:
    std::deque<job> _normal;
    std::unique_ptr<std::deque<job>> _high;
};

struct destination {
    std::string key;
    ready_jobs ready;
    std::uint64_t queued_recipients = 0;     // ready + deferred
    std::uint64_t ready_recipients = 0;      // in `ready`
};

class scheduler {
public:
    explicit scheduler(const retry_policy& policy, std::size_t recipients_per_job);

    // Queues recipients of `m` bound for `destination_key`: ready jobs, or, with
    // due_ms (monotonic) set, jobs that wait until then (retry state recovered
    // from the journal after a restart).
    void enqueue(std::string_view destination_key, const message_ptr& m,
                 std::span<const std::uint32_t> recipients, std::uint32_t attempts,
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
    // The first ready job. recipients_max > 0: at most that many of its
    // recipients (a destination's max_recipients_per_message); the rest stay
    // first in line, as one job with the same attempt count.
    bool take(destination& d, job& out, std::size_t recipients_max = 0);

    // Every queued job (ready ones with due_ms 0, deferred ones with their
    // monotonic due time), in no particular order; jobs taken for delivery are
    // not queued. The queue must not change during the walk.
    void for_each_job(const std::function<void(const job&, std::uint64_t due_ms)>& f) const;

    // A job taken out of the queue by extract(): its destination and due time
    // (monotonic ms; 0: it was ready).
    struct queued_job {
        destination* dest;
        job j;
        std::uint64_t due_ms;
    };
    // Takes out the queued jobs of the destinations `which` selects: the ready
    // ones if `ready`, the deferred ones if `deferred`. Operator actions (retry,
    // bounce, delete) use it; what they keep goes back with enqueue().
    std::vector<queued_job> extract(const std::function<bool(const destination&)>& which,
                                    bool ready, bool deferred);

    std::uint64_t ready_jobs() const { return _ready_jobs; }
    std::uint64_t deferred_jobs() const { return _deferred.size(); }

private:
    struct deferred {              // 56 bytes
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
    // A min-heap whose jobs can also be walked (for_each_job).
    struct deferred_heap
        : std::priority_queue<deferred, std::vector<deferred>, std::greater<deferred>> {
        const std::vector<deferred>& items() const { return c; }
        // Moves the entries `take` selects to `out` and restores the heap.
        template <typename F>
        void take_if(F take, std::vector<deferred>& out) {
            auto keep = std::stable_partition(c.begin(), c.end(),
                                              [&](const deferred& d) { return !take(d); });
            std::move(keep, c.end(), std::back_inserter(out));
            c.erase(keep, c.end());
            std::make_heap(c.begin(), c.end(), comp);
        }
    };
    deferred_heap _deferred;
    std::vector<destination*> _activated;
    std::uint64_t _order = 0;
    std::uint64_t _ready_jobs = 0;
};

}  // namespace ringmta::queue
