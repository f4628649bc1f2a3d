// Journal compaction, driven by the delivery engine (see src/journal/README.md,
// "Compaction"). The journal knows which segment should go and can copy a record
// forward; only the engine knows which recipients of a message are still queued
// and their retry state, so the rewrite is done here:
//
// 1. the messages whose record lies in the segment, from one walk of the queue;
// 2. their records are read back (async), a bounded number of bytes at a time;
// 3. in one synchronous step, with the queue walked again: each message whose
//    every unfinished recipient is queued (none out for delivery) gets its record
//    appended unchanged, a `finished` outcome for every recipient that is done,
//    and an attempt record for every queued recipient with attempts behind it;
// 4. once those records are durable, the message's location moves to the copy
//    and the old segment is unpinned; a message that finished meanwhile unpins
//    the copy instead (its last outcome unpinned the old one).
//
// A message out for delivery is left for a later pass. Recovery after a crash at
// any point sees the old record, the copy, or both (the copy keeps what is known).
#include <algorithm>
#include <cinttypes>
#include <unordered_map>
#include <unordered_set>

#include "ringmta/delivery/engine.h"
#include "ringmta/runtime/log.h"

namespace ringmta::delivery {

namespace {

// Record bytes read back and rewritten per synchronous step.
constexpr std::uint64_t compaction_chunk_bytes = 4u << 20;
// Before another pass over the same segment.
constexpr std::uint64_t compaction_retry_ms = 1000;

struct queued_state {
    std::uint32_t recipient;
    std::uint32_t attempts;
    std::uint64_t due_ms;      // monotonic; 0: ready
};

struct moved {
    queue::message_ptr msg;
    journal::record_location copy;
};

}  // namespace

void engine::maybe_compact() {
    // Not while an operator's bounce pass has jobs out of the queue: the pass
    // would not see them move.
    if (_compacting || _stopping || _admin_passes > 0) return;
    std::uint64_t segment = _log.compaction_candidate();
    if (segment == 0) return;
    if (segment == _compaction_blocked_segment &&
        runtime::monotonic_ms() < _compaction_retry_at_ms) {
        return;
    }
    _compacting = true;
    runtime::spawn(compact_segment(this, segment));
}

runtime::task<void> compact_segment(engine* e, std::uint64_t segment) {
    ++e->_stats.compactions;
    std::vector<queue::message_ptr> candidates;
    {
        std::unordered_set<queue::message*> seen;
        e->_scheduler.for_each_job([&](const queue::job& j, std::uint64_t) {
            if (j.msg->segment_sequence == segment && seen.insert(j.msg.get()).second) {
                candidates.push_back(j.msg);
            }
        });
    }
    std::vector<moved> done;
    std::size_t skipped = 0;
    std::uint64_t last_ticket = 0;
    std::size_t next = 0;
    while (next < candidates.size() && !e->_stopping && e->_log.failure() == 0) {
        // Read a chunk of records back.
        std::vector<std::pair<queue::message_ptr, std::string>> images;
        std::uint64_t chunk_bytes = 0;
        while (next < candidates.size() && chunk_bytes < compaction_chunk_bytes) {
            queue::message_ptr m = candidates[next++];
            if (m->unfinished == 0 || m->segment_sequence != segment) continue;
            std::string image;
            journal::record_location at{m->segment_sequence, m->record_offset, m->record_bytes};
            int rc = co_await e->_log.read_record(at, m->id, &image);
            if (rc < 0) {
                ++skipped;   // logged by the journal; the message stays where it is
                continue;
            }
            chunk_bytes += image.size();
            images.emplace_back(std::move(m), std::move(image));
        }
        if (e->_stopping || e->_log.failure() != 0) break;
        // What is queued of each, now (the reads let deliveries run meanwhile).
        std::unordered_map<queue::message*, std::vector<queued_state>> queued;
        for (const auto& [m, image] : images) queued.emplace(m.get(), std::vector<queued_state>{});
        e->_scheduler.for_each_job([&](const queue::job& j, std::uint64_t due_ms) {
            auto it = queued.find(j.msg.get());
            if (it == queued.end()) return;
            for (std::uint32_t r : j.recipients) it->second.push_back({r, j.attempts, due_ms});
        });
        std::uint64_t now_ms = runtime::monotonic_ms();
        std::uint64_t now_unix_ms = runtime::unix_ms();
        for (auto& [m, image] : images) {
            std::vector<queued_state>& q = queued[m.get()];
            if (m->unfinished == 0 || q.size() != m->unfinished) {
                if (m->unfinished != 0) ++skipped;   // some recipient is out for delivery
                continue;
            }
            journal::record_location copy;
            last_ticket = e->_log.append_message_image(image, &copy);
            std::sort(q.begin(), q.end(),
                      [](const queued_state& a, const queued_state& b) {
                          return a.recipient < b.recipient;
                      });
            auto recipients = static_cast<std::uint32_t>(journal::message_recipient_count(image));
            std::size_t k = 0;
            for (std::uint32_t r = 0; r < recipients; ++r) {
                if (k < q.size() && q[k].recipient == r) {
                    const queued_state& s = q[k++];
                    if (s.attempts == 0 && s.due_ms == 0) continue;
                    std::uint64_t next_unix_ms =
                        s.due_ms > now_ms ? now_unix_ms + (s.due_ms - now_ms) : 0;
                    last_ticket = e->_log.append_attempt(
                        journal::attempt_record{m->id, r, s.attempts, next_unix_ms});
                } else {
                    last_ticket = e->_log.append_outcome(journal::outcome_record{
                        m->id, r, journal::outcome_status::finished, now_unix_ms});
                }
            }
            done.push_back({std::move(m), copy});
        }
    }
    if (!done.empty()) {
        int rc = co_await e->_log.durable(last_ticket);
        if (rc != 0) {
            // The journal failed: the process ends or the shard stops; recovery on
            // restart sees both copies. Nothing here to undo.
            e->_compacting = false;
            e->_wake.notify();
            co_return;
        }
        std::uint64_t ticket = last_ticket;   // durable: the releases go at once
        for (moved& mv : done) {
            queue::message& m = *mv.msg;
            if (m.unfinished == 0) {
                // Finished while the copy was written: its last outcome unpinned the
                // old record; the copy is not needed either.
                e->_log.unpin_segment(mv.copy.segment_sequence, mv.copy.bytes, ticket);
                continue;
            }
            std::uint64_t old_segment = m.segment_sequence;
            std::uint32_t old_bytes = m.record_bytes;
            m.segment_sequence = mv.copy.segment_sequence;
            m.record_offset = mv.copy.offset;
            m.record_bytes = mv.copy.bytes;
            e->_log.unpin_segment(old_segment, old_bytes, ticket);
        }
    }
    e->_stats.compaction_rewrites += done.size();
    // The same segment again only after a pause: its releases take effect with the
    // journal's next batch, and messages out for delivery need time to come back.
    // Without it a pass that found nothing to do (it never suspends) would notify
    // the dispatcher while it runs, whose wait() then returns at once and starts
    // the same pass again: a loop that never yields to the reactor.
    e->_compaction_blocked_segment = segment;
    e->_compaction_retry_at_ms = runtime::monotonic_ms() + compaction_retry_ms;
    log_info("journal compaction of segment %" PRIu64 ": %zu message(s) rewritten forward, "
             "%zu left for a later pass (out for delivery or unreadable)",
             segment, done.size(), skipped);
    e->_compacting = false;
    e->_wake.notify();
}

}  // namespace ringmta::delivery
