// journal: one shard's segmented append-only log (see DESIGN.md, Journal).
//
// Appends made during a reactor turn go into one pending batch; at the end of the
// turn (turn_hook) the batch becomes one write plus one fdatasync, and when that
// completes every coroutine waiting on a record of the batch resumes. One batch
// is in flight at a time; appends made meanwhile form the next batch (group
// commit). A 250 may be sent only after durable(ticket) resumed with 0.
//
// A failed write or fdatasync is a storage integrity error: the journal never
// retries an fsync. It calls on_storage_failure, whose default logs and ends the
// process; waiting sessions never get a 250, and recovery on restart takes over
// (STYLE.md, "Three kinds of failure"). If the handler returns (tests), the
// journal stays failed: every durable() not yet satisfied resumes with the error.
//
// Reclaim: segments are removed oldest first once no live message remains in
// them; one removed segment's file is kept and recycled as the next segment
// (appends into blocks already written change no file metadata, so a group
// commit is one device write, not two). Records are sealed with their segment's
// key (segment_key.h), so what a recycled file held before is never read as the
// new segment's. Compaction: when the oldest segment keeps the spool at more
// than twice its live data (plus two segments), its live messages are rewritten
// forward (compaction_candidate, read_record, append_message_image) and it goes.
#pragma once

#include <array>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ringmta/journal/record.h"
#include "ringmta/journal/recovery.h"
#include "ringmta/journal/segment_io.h"
#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"

namespace ringmta::journal {

struct journal_options {
    std::string directory;               // this shard's folder, e.g. var/spool/shard-0
    unsigned shard = 0;
    std::uint64_t segment_bytes = 64ull << 20;
    bool sync = true;                    // false: benchmarks only (no fdatasync)
    std::uint64_t spool_bytes_max = 0;   // this shard's share of max_spool_size; 0: none
    // Group commit: a batch waits this long after its first record for more
    // before it is written (journal.commit_delay); 0: written at the end of the
    // reactor turn. A batch of commit_early_bytes goes at once.
    std::uint64_t commit_delay_ms = 0;
    // Keep a removed segment's file for the next segment (see above); false: every
    // segment is a new, preallocated file.
    bool recycle_segments = true;
    // At open: the first segment, and a spare kept as the recycled file, are written
    // with zeros before use (segment_io::write_zeros), so that appends to them
    // change no file metadata; later new segments are only preallocated.
    bool zero_fill_segments = true;
    // Called once, with a message naming the file and the error. Empty: log, exit(75).
    std::function<void(const std::string&)> on_storage_failure;
};

struct record_location {
    std::uint64_t segment_sequence = 0;
    std::uint64_t offset = 0;            // of the record within the segment
    std::uint32_t bytes = 0;             // the whole record, header and padding included
};

// A batch under commit_delay is written before its delay is up once it holds this.
inline constexpr std::size_t commit_early_bytes = 1u << 20;

// Power-of-two buckets: [0] counts values of 0 or 1, [k] values in [2^k, 2^(k+1)),
// the last one everything above.
struct log2_histogram {
    std::array<std::uint64_t, 24> buckets{};
    void add(std::uint64_t value);
    std::uint64_t count() const;
    // An upper bound of the q-quantile (0 < q <= 1): the top of its bucket.
    std::uint64_t quantile_bound(double q) const;
};

struct journal_stats {
    std::uint64_t records = 0;
    std::uint64_t batches = 0;
    std::uint64_t bytes = 0;
    std::uint64_t segments_created = 0;
    std::uint64_t segments_removed = 0;       // recycled ones included
    std::uint64_t segments_recycled = 0;      // made from a removed one's file
    std::uint64_t segments_zero_filled = 0;   // new files written with zeros (the spare too)
    std::uint64_t largest_batch_records = 0;
    std::uint64_t messages_rewritten = 0;    // by compaction
    std::uint64_t bytes_rewritten = 0;
    // Group commit, per batch: its records; how long its first record waited
    // before the batch was submitted (the reactor turn, or commit_delay, or the
    // batch before it still in flight); and its write + fdatasync, submission to
    // completion. Times in microseconds.
    log2_histogram batch_records;
    log2_histogram wait_us;
    log2_histogram commit_us;
    std::uint64_t wait_us_total = 0;
    std::uint64_t commit_us_total = 0;
};

// One line for the shutdown log: batches, records per batch, wait and commit times.
std::string describe_group_commit(const journal_stats& stats);

class journal final : public runtime::turn_hook, public append_target {
public:
    journal(journal_options options, segment_io& io);
    ~journal();
    journal(const journal&) = delete;
    journal& operator=(const journal&) = delete;

    // Start-up, on the shard before it serves: replays every segment in order into
    // `into`, then starts a fresh segment for appends (a segment written before a
    // crash is never appended to again). Returns "" or an error naming the file.
    // The shard's key file is read (or, when missing or damaged, rebuilt from the
    // segment headers, or made) first.
    std::string open(recovery& into);
    // A recovered message that is still live pins its segment; `record_bytes` (its
    // message record's size) counts as live data there.
    void pin_segment(std::uint64_t segment_sequence, std::uint32_t record_bytes);

    // Room for a message record of about `bytes`: true when the current segment can
    // take it, or a new segment could be created for it (it is, now). False when the
    // spool is at spool_bytes_max or the disk is full (ENOSPC or EDQUOT creating a
    // segment): refuse the message (452 4.3.1) and ask again later; space returns as
    // delivered mail's segments are removed. Outcome and attempt records never wait
    // for room: they go to the current segment, past its nominal size if need be.
    bool make_room(std::size_t bytes);
    bool full() const { return _full; }
    std::uint64_t spool_bytes() const;

    // Appends return a ticket: durable(ticket) resumes once the record is on disk.
    std::uint64_t append_message(const message_view& m, record_location* where);
    std::uint64_t append_outcome(const outcome_record& o);
    std::uint64_t append_attempt(const attempt_record& a);
    std::uint64_t last_ticket() const { return _appended; }

    // The message record (of `record_bytes`) stored in `segment_sequence` is no
    // longer needed once the records up to `ticket` are durable (the message is
    // finished, or compaction rewrote it); its segment may then be reclaimed.
    void unpin_segment(std::uint64_t segment_sequence, std::uint32_t record_bytes,
                       std::uint64_t ticket);

    // Compaction. The oldest segment, when it should be compacted: it is pinned,
    // it is not the current one, and the spool holds more than twice the live
    // message records plus two segments (the oldest pins every newer segment, as
    // they are reclaimed oldest first). 0: nothing to compact.
    std::uint64_t compaction_candidate() const;
    // Appends a message record read back with read_record() unchanged (same id,
    // same recipient list) to the current segment, pinning it as append_message does.
    std::uint64_t append_message_image(std::string_view image, record_location* where);
    // Live message record bytes in all segments.
    std::uint64_t live_bytes() const;
    // Live messages whose record is in `segment_sequence` (0 for an unknown one).
    std::uint64_t segment_pins(std::uint64_t segment_sequence) const {
        auto it = _segments.find(segment_sequence);
        return it == _segments.end() ? 0 : it->second.pins;
    }
    // Reads and checks the message record at `at` into `*image` (exactly the record):
    // 0, -EIO when it does not check out (logged), or -errno.
    runtime::task<int> read_record(record_location at, std::uint64_t message_id,
                                   std::string* image);

    // Resumes with 0 once the record of `ticket` is on disk, or with -errno if the
    // journal failed before that.
    auto durable(std::uint64_t ticket) {
        struct awaiter {
            journal& _j;
            std::uint64_t _ticket;
            bool await_ready() const noexcept {
                return _j._durable >= _ticket || _j._failure != 0;
            }
            void await_suspend(std::coroutine_handle<> h) { _j._waiters.push_back({_ticket, h}); }
            int await_resume() const noexcept {
                return _j._durable >= _ticket ? 0 : _j._failure;
            }
        };
        return awaiter{*this, ticket};
    }
    // Reads a durable message record back (usually from the page cache) and sets
    // `*body` to its body, after checking the record's crc, type and message id: 0,
    // -EIO when the record does not check out (named in the log), or -errno. The
    // segment must still be pinned by the message.
    runtime::task<int> read_body(record_location at, std::uint64_t message_id,
                                 std::string* body);
    // The same read, decoded whole: envelope, recipients and body.
    runtime::task<int> read_message(record_location at, std::uint64_t message_id,
                                    message_record* out);
    std::uint64_t body_reads() const { return _body_reads; }

    int failure() const { return _failure; }

    void before_wait() override;
    void append_done(int result) override;

    const journal_stats& stats() const { return _stats; }
    const std::string& directory() const { return _options.directory; }

private:
    struct chunk {
        std::uint64_t segment_sequence = 0;
        int fd = -1;
        std::uint64_t offset = 0;        // where `data` starts in the segment
        std::string data;
        std::size_t written = 0;         // bytes of `data` on disk so far (short writes)
        std::uint64_t last_ticket = 0;
    };
    struct segment_state {
        int fd = -1;
        std::uint64_t write_offset = 0;  // next byte assigned to an append
        std::uint64_t pins = 0;          // live messages stored in it
        std::uint64_t live_bytes = 0;    // their message records
        std::uint32_t reads = 0;         // read_record() in flight: the file stays open
        segment_key key;                 // its records' seal (unsealed: version 1)
        std::uint64_t file_bytes = 0;    // the file's size when opened, created or reused
    };
    struct waiter {
        std::uint64_t ticket;
        std::coroutine_handle<> handle;
    };
    struct release {
        std::uint64_t ticket;
        std::uint64_t segment_sequence;
        std::uint32_t record_bytes;
    };

    chunk& reserve(std::size_t bytes);
    bool fits(std::size_t bytes) const;
    // 0, or -errno (nothing changed). `zero_fill`: a new file is written with zeros
    // first (not a recycled one: its blocks are written already).
    int create_segment(bool zero_fill = false);
    // At open, with zero_fill_segments: a zeroed file kept as recycled_name, which
    // becomes the second segment (the third is usually the first one's file,
    // recycled once its mail is delivered).
    void create_spare();
    // segment_io::write_zeros over a new file: true, or false after a warning.
    bool zero_fill(int fd, const std::string& name);
    // Accounts for the record just encoded at the end of `c`; returns its ticket.
    std::uint64_t appended(chunk& c);
    void roll(bool zero_fill = false);
    void start_next_chunk();
    void wake_waiters(bool all);
    void fail(const std::string& what, int error);
    void reclaim();
    // Keeps the removed segment's file as recycled_name; false: not kept.
    bool recycle(std::uint64_t sequence, const segment_state& segment);
    // The recycled file renamed to `name` (durably) and opened: fd, or -errno after
    // fail(); -ENOENT when there is none to use.
    int reuse_recycled(const std::string& name);
    bool room_for_segment() const;
    std::string load_key(const std::vector<std::uint64_t>& sequences);
    segment_key key_for(std::uint64_t sequence) const;
    std::string segment_name(std::uint64_t sequence) const;

    journal_options _options;
    segment_io& _io;
    std::map<std::uint64_t, segment_state> _segments;   // by sequence, oldest first
    std::uint64_t _current = 0;                          // sequence appends go to
    std::deque<chunk> _pending;                          // next batch, per segment
    std::deque<chunk> _in_flight;                        // the batch being written
    // A written chunk's buffer, kept for the next batch: batches are written as
    // they come, so one buffer sized by the largest recent batch serves them all
    // without growing (and copying) a new one record by record.
    std::string _spare;
    journal_secret _secret;                              // the shard's (journal.key)
    std::uint64_t _first_sealed = 1;                     // first sequence sealed with it
    segment_key _current_key;                            // _current's
    bool _recycled = false;                              // a file kept as recycled_name
    bool _recycled_spare = false;                        // ... made by create_spare()
    std::uint64_t _recycled_bytes = 0;                   // its size
    bool _writing = false;
    std::uint64_t _pending_records = 0;                  // in the next batch
    std::size_t _pending_bytes = 0;
    std::uint64_t _batch_opened_ns = 0;                  // its first record's append
    std::uint64_t _in_flight_started_ns = 0;
    int _failure = 0;                                    // -errno once failed
    bool _full = false;                                  // the last make_room() failed
    std::uint64_t _appended = 0;                         // tickets handed out
    std::uint64_t _durable = 0;                          // tickets on disk
    std::vector<waiter> _waiters;
    std::deque<release> _releases;
    journal_stats _stats;
    std::uint64_t _body_reads = 0;
};

}  // namespace ringmta::journal
