// Bodies read back from the journal: what was appended comes back byte for byte,
// from this run's segments and from recovered ones, and a record damaged on disk
// is refused (-EIO) rather than delivered. Runs on a real reactor with the
// in-memory storage.
#include <doctest/doctest.h>

#include <cerrno>
#include <cstdio>
#include <map>
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
    std::string body = "Subject: read back " + std::to_string(id) + "\r\n\r\n";
    body.append(50 + (id * 104729) % 9000, static_cast<char>('A' + id % 26));
    return body + "\r\n";
}

struct state {
    memory_segment_io io;
    std::map<std::uint64_t, record_location> where;
    int results[4] = {1, 1, 1, 1};
};

std::unique_ptr<journal::journal> open_journal(memory_segment_io& io, recovery& r) {
    journal_options options;
    options.directory = directory;
    options.segment_bytes = 1 << 20;
    auto j = std::make_unique<journal::journal>(options, io);
    REQUIRE(j->open(r).empty());
    runtime::reactor::current().add_turn_hook(j.get());
    return j;
}

runtime::task<void> scenario(state* s, runtime::reactor* reactor) {
    static const std::vector<std::string> recipients{"r@example.net"};
    {
        recovery r;
        auto j = open_journal(s->io, r);
        std::uint64_t ticket = 0;
        for (std::uint64_t id = 1; id <= 400; ++id) {  // several 1 MB segments
            std::string body = body_for(id);
            message_view m{id, 1, 0, "s@example.org", "helo", "127.0.0.1", "", 0, recipients,
                           body};
            ticket = j->append_message(m, &s->where[id]);
        }
        CHECK(co_await j->durable(ticket) == 0);
        bool all_same = true;
        for (std::uint64_t id = 1; id <= 400; ++id) {
            std::string body;
            int rc = co_await j->read_body(s->where[id], id, &body);
            all_same = all_same && rc == 0 && body == body_for(id);
        }
        CHECK(all_same);
        CHECK(j->body_reads() == 400);
        std::string body;
        s->results[0] = co_await j->read_body(s->where[7], 8, &body);  // wrong message id
        runtime::reactor::current().remove_turn_hook(j.get());
    }
    {
        recovery r(false);  // a restart: bodies stay on disk
        auto j = open_journal(s->io, r);
        std::vector<live_message> live = r.finish();
        REQUIRE(live.size() == 400);
        // As the daemon does: a live message pins its segment (read_body's precondition).
        for (const live_message& l : live) j->pin_segment(l.segment_sequence, l.record_size);
        bool all_same = true;
        for (live_message& l : live) {
            CHECK(l.message.body.empty());
            record_location at{l.segment_sequence, l.record_offset,
                               static_cast<std::uint32_t>(record_bytes(
                                   l.body_at.offset + l.body_at.bytes - record_header_bytes))};
            CHECK(at.offset == s->where[l.message.message_id].offset);
            CHECK(at.bytes == s->where[l.message.message_id].bytes);
            std::string body;
            int rc = co_await j->read_body(at, l.message.message_id, &body);
            all_same = all_same && rc == 0 && body == body_for(l.message.message_id);
        }
        CHECK(all_same);
        // One flipped byte in a record's body: its crc no longer matches.
        record_location at = s->where[123];
        char name[64];
        std::snprintf(name, sizeof name, "%s/%016llx.seg", directory,
                      static_cast<unsigned long long>(at.segment_sequence));
        REQUIRE(s->io.flip_byte(name, at.offset + record_header_bytes + 8));
        std::string body;
        s->results[1] = co_await j->read_body(at, 123, &body);
        runtime::reactor::current().remove_turn_hook(j.get());
    }
    reactor->request_exit();
}

}  // namespace

TEST_CASE("bodies read back from the journal match what was appended, and damage is refused") {
    state s;
    runtime::reactor r(runtime::reactor_options{});
    runtime::spawn(scenario(&s, &r));
    r.run();
    CHECK(s.results[0] == -EIO);
    CHECK(s.results[1] == -EIO);
}
