// Live-set reconstruction from journal records (see recovery.h for the rules). Runs once per
// shard at start-up on the shard's thread; memory is bounded by the live messages (plus their
// bodies when kept) and, per message, by twice its recipient count of attempt states.
#include "ringmta/journal/recovery.h"

#include <algorithm>
#include <utility>

#include "ringmta/runtime/assert.h"

namespace ringmta::journal {
namespace {

// Keeps only the last attempt state per recipient (records arrive in log order, so the
// later one wins), ascending by recipient index, and drops those for finished recipients.
void compact_attempts(std::vector<attempt_record>& attempts, const std::vector<bool>& done) {
    std::stable_sort(attempts.begin(), attempts.end(),
                     [](const attempt_record& a, const attempt_record& b) {
                         return a.recipient_index < b.recipient_index;
                     });
    std::vector<attempt_record> kept;
    kept.reserve(attempts.size());
    for (std::size_t i = 0; i < attempts.size(); ++i) {
        bool last_of_index = i + 1 == attempts.size() ||
                             attempts[i + 1].recipient_index != attempts[i].recipient_index;
        if (last_of_index && !done[attempts[i].recipient_index]) kept.push_back(attempts[i]);
    }
    attempts = std::move(kept);
}

}  // namespace

void recovery::begin_segment(std::uint64_t sequence) {
    RINGMTA_ASSERT(!_finished, "journal recovery: segment %llu after finish()",
                   static_cast<unsigned long long>(sequence));
    _segment_sequence = sequence;
}

void recovery::apply(const scanned_record& r) {
    RINGMTA_ASSERT(!_finished, "journal recovery: record applied after finish()");
    RINGMTA_ASSERT(r.header.magic == record_magic, "journal recovery: unscanned record");
    ++_stats.records;
    _max_message_id = std::max(_max_message_id, r.header.message_id);
    switch (static_cast<record_type>(r.header.type)) {
    case record_type::segment_header: {
        segment_header_record h{};
        if (!decode_segment_header(r.payload, h)) ++_stats.corrupt;
        return;
    }
    case record_type::message: apply_message(r); return;
    case record_type::outcome: apply_outcome(r); return;
    case record_type::attempt: apply_attempt(r); return;
    }
    ++_stats.unknown_types;  // a newer writer's record: valid checksum, meaning unknown here
}

void recovery::apply_message(const scanned_record& r) {
    ++_stats.messages;
    message_record decoded;
    if (!decode_message(r.header.message_id, r.payload, decoded)) {
        ++_stats.corrupt;
        return;
    }
    // The body is the payload's tail (record.h), so its place follows from its size.
    auto body_bytes = static_cast<std::uint32_t>(decoded.body.size());
    body_location body_at{
        static_cast<std::uint32_t>(record_header_bytes + r.payload.size() - body_bytes),
        body_bytes};
    if (!_keep_bodies) {
        // Only what requeueing needs stays: ids, flags, times and the recipient
        // addresses (routing). The rest is read back with the body for delivery.
        std::string().swap(decoded.body);
        std::string().swap(decoded.sender);
        std::string().swap(decoded.helo);
        std::string().swap(decoded.client_address);
        std::string().swap(decoded.envid);
        for (recipient_entry& e : decoded.recipients) std::string().swap(e.orcpt);
    }
    auto [it, inserted] = _live.try_emplace(r.header.message_id);
    entry& e = it->second;
    if (!inserted && e.done.size() != decoded.recipients.size()) {
        ++_stats.corrupt;  // a rewritten copy must carry the same recipient list
        return;
    }
    if (inserted) {
        e.done.assign(decoded.recipients.size(), false);
        e.pending_count = decoded.recipients.size();
    }
    e.live.message = std::move(decoded);
    e.live.segment_sequence = _segment_sequence;
    e.live.record_offset = r.offset;
    e.live.record_size = static_cast<std::uint32_t>(record_bytes(r.payload.size()));
    e.live.body_at = body_at;
}

void recovery::apply_outcome(const scanned_record& r) {
    ++_stats.outcomes;
    outcome_record o{};
    if (!decode_outcome(r.header.message_id, r.payload, o)) {
        ++_stats.corrupt;
        return;
    }
    auto it = _live.find(o.message_id);
    if (it == _live.end()) {
        ++_stats.orphan_outcomes;
        return;
    }
    entry& e = it->second;
    if (o.recipient_index >= e.done.size()) {
        ++_stats.corrupt;
        return;
    }
    if (e.done[o.recipient_index]) return;  // a repeated outcome changes nothing
    e.done[o.recipient_index] = true;
    if (--e.pending_count == 0) _live.erase(it);  // fully done: free it (and its body) now
}

void recovery::apply_attempt(const scanned_record& r) {
    ++_stats.attempts;
    attempt_record a{};
    if (!decode_attempt(r.header.message_id, r.payload, a)) {
        ++_stats.corrupt;
        return;
    }
    auto it = _live.find(a.message_id);
    if (it == _live.end()) {
        ++_stats.orphan_outcomes;
        return;
    }
    entry& e = it->second;
    if (a.recipient_index >= e.done.size()) {
        ++_stats.corrupt;
        return;
    }
    if (e.done[a.recipient_index]) return;
    e.live.attempts.push_back(a);
    if (e.live.attempts.size() > 2 * e.done.size()) compact_attempts(e.live.attempts, e.done);
}

std::vector<live_message> recovery::finish() {
    RINGMTA_ASSERT(!_finished, "journal recovery: finish() called twice");
    _finished = true;
    // Queue ids grow with arrival on a shard (id_generator), even across clock steps. Sort
    // pointers, not the messages: each message is then moved exactly once.
    std::vector<std::pair<std::uint64_t, entry*>> order;
    order.reserve(_live.size());
    for (auto& [id, e] : _live) order.emplace_back(id, &e);
    std::sort(order.begin(), order.end());
    std::vector<live_message> out;
    out.reserve(order.size());
    for (auto [id, e] : order) {
        RINGMTA_ASSERT(e->pending_count > 0, "journal recovery: finished message %llu kept",
                       static_cast<unsigned long long>(e->live.message.message_id));
        e->live.pending.reserve(e->pending_count);
        for (std::uint32_t i = 0; i < e->done.size(); ++i) {
            if (!e->done[i]) e->live.pending.push_back(i);
        }
        RINGMTA_ASSERT(e->live.pending.size() == e->pending_count,
                       "journal recovery: pending count %zu, found %zu", e->pending_count,
                       e->live.pending.size());
        if (!e->live.attempts.empty()) compact_attempts(e->live.attempts, e->done);
        out.push_back(std::move(e->live));
    }
    _live.clear();
    return out;
}

}  // namespace ringmta::journal
