// Rebuilds a shard's live set at start-up from the records of its journal segments, fed in
// segment order (oldest first) as segment_scanner returns them. Pure: the journal's I/O side
// reads the segments and feeds them here on the shard's thread before it accepts mail.
//
// Rules:
// * message: added with every recipient pending. A second message record with the same id
//   (compaction rewrote it forward) moves the message to the newer segment and keeps what is
//   already known (outcomes, attempts); so a compactor must rewrite the recipient list as is.
// * outcome: the recipient is done; a message with no recipient left is dropped at once.
//   An outcome or attempt for an unknown id is ignored and counted (orphan_outcomes).
// * attempt: the latest retry state for that recipient is kept while it is pending.
// * a payload that does not decode, or a recipient index out of range: counted as corrupt.
// * an unknown record type: counted and skipped (the format's extensibility rule).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "ringmta/journal/record.h"

namespace ringmta::journal {

struct live_message {
    message_record message;
    std::vector<std::uint32_t> pending;    // recipient indexes without a final outcome, ascending
    std::vector<attempt_record> attempts;  // last attempt state per pending recipient (if any),
                                           // ascending by recipient_index
    std::uint64_t segment_sequence = 0;    // segment holding the message record
    std::uint64_t record_offset = 0;       // of the message record within that segment
    std::uint32_t record_size = 0;         // the whole record, header and padding included
    body_location body_at{};               // the body, relative to record_offset
};

class recovery {
public:
    // keep_bodies = false keeps of each message only what requeueing needs (ids, flags,
    // times, recipient addresses): body, sender, helo, client address, ENVID and ORCPT
    // are left empty, and the caller reads the record back (record_offset, record_size)
    // when it delivers, so recovery never holds every body at once.
    explicit recovery(bool keep_bodies = true) : _keep_bodies(keep_bodies) {}

    void begin_segment(std::uint64_t sequence);
    void apply(const scanned_record& r);
    // Messages with at least one pending recipient, in arrival (queue id) order. Ends the
    // recovery: apply() must not be called afterwards.
    std::vector<live_message> finish();
    // Largest message id in any record applied: seed for id_generator's floor.
    std::uint64_t max_message_id() const { return _max_message_id; }

    struct stats {
        std::size_t records, messages, outcomes, attempts, orphan_outcomes, corrupt,
            unknown_types;
    };
    const stats& counters() const { return _stats; }

private:
    struct entry {
        live_message live;
        std::vector<bool> done;  // per recipient
        std::size_t pending_count = 0;
    };

    void apply_message(const scanned_record& r);
    void apply_outcome(const scanned_record& r);
    void apply_attempt(const scanned_record& r);

    bool _keep_bodies;
    bool _finished = false;
    std::uint64_t _segment_sequence = 0;
    std::uint64_t _max_message_id = 0;
    stats _stats{};
    std::unordered_map<std::uint64_t, entry> _live;  // by message id
};

}  // namespace ringmta::journal
