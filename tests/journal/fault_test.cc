// The journal against injected storage faults (memory_segment_io): short writes
// are resumed, a failed write or fdatasync acknowledges nothing more and loses
// nothing acknowledged before it, and a crash that tears the unsynced tail loses
// no acknowledged record and never yields a damaged one. Each scenario runs on a
// real reactor; completions arrive through the ring.
#include <doctest/doctest.h>

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
        for (live_message& m : r.finish()) recovered[m.message.message_id] = m.message.body;
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
        if (!s->use_limit && io.files() == 2) {
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
    s->segments_at_full = io.files();
    CHECK(j.full());
    io.set_plan(fault_plan{});
    for (std::uint64_t id = 1; id <= s->accepted; ++id) {
        std::uint64_t t = j.append_outcome(outcome_record{id, 0, outcome_status::delivered, 2});
        j.unpin_segment(where[id - 1].segment_sequence, where[id - 1].bytes, t);
    }
    co_await j.durable(j.last_ticket());  // outcomes durable, then reclaim
    s->room_again = j.make_room(body.size() + 1024);
    s->segments_after = io.files();
    CHECK(failures.empty());
    runtime::reactor::current().remove_turn_hook(&j);
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
