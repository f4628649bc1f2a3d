// The journal against injected storage faults (memory_segment_io): short writes
// are resumed, a failed write or fdatasync acknowledges nothing more and loses
// nothing acknowledged before it, and a crash that tears the unsynced tail loses
// no acknowledged record and never yields a damaged one. Each scenario runs on a
// real reactor; completions arrive through the ring.
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ringmta/journal/journal.h"
#include "ringmta/journal/memory_segment_io.h"
#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"

using namespace ringmta;
using namespace ringmta::journal;

namespace {

constexpr const char* directory = "mem/shard-0";

// Segment files (the key file and a kept recycled file are not segments).
std::size_t segment_files(memory_segment_io& io) {
    std::vector<std::string> names;
    io.list_directory(directory, names);
    return static_cast<std::size_t>(std::count_if(names.begin(), names.end(), [](const std::string& n) {
        return n.ends_with(".seg");
    }));
}

std::string body_for(std::uint64_t id) {
    std::string body = "Subject: message " + std::to_string(id) + "\r\n\r\n";
    body.append(100 + (id * 7919) % 4000, static_cast<char>('a' + id % 26));
    return body + "\r\n";
}

struct harness {
    memory_segment_io* io;
    std::vector<std::string> failures;
    std::unique_ptr<journal::journal> j;
    std::map<std::uint64_t, std::string> recovered;   // id -> body

    explicit harness(memory_segment_io* storage) : io(storage) { open(); }
    ~harness() { close(); }

    void open() {
        journal_options options;
        options.directory = directory;
        options.segment_bytes = 1 << 20;
        options.on_storage_failure = [this](const std::string& m) { failures.push_back(m); };
        j = std::make_unique<journal::journal>(options, *io);
        recovery r;
        std::string error = j->open(r);
        REQUIRE(error.empty());
        recovered.clear();
        for (live_message& m : r.finish()) {
            recovered[m.message.message_id] = m.message.body;
            j->pin_segment(m.segment_sequence, m.record_size);  // queued: its segment stays
        }
        runtime::reactor::current().add_turn_hook(j.get());
    }
    void close() {
        if (j) runtime::reactor::current().remove_turn_hook(j.get());
        j.reset();
    }
    void restart() {  // a new process over what the storage kept
        close();
        open();
    }
    std::uint64_t append(std::uint64_t id) {
        static const std::vector<std::string> recipients{"r@example.net"};
        std::string body = body_for(id);
        message_view m{id, 1, 0, "s@example.org", "helo", "127.0.0.1", "", 0, recipients, body};
        return j->append_message(m, nullptr);
    }
};

using scenario = runtime::task<void> (*)(void* state);

runtime::task<void> run_scenario(scenario s, void* state, runtime::reactor* r) {
    co_await s(state);
    r->request_exit();
}

void on_reactor(scenario s, void* state) {
    runtime::reactor r(runtime::reactor_options{});
    runtime::spawn(run_scenario(s, state, &r));
    r.run();
}

// Appends batches [first, first + count) and waits for them; returns durable()'s result.
runtime::task<int> batch(harness* h, std::uint64_t first, std::uint64_t count) {
    std::uint64_t ticket = 0;
    for (std::uint64_t id = first; id < first + count; ++id) ticket = h->append(id);
    co_return co_await h->j->durable(ticket);
}

runtime::task<void> short_writes(void* state) {
    auto* io = static_cast<memory_segment_io*>(state);
    harness h(io);
    std::mt19937_64 random(7);
    std::uint64_t next = 1;
    while (next <= 300) {
        std::uint64_t count = std::min<std::uint64_t>(1 + random() % 20, 301 - next);
        CHECK(co_await batch(&h, next, count) == 0);
        next += count;
    }
    CHECK(io->short_writes() > 10);
    h.restart();
    CHECK(h.failures.empty());
    REQUIRE(h.recovered.size() == 300);
    for (auto& [id, body] : h.recovered) CHECK(body == body_for(id));
}

}  // namespace

TEST_CASE("short writes are resumed until every byte is written, then synced") {
    fault_plan plan;
    plan.seed = 11;
    plan.short_write_probability = 0.6;
    memory_segment_io io(plan);
    on_reactor(short_writes, &io);
}

namespace {

// Batches of 5: the first two succeed, the third's storage fault fails it and
// everything after; a crash and restart must still hold the first ten messages.
runtime::task<void> fault_stops_acknowledgements(void* state) {
    auto* io = static_cast<memory_segment_io*>(state);
    harness h(io);
    CHECK(co_await batch(&h, 1, 5) == 0);
    CHECK(co_await batch(&h, 6, 5) == 0);
    CHECK(co_await batch(&h, 11, 5) == -EIO);
    CHECK(co_await batch(&h, 16, 5) == -EIO);  // failed for good: no later batch is acked
    REQUIRE(h.failures.size() == 1);
    CHECK(h.failures[0].find("Input/output error") != std::string::npos);
    CHECK(h.failures[0].find(".seg at offset") != std::string::npos);
    io->crash();
    io->set_plan(fault_plan{});
    h.restart();
    for (std::uint64_t id = 1; id <= 10; ++id) {
        REQUIRE(h.recovered.count(id) == 1);
        CHECK(h.recovered[id] == body_for(id));
    }
    for (auto& [id, body] : h.recovered) CHECK(body == body_for(id));
    CHECK(h.recovered.size() <= 15);  // batch 3 maybe (never acknowledged), batch 4 never
}

}  // namespace

TEST_CASE("a failed fdatasync fails its batch and every later one, and loses nothing acked") {
    fault_plan plan;
    plan.fail_sync_at = 3;
    memory_segment_io io(plan);
    on_reactor(fault_stops_acknowledgements, &io);
}

TEST_CASE("a failed write fails its batch and every later one, and loses nothing acked") {
    fault_plan plan;
    plan.fail_write_at = 3;
    memory_segment_io io(plan);
    on_reactor(fault_stops_acknowledgements, &io);
}

namespace {

struct torn_state {
    std::uint64_t seed = 0;
    std::size_t partially_recovered_batches = 0;
    std::size_t wholly_lost_batches = 0;
    std::size_t lost_acknowledged = 0;
    std::size_t damaged = 0;
};

// Acknowledged batches, then one batch written but not yet synced when the
// process dies: the crash keeps a random set of its sectors.
runtime::task<void> torn_tail(void* state) {
    auto* t = static_cast<torn_state*>(state);
    fault_plan plan;
    plan.seed = t->seed;
    memory_segment_io io(plan);
    harness h(&io);
    std::mt19937_64 random(t->seed);
    std::uint64_t next = 1;
    for (std::uint64_t b = 0, batches = 1 + random() % 6; b < batches; ++b) {
        std::uint64_t count = 1 + random() % 8;
        CHECK(co_await batch(&h, next, count) == 0);
        next += count;
    }
    std::uint64_t acknowledged = next - 1;
    std::uint64_t last_count = 2 + random() % 10;
    for (std::uint64_t id = next; id < next + last_count; ++id) h.append(id);
    h.j->before_wait();  // the write goes out ...
    io.crash();          // ... and the process dies before its fdatasync completes
    h.restart();
    for (std::uint64_t id = 1; id <= acknowledged; ++id) t->lost_acknowledged += !h.recovered.count(id);
    std::size_t from_last = 0;
    for (auto& [id, body] : h.recovered) {
        t->damaged += body != body_for(id) || id >= next + last_count;
        from_last += id >= next;
    }
    t->partially_recovered_batches += from_last > 0 && from_last < last_count;
    t->wholly_lost_batches += from_last == 0;
}

}  // namespace

TEST_CASE("a crash tearing the unsynced tail loses no acknowledged record, yields no damaged one") {
    torn_state totals;
    for (std::uint64_t seed = 1; seed <= 100; ++seed) {
        torn_state t;
        t.seed = seed;
        on_reactor(torn_tail, &t);
        totals.partially_recovered_batches += t.partially_recovered_batches;
        totals.wholly_lost_batches += t.wholly_lost_batches;
        totals.lost_acknowledged += t.lost_acknowledged;
        totals.damaged += t.damaged;
    }
    CHECK(totals.lost_acknowledged == 0);
    CHECK(totals.damaged == 0);
    // The crashes really tore batches: a record spanning k dirty sectors survives with
    // probability 2^-k, so some crashes kept part of the unacknowledged batch (torn
    // records between whole ones) and many kept none of it.
    CHECK(totals.partially_recovered_batches > 0);
    CHECK(totals.wholly_lost_batches > 20);
}

namespace {

runtime::task<void> no_space(void* state) {
    auto* failures = static_cast<std::vector<std::string>*>(state);
    fault_plan plan;
    plan.create_error = -ENOSPC;
    memory_segment_io io(plan);
    harness h(&io);
    CHECK(co_await batch(&h, 1, 3) == -ENOSPC);
    *failures = h.failures;
}

}  // namespace

TEST_CASE("no space for a segment is a storage failure naming the file, and nothing is acked") {
    std::vector<std::string> failures;
    on_reactor(no_space, &failures);
    REQUIRE(failures.size() == 1);
    CHECK(failures[0].find("cannot create segment 0000000000000001.seg") != std::string::npos);
    CHECK(failures[0].find("No space left on device") != std::string::npos);
}

namespace {

struct spool_state {
    bool use_limit = true;      // else: the disk fills (ENOSPC at segment creation)
    std::size_t accepted = 0;
    bool refused = false;
    bool room_again = false;
    std::size_t segments_at_full = 0;
    std::size_t segments_after = 0;
};

// Messages of ~100 KB into 1 MiB segments until the spool refuses, then every
// message is delivered (outcomes, unpins): space must come back.
runtime::task<void> spool_fills_and_drains(void* state) {
    auto* s = static_cast<spool_state*>(state);
    memory_segment_io io;
    journal_options options;
    options.directory = directory;
    options.segment_bytes = 1 << 20;
    if (s->use_limit) options.spool_bytes_max = 3 << 20;
    std::vector<std::string> failures;
    options.on_storage_failure = [&failures](const std::string& m) { failures.push_back(m); };
    journal::journal j(options, io);
    recovery none;
    REQUIRE(j.open(none).empty());
    runtime::reactor::current().add_turn_hook(&j);
    std::vector<std::string> recipients{"r@example.net"};
    std::string body(100000, 'b');
    std::vector<record_location> where;
    for (std::uint64_t id = 1; id <= 200; ++id) {
        if (!s->use_limit && segment_files(io) == 2) {
            fault_plan disk_full;
            disk_full.create_error = -ENOSPC;
            io.set_plan(disk_full);
        }
        if (!j.make_room(body.size() + 1024)) {
            s->refused = true;
            break;
        }
        where.emplace_back();
        message_view m{id, 1, 0, "s@example.org", "h", "127.0.0.1", "", 0, recipients, body};
        co_await j.durable(j.append_message(m, &where.back()));
        ++s->accepted;
    }
    s->segments_at_full = segment_files(io);
    CHECK(j.full());
    io.set_plan(fault_plan{});
    for (std::uint64_t id = 1; id <= s->accepted; ++id) {
        std::uint64_t t = j.append_outcome(outcome_record{id, 0, outcome_status::delivered, 2});
        j.unpin_segment(where[id - 1].segment_sequence, where[id - 1].bytes, t);
    }
    co_await j.durable(j.last_ticket());  // outcomes durable, then reclaim
    s->room_again = j.make_room(body.size() + 1024);
    s->segments_after = segment_files(io);
    CHECK(failures.empty());
    runtime::reactor::current().remove_turn_hook(&j);
}

// The first segment and a spare are written with zeros at open; the second segment
// is the spare (not counted as recycled: no removed segment's file), and a zero fill
// that fails costs only speed.
struct zero_fill_state {
    fault_plan plan;
    std::uint64_t fills_at_open = 0;
    bool spare_after_open = false;
    bool spare_after_roll = true;
    journal_stats stats;
    std::uint64_t acked = 0;
    std::size_t recovered = 0;
    std::vector<std::string> failures;
};

runtime::task<void> zero_filled_spare(void* state) {
    auto* s = static_cast<zero_fill_state*>(state);
    memory_segment_io io(s->plan);
    harness h(&io);
    const std::string spare = std::string(directory) + "/recycled.tmp";
    s->fills_at_open = io.zero_fills();
    s->spare_after_open = io.file_image(spare) != nullptr;
    // Bounded: a 1 MiB segment holds about 500 of these.
    for (std::uint64_t id = 1; id <= 2000 && h.j->stats().segments_created < 2; ++id) {
        REQUIRE(co_await batch(&h, id, 1) == 0);
        s->acked = id;
    }
    s->stats = h.j->stats();
    s->spare_after_roll = io.file_image(spare) != nullptr;
    h.restart();
    s->recovered = h.recovered.size();
    s->failures = h.failures;
}

}  // namespace

TEST_CASE("a spool at max_spool_size refuses new messages until delivered ones free it") {
    spool_state s;
    on_reactor(spool_fills_and_drains, &s);
    CHECK(s.refused);
    CHECK(s.accepted >= 20);            // about 10 per segment, 3 segments allowed
    CHECK(s.accepted <= 30);
    CHECK(s.segments_at_full == 3);
    CHECK(s.room_again);
    CHECK(s.segments_after <= 2);
}

TEST_CASE("a full disk (ENOSPC creating a segment) refuses messages, never fails the journal") {
    spool_state s;
    s.use_limit = false;
    on_reactor(spool_fills_and_drains, &s);
    CHECK(s.refused);
    CHECK(s.segments_at_full == 2);
    CHECK(s.room_again);
}

namespace {

// Records anyone could mail: an outcome for each message id in [forged_first,
// forged_first + 8), unsealed (as version 1 wrote) and sealed with keys computed
// without the shard's secret (a zero secret, for the sequences this test uses), each
// copy one byte further on, so one copy of each lies 8-byte aligned in any record.
constexpr std::uint64_t forged_first = 0xf00d0000;

std::string forged_body(std::uint64_t id) {
    std::string forged;
    for (std::uint64_t n = 0; n < 8; ++n) {
        segment_key guess = n == 0 ? segment_key{} : derive_segment_key(journal_secret{}, n);
        encode_outcome(forged, outcome_record{forged_first + n, 0, outcome_status::delivered, 1},
                       guess);
        static const std::vector<std::string> recipients{"victim@example.net"};
        std::string text = "forged";
        encode_message(forged, message_view{forged_first + n, 1, 0, "evil@example.org", "h",
                                            "192.0.2.1", "", 0, recipients, text},
                       guess);
    }
    std::string body = "Subject: message " + std::to_string(id) + "\r\n\r\n";
    body += std::string(20000, 'p');
    for (int shift = 0; shift < 8; ++shift) body += "x" + forged;
    return body + "\r\n";
}

bool is_forged(std::uint64_t id) { return id >= forged_first && id < forged_first + 8; }

std::string large_body(std::uint64_t) { return std::string(60000, 'b'); }

// Messages 1..count (bodies from body_of), each acknowledged; then every one
// delivered (its outcome appended, its segment unpinned) and the outcomes durable:
// the segments they filled are reclaimed, and one file is kept for recycling.
runtime::task<void> fill_and_deliver(harness* h, std::uint64_t count,
                                     std::string (*body_of)(std::uint64_t)) {
    static const std::vector<std::string> recipients{"r@example.net"};
    std::vector<record_location> where;
    for (std::uint64_t id = 1; id <= count; ++id) {
        std::string body = body_of(id);
        message_view m{id, 1, 0, "s@example.org", "h", "127.0.0.1", "", 0, recipients, body};
        where.emplace_back();
        co_await h->j->durable(h->j->append_message(m, &where.back()));
    }
    for (std::uint64_t id = 1; id <= count; ++id) {
        std::uint64_t t = h->j->append_outcome(outcome_record{id, 0, outcome_status::delivered, 2});
        h->j->unpin_segment(where[id - 1].segment_sequence, where[id - 1].bytes, t);
    }
    co_await h->j->durable(h->j->last_ticket());
}

struct recycle_state {
    std::uint64_t seed = 1;
    bool crash = false;       // a batch in flight in the recycled segment when the process dies
    bool crash_first = false; // ... its first batch (the new header over the old one)
    bool damage = false;      // the last acknowledged record's magic damaged on the medium
    std::uint64_t recycled = 0;
    std::uint64_t forged_in_old_data = 0;   // what an unsealed scan of the file would take
    bool clean_end = false;                 // its sealed scan ends just past the last record
    std::vector<std::uint64_t> live;        // acknowledged, not delivered
    std::uint64_t damaged_id = 0;
    std::map<std::uint64_t, std::string> recovered;
    std::vector<std::string> failures;
};

// 100 messages whose bodies hold forged records fill three 1 MiB segments and are
// all delivered, so the oldest files go and one is kept for recycling; then new
// messages until a segment is made from the kept file (the delivered messages'
// records, forged ones in their bodies, lie past the new ones), and 20 more in it.
// A restart must recover exactly the new messages: none of the delivered ones the
// file still holds, and never a forged one, not after a crash tore the last write
// over the old data, and not when damage makes the scan search through it.
runtime::task<void> recycled_segment(void* state) {
    auto* s = static_cast<recycle_state*>(state);
    fault_plan plan;
    plan.seed = s->seed;
    memory_segment_io io(plan);
    harness h(&io);
    static const std::vector<std::string> recipients{"r@example.net"};
    co_await fill_and_deliver(&h, 100, forged_body);
    // Bounded: 1 MiB segments take a few hundred of these.
    record_location last{};
    std::string old_data;  // the kept file before its reuse
    for (std::uint64_t id = 1001, in_recycled = 0; id <= 2000 && in_recycled < 20; ++id) {
        const std::string* kept = io.file_image(std::string(directory) + "/recycled.tmp");
        if (kept && old_data.empty()) old_data = *kept;
        std::string body = body_for(id);
        message_view m{id, 1, 0, "s@example.org", "h", "127.0.0.1", "", 0, recipients, body};
        record_location at{};
        std::uint64_t t = h.j->append_message(m, &at);
        in_recycled += h.j->stats().segments_recycled > 0;
        if (s->crash_first && in_recycled == 1) {
            h.j->before_wait();  // the recycled segment's first write goes out ...
            io.crash();          // ... and the process dies before its fdatasync completes
            s->recycled = h.j->stats().segments_recycled;
            h.restart();
            s->recovered = h.recovered;
            s->failures = h.failures;
            co_return;
        }
        REQUIRE(co_await h.j->durable(t) == 0);
        s->live.push_back(id);
        last = at;
    }
    s->recycled = h.j->stats().segments_recycled;
    char name[64];
    std::snprintf(name, sizeof name, "%s/%016llx.seg", directory,
                  static_cast<unsigned long long>(last.segment_sequence));
    if (const std::string* image = io.file_image(name)) {
        segment_scanner unsealed(*image);
        while (auto r = unsealed.next()) s->forged_in_old_data += is_forged(r->header.message_id);
        // Sealed, the scan ends at the end marker after the last record, not in old data.
        key_file k;
        REQUIRE(decode_key_file(*io.file_image(std::string(directory) + "/" + key_file_name), k));
        segment_scanner sealed(*image, derive_segment_key(k.secret, last.segment_sequence));
        while (sealed.next()) {
        }
        s->clean_end = sealed.stop_reason() == scan_stop::end &&
                       sealed.valid_end() == last.offset + last.bytes;
        // ... because of the end marker: the old data there was not zero.
        REQUIRE(old_data.size() > sealed.valid_end() + 4);
        s->clean_end = s->clean_end &&
                       old_data.compare(sealed.valid_end(), 4, std::string(4, '\0')) != 0;
    }
    if (s->damage) {
        REQUIRE(io.flip_byte(name, last.offset));  // its magic: the scan must search on
        s->damaged_id = s->live.back();
    }
    if (s->crash) {
        for (std::uint64_t id = 3001; id <= 3005; ++id) h.append(id);
        h.j->before_wait();  // the write goes out over the old data ...
        io.crash();          // ... and the process dies before its fdatasync completes
    }
    h.restart();
    s->recovered = h.recovered;
    s->failures = h.failures;
}

void check_recycled(const recycle_state& s) {
    REQUIRE(s.recycled == 1);
    CHECK(s.failures.empty());
    if (!s.crash_first) {
        CHECK(s.forged_in_old_data > 0);  // the old data really holds forgeries
        CHECK(s.clean_end);
    }
    REQUIRE(s.live.size() > 20);
    for (std::uint64_t id : s.live) {
        if (id == s.damaged_id) continue;
        CHECK_MESSAGE(s.recovered.count(id) == 1, "acknowledged message " << id << " lost");
    }
    for (const auto& [id, body] : s.recovered) {
        CHECK_MESSAGE(!is_forged(id), "forged message " << id << " taken as real");
        CHECK_MESSAGE(id > 1000, "delivered message " << id << " came back");
        CHECK(body == body_for(id));
    }
    CHECK(s.recovered.size() <= s.live.size() + 5);  // the crash's batch, whole, at most
}

}  // namespace

TEST_CASE("a recycled segment file never yields the records it held before, nor forged ones") {
    recycle_state s;
    on_reactor(recycled_segment, &s);
    check_recycled(s);
    CHECK(s.recovered.size() == s.live.size());
}

TEST_CASE("damage in a recycled segment: the search through its old data takes nothing") {
    recycle_state s;
    s.damage = true;
    on_reactor(recycled_segment, &s);
    check_recycled(s);
    CHECK(s.recovered.count(s.damaged_id) == 0);
    CHECK(s.recovered.size() == s.live.size() - 1);
}

namespace {

// 12 seeded crashes (which sectors of the unsynced write survive differs by seed).
void crash_seeds(bool first_commit) {
    for (std::uint64_t seed = 1; seed <= 12; ++seed) {
        CAPTURE(seed);
        recycle_state s;
        s.seed = seed;
        s.crash = !first_commit;
        s.crash_first = first_commit;
        on_reactor(recycled_segment, &s);
        check_recycled(s);
    }
}

}  // namespace

TEST_CASE("a crash in a recycled segment's first commit: its old header and data yield nothing") {
    crash_seeds(true);
}

TEST_CASE("a crash tearing a write over a recycled file's old data loses nothing acknowledged") {
    crash_seeds(false);
}

namespace {

struct key_state {
    std::string original_key;
    std::vector<std::size_t> recovered;  // after each restart
    std::vector<bool> key_restored;
    std::vector<std::string> failures;
    std::size_t extra = 0;               // recovered beyond the 20 (none may be)
};

// 10 messages in segment 1, a restart, 10 more in segment 2; then the key file is
// lost, then damaged, then lost with segment 1's header damaged too (the secret comes
// from segment 2's, and segment 1 is still read sealed): each restart must recover
// all 20 and write the same key back.
runtime::task<void> lost_key(void* state) {
    auto* s = static_cast<key_state*>(state);
    memory_segment_io io;
    harness h(&io);
    std::string key_path = std::string(directory) + "/" + key_file_name;
    CHECK(co_await batch(&h, 1, 10) == 0);
    h.restart();
    CHECK(co_await batch(&h, 11, 10) == 0);
    s->original_key = *io.file_image(key_path);
    for (int damage = 0; damage < 3; ++damage) {
        if (damage == 1) {
            std::string bad = s->original_key;
            bad[30] ^= 0x04;  // in the secret
            io.put_file(key_path, bad);
        } else {
            io.remove_segment(directory, key_file_name);
        }
        if (damage == 2) {  // the first segment's header: the rebuild must look further
            REQUIRE(io.flip_byte(std::string(directory) + "/0000000000000001.seg", 40));
        }
        h.restart();
        s->recovered.push_back(0);
        for (std::uint64_t id = 1; id <= 20; ++id) {
            s->recovered.back() += h.recovered.count(id) == 1 && h.recovered[id] == body_for(id);
        }
        s->extra += h.recovered.size() - s->recovered.back();
        const std::string* key = io.file_image(key_path);
        s->key_restored.push_back(key != nullptr && *key == s->original_key);
    }
    s->failures = h.failures;
}

}  // namespace

TEST_CASE("a lost or damaged key file is rebuilt from the segment headers; nothing is lost") {
    key_state s;
    on_reactor(lost_key, &s);
    CHECK(s.failures.empty());
    CHECK(s.extra == 0);
    REQUIRE(s.recovered.size() == 3);
    for (int i = 0; i < 3; ++i) {
        CAPTURE(i);
        CHECK(s.recovered[i] == 20);
        CHECK(s.key_restored[i]);
    }
    key_file k;
    REQUIRE(decode_key_file(s.original_key, k));
    CHECK(k.first_sealed_sequence == 1);
}

namespace {

struct rename_state {
    std::uint64_t acknowledged = 0;
    int failed_with = 0;
    std::vector<std::string> failures;
    std::size_t recovered = 0;        // of the acknowledged ones
    std::size_t recovered_all = 0;    // anything (the delivered ones must not come back)
};

// Fill and deliver until a file is kept for recycling; then the directory fsync
// that makes its new name durable fails: a storage failure, no later acknowledgement,
// and a restart holds every acknowledged message.
runtime::task<void> directory_sync_fails(void* state) {
    auto* s = static_cast<rename_state*>(state);
    memory_segment_io io;
    harness h(&io);
    co_await fill_and_deliver(&h, 50, large_body);
    fault_plan plan;
    plan.directory_sync_error = -EIO;
    io.set_plan(plan);
    for (std::uint64_t id = 101; id <= 1000; ++id) {
        int rc = co_await batch(&h, id, 1);
        if (rc != 0) {
            s->failed_with = rc;
            break;
        }
        s->acknowledged = id;
    }
    s->failures = h.failures;
    io.set_plan(fault_plan{});
    io.crash();
    h.restart();
    for (std::uint64_t id = 101; id <= s->acknowledged; ++id) s->recovered += h.recovered.count(id);
    s->recovered_all = h.recovered.size();
}

}  // namespace

TEST_CASE("a failed directory fsync after a recycled file's rename fails the journal") {
    rename_state s;
    on_reactor(directory_sync_fails, &s);
    CHECK(s.failed_with == -EIO);
    REQUIRE(s.failures.size() == 1);
    CHECK(s.failures[0].find("directory fsync after renaming recycled.tmp") != std::string::npos);
    CHECK(s.acknowledged > 101);
    CHECK(s.recovered == s.acknowledged - 100);
    CHECK(s.recovered_all == s.recovered);
}

TEST_CASE("the first segment and a spare are written with zeros; the spare is the second") {
    zero_fill_state s;
    on_reactor(zero_filled_spare, &s);
    CHECK(s.fills_at_open == 2);
    CHECK(s.spare_after_open);
    CHECK(s.stats.segments_created == 2);
    CHECK(s.stats.segments_zero_filled == 2);
    CHECK(s.stats.segments_recycled == 0);  // a spare, not a removed segment's file
    CHECK_FALSE(s.spare_after_roll);        // renamed into the second segment
    CHECK(s.acked > 100);
    CHECK(s.recovered == s.acked);
    CHECK(s.failures.empty());
}

TEST_CASE("a zero fill that fails leaves a preallocated segment, no spare, nothing lost") {
    zero_fill_state s;
    s.plan.zero_fill_error = -EIO;
    on_reactor(zero_filled_spare, &s);
    CHECK(s.fills_at_open == 0);
    CHECK_FALSE(s.spare_after_open);
    CHECK(s.stats.segments_created == 2);
    CHECK(s.stats.segments_zero_filled == 0);
    CHECK(s.acked > 100);
    CHECK(s.recovered == s.acked);
    CHECK(s.failures.empty());
}
