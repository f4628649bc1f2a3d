// The journal on real files through the ring: group commit, durability tickets,
// replay after a restart, and oldest-first segment reclaim; each case with the
// segments written through the page cache and with O_DIRECT.
#include <doctest/doctest.h>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "journal_test_util.h"
#include "ringmta/journal/journal.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"

using namespace ringmta;
using namespace ringmta::journal;
using ringmta::journal::test::remove_tree;
using ringmta::journal::test::temp_directory;

namespace {

std::size_t count_segments(const std::string& directory) {
    std::size_t n = 0;
    DIR* dir = opendir(directory.c_str());
    while (dirent* e = readdir(dir)) n += std::string(e->d_name).ends_with(".seg");
    closedir(dir);
    return n;
}

message_view make_view(std::uint64_t id, const std::vector<std::string>& recipients,
                       const std::string& body) {
    return message_view{id, 1000 + id, 0, "sender@example.org", "client.example", "127.0.0.1",
                        "", 0, recipients, body};
}

// Every case runs twice: segments written through the page cache, and with
// O_DIRECT (where the file system of /tmp takes it; buffered otherwise).
bool use_direct_io = false;

struct fixture {
    ring_segment_io io;
    std::unique_ptr<journal::journal> j;
    recovery recovered;
    std::vector<live_message> live;

    fixture(const std::string& directory, std::uint64_t segment_bytes,
            std::uint64_t commit_delay_ms = 0) {
        journal_options options;
        options.directory = directory;
        options.segment_bytes = segment_bytes;
        options.commit_delay_ms = commit_delay_ms;
        io.use_direct_io(use_direct_io);
        j = std::make_unique<journal::journal>(options, io);
        std::string error = j->open(recovered);
        REQUIRE(error.empty());
        live = recovered.finish();
        for (const live_message& m : live) j->pin_segment(m.segment_sequence, m.record_size);
        runtime::reactor::current().add_turn_hook(j.get());
    }
    ~fixture() { runtime::reactor::current().remove_turn_hook(j.get()); }
};

using scenario = runtime::task<void> (*)(std::string directory, void* state);

runtime::task<void> run_scenario(scenario s, std::string directory, void* state,
                                 runtime::reactor* r) {
    co_await s(std::move(directory), state);
    r->request_exit();
}

void on_reactor(scenario s, const std::string& directory, void* state = nullptr) {
    runtime::reactor r(runtime::reactor_options{});
    runtime::spawn(run_scenario(s, directory, state, &r));
    r.run();
}

runtime::task<void> append_many(fixture* f, int count, std::vector<int>* results) {
    std::vector<std::string> recipients{"a@one.example", "b@two.example"};
    std::string body(3000, 'x');
    std::uint64_t last = 0;
    for (int i = 1; i <= count; ++i) {
        last = f->j->append_message(make_view(i, recipients, body), nullptr);
    }
    // The outcome for recipient 0 of message 1 makes only recipient 1 pending there.
    f->j->append_outcome(outcome_record{1, 0, outcome_status::delivered, 5});
    int rc = co_await f->j->durable(f->j->last_ticket());
    results->push_back(rc);
    CHECK(last < f->j->last_ticket());
}

runtime::task<void> append_fifty(std::string directory, void* state) {
    fixture f(directory, 64u << 20);
    co_await append_many(&f, 50, static_cast<std::vector<int>*>(state));
}

runtime::task<void> append_three(std::string directory, void* state) {
    fixture f(directory, 64u << 20);
    co_await append_many(&f, 3, static_cast<std::vector<int>*>(state));
}

runtime::task<void> replay_fifty(std::string directory, void*) {
    fixture f(directory, 64u << 20);
    REQUIRE(f.live.size() == 50);
    CHECK(f.live[0].pending == std::vector<std::uint32_t>{1});
    CHECK(f.live[1].pending == std::vector<std::uint32_t>{0, 1});
    CHECK(f.live[7].message.body == std::string(3000, 'x'));
    CHECK(f.live[7].message.recipients[1].address == "b@two.example");
    co_return;
}

}  // namespace

TEST_CASE("appends in one turn share one group commit and survive a restart") {
    SUBCASE("buffered") { use_direct_io = false; }
    SUBCASE("O_DIRECT") { use_direct_io = true; }
    std::string directory = temp_directory();
    std::vector<int> results;
    on_reactor(append_fifty, directory, &results);
    REQUIRE(results.size() == 1);
    CHECK(results[0] == 0);
    // A fresh journal over the same folder replays all 50 messages.
    on_reactor(replay_fifty, directory);
    remove_tree(directory);
}

namespace {

runtime::task<void> fill_and_finish(std::string directory, void* state) {
    auto* counts = static_cast<std::size_t*>(state);
    std::size_t* segments_before = &counts[0];
    std::size_t* segments_after = &counts[1];
    fixture fx(directory, 100000);  // ~4 messages per segment
    fixture* f = &fx;
    std::vector<std::string> recipients{"r@x.example"};
    std::string body(20000, 'b');
    std::vector<record_location> where(40);
    for (int i = 0; i < 40; ++i) {
        f->j->append_message(make_view(i + 1, recipients, body), &where[i]);
        // Several turns so batches and segments interleave.
        runtime::io::sleep_for turn(0);
        co_await turn;
    }
    co_await f->j->durable(f->j->last_ticket());
    *segments_before = count_segments(directory);
    for (int i = 0; i < 40; ++i) {
        std::uint64_t t =
            f->j->append_outcome(outcome_record{std::uint64_t(i + 1), 0, outcome_status::delivered, 9});
        f->j->unpin_segment(where[i].segment_sequence, where[i].bytes, t);
    }
    co_await f->j->durable(f->j->last_ticket());
    *segments_after = count_segments(directory);
}

runtime::task<void> replay_nothing_live(std::string directory, void*) {
    fixture f(directory, 100000);
    CHECK(f.live.empty());
    co_return;
}

runtime::task<void> replay_torn(std::string directory, void*) {
    fixture f(directory, 64u << 20);
    // Message 1 survives whole (its outcome record was lost with the tail, so both
    // recipients are pending again: at-least-once); the damaged ones are skipped.
    REQUIRE(f.live.size() == 1);
    CHECK(f.live[0].message.message_id == 1);
    CHECK(f.live[0].pending == std::vector<std::uint32_t>{0, 1});
    CHECK(count_segments(directory) == 2);
    co_return;
}

}  // namespace

TEST_CASE("segments roll at their size and are removed once nothing in them is live") {
    SUBCASE("buffered") { use_direct_io = false; }
    SUBCASE("O_DIRECT") { use_direct_io = true; }
    std::string directory = temp_directory();
    std::size_t counts[2] = {0, 0};
    on_reactor(fill_and_finish, directory, counts);
    CHECK(counts[0] >= 8);
    CHECK(counts[1] == 1);  // only the current segment remains
    // And nothing is live after a restart.
    on_reactor(replay_nothing_live, directory);
    remove_tree(directory);
}

TEST_CASE("a torn tail is ignored on replay and appends go to a fresh segment") {
    SUBCASE("buffered") { use_direct_io = false; }
    SUBCASE("O_DIRECT") { use_direct_io = true; }
    std::string directory = temp_directory();
    std::vector<int> results;
    on_reactor(append_three, directory, &results);
    // Cut the first segment in the middle of its last record, as a crash might.
    std::string path = directory + "/0000000000000001.seg";
    int fd = open(path.c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    // Segment header (48 bytes), then three ~3.1 KB message records and an outcome:
    // zero from inside message 2 to past the outcome, as a crash mid-batch might.
    std::string zeros(9000, '\0');
    REQUIRE(pwrite(fd, zeros.data(), zeros.size(), 4000) == ssize_t(zeros.size()));
    close(fd);
    on_reactor(replay_torn, directory);
    remove_tree(directory);
}

namespace {

struct delay_result {
    std::uint64_t batches = 0;           // group commits for the three appends
    std::uint64_t waited_ms = 0;         // first append to durable()
    std::uint64_t largest_batch = 0;
    std::uint64_t wait_p99_us = 0;
    int rc = -1;
};

// Three appends, one per reactor turn, then durable(): with a commit delay they
// share one group commit that waits at least the delay.
runtime::task<void> three_turns(fixture* f, delay_result* out) {
    co_await f->j->durable(f->j->last_ticket());  // the new segment's header
    std::uint64_t batches_before = f->j->stats().batches;
    std::vector<std::string> recipients{"r@x.example"};
    std::string body(2000, 'd');
    std::uint64_t started = runtime::monotonic_ms();
    for (int i = 1; i <= 3; ++i) {
        f->j->append_message(make_view(i, recipients, body), nullptr);
        runtime::io::sleep_for turn(0);
        co_await turn;
    }
    out->rc = co_await f->j->durable(f->j->last_ticket());
    out->waited_ms = runtime::monotonic_ms() - started;
    out->batches = f->j->stats().batches - batches_before;
    out->largest_batch = f->j->stats().largest_batch_records;
    out->wait_p99_us = f->j->stats().wait_us.quantile_bound(0.99);
}

runtime::task<void> three_turns_delayed(std::string directory, void* state) {
    fixture f(directory, 64u << 20, 30);
    co_await three_turns(&f, static_cast<delay_result*>(state));
}

runtime::task<void> three_turns_undelayed(std::string directory, void* state) {
    fixture f(directory, 64u << 20, 0);
    co_await three_turns(&f, static_cast<delay_result*>(state));
}

}  // namespace

TEST_CASE("commit_delay gathers appends from several turns into one group commit") {
    SUBCASE("buffered") { use_direct_io = false; }
    SUBCASE("O_DIRECT") { use_direct_io = true; }
    std::string directory = temp_directory();
    delay_result delayed;
    on_reactor(three_turns_delayed, directory, &delayed);
    CHECK(delayed.rc == 0);
    CHECK(delayed.batches == 1);
    CHECK(delayed.largest_batch >= 3);
    CHECK(delayed.waited_ms >= 30);
    CHECK(delayed.wait_p99_us >= 29000);
    remove_tree(directory);

    directory = temp_directory();
    delay_result undelayed;
    on_reactor(three_turns_undelayed, directory, &undelayed);
    CHECK(undelayed.rc == 0);
    // The first append is written at the end of its turn, alone; the others join
    // whichever batch is open when the one in flight completes.
    CHECK(undelayed.batches >= 2);
    CHECK(undelayed.largest_batch <= 2);
    remove_tree(directory);
}

TEST_CASE("group commit histograms bound their quantiles by power-of-two buckets") {
    log2_histogram h;
    CHECK(h.quantile_bound(0.5) == 0);
    for (int i = 0; i < 98; ++i) h.add(3);    // bucket [2, 4)
    h.add(1000);                              // [512, 1024)
    h.add(5000000000ull);
    CHECK(h.count() == 100);
    CHECK(h.quantile_bound(0.5) == 3);
    CHECK(h.quantile_bound(0.99) == 1023);
    CHECK(h.quantile_bound(1.0) == ~std::uint64_t{0});   // the last bucket has no top
    CHECK(h.buckets[0] == 0);
    h.add(0);
    h.add(1);
    CHECK(h.buckets[0] == 2);
}

namespace {

struct compaction_result {
    std::uint64_t candidate_before = 0;     // with only the long-lived message pinned
    std::uint64_t candidate_small = 0;      // before enough history piled up
    std::size_t segments_before = 0;
    std::size_t segments_after = 0;
    std::uint64_t live_bytes = 0;
};

// One message (two recipients, the first delivered) stays queued while 60 others
// come and go through ~100 KB segments: the first segment pins all later ones
// until compaction copies the message forward.
runtime::task<void> compact_oldest(std::string directory, void* state) {
    auto* out = static_cast<compaction_result*>(state);
    fixture fx(directory, 100000);
    fixture* f = &fx;
    std::vector<std::string> two{"slow@a.example", "fast@b.example"};
    std::string keep_body(5000, 'k');
    record_location kept;
    f->j->append_message(make_view(1000, two, keep_body), &kept);
    f->j->append_outcome(outcome_record{1000, 1, outcome_status::delivered, 7});
    f->j->append_attempt(attempt_record{1000, 0, 3, 1700000000000});
    std::vector<std::string> one{"r@x.example"};
    std::string body(20000, 'b');
    for (int i = 1; i <= 60; ++i) {
        record_location where;
        f->j->append_message(make_view(i, one, body), &where);
        std::uint64_t t = f->j->append_outcome(outcome_record{std::uint64_t(i), 0,
                                                              outcome_status::delivered, 9});
        f->j->unpin_segment(where.segment_sequence, where.bytes, t);
        co_await f->j->durable(t);
        if (i == 5) out->candidate_small = f->j->compaction_candidate();
    }
    out->candidate_before = f->j->compaction_candidate();
    out->segments_before = count_segments(directory);
    // What the engine does (src/delivery/compaction.cc): copy, outcome for the
    // done recipient, attempt for the queued one, then unpin the old record.
    std::string image;
    REQUIRE(co_await f->j->read_record(kept, 1000, &image) == 0);
    CHECK(message_recipient_count(image) == 2);
    record_location copy;
    f->j->append_message_image(image, &copy);
    f->j->append_outcome(outcome_record{1000, 1, outcome_status::finished, 8});
    std::uint64_t t = f->j->append_attempt(attempt_record{1000, 0, 3, 1700000000000});
    CHECK(co_await f->j->durable(t) == 0);
    f->j->unpin_segment(kept.segment_sequence, kept.bytes, t);
    // The next batch's completion reclaims every segment before the copy's.
    co_await f->j->durable(f->j->append_outcome(outcome_record{59, 0, outcome_status::delivered, 9}));
    out->segments_after = count_segments(directory);
    out->live_bytes = f->j->live_bytes();
    CHECK(f->j->stats().messages_rewritten == 1);
}

runtime::task<void> replay_compacted(std::string directory, void*) {
    fixture f(directory, 100000);
    REQUIRE(f.live.size() == 1);
    const live_message& l = f.live[0];
    CHECK(l.message.message_id == 1000);
    CHECK(l.pending == std::vector<std::uint32_t>{0});
    REQUIRE(l.attempts.size() == 1);
    CHECK(l.attempts[0].attempts == 3);
    CHECK(l.attempts[0].next_attempt_unix_ms == 1700000000000);
    CHECK(l.message.body == std::string(5000, 'k'));
    CHECK(l.segment_sequence > 1);
    co_return;
}

}  // namespace

TEST_CASE("compaction copies a long-deferred message forward and frees the history it pinned") {
    SUBCASE("buffered") { use_direct_io = false; }
    SUBCASE("O_DIRECT") { use_direct_io = true; }
    std::string directory = temp_directory();
    compaction_result r;
    on_reactor(compact_oldest, directory, &r);
    CHECK(r.candidate_small == 0);          // not worth it yet: little history
    CHECK(r.candidate_before == 1);         // the oldest segment, pinned by one message
    CHECK(r.segments_before >= 10);
    CHECK(r.segments_after <= 2);           // the copy's segment (and maybe one more)
    CHECK(r.live_bytes > 5000);
    CHECK(r.live_bytes < 6000);
    // After a restart the copy is the message: pending recipient, retry state, body.
    on_reactor(replay_compacted, directory);
    remove_tree(directory);
}
