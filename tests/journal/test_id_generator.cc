// Queue ids: layout, strict monotonicity with a clock that stalls or goes back, more than
// 4096 ids in one millisecond, the floor after recovery, and the printed form.
#include <doctest/doctest.h>

#include "ringmta/journal/id_generator.h"

using namespace ringmta::journal;

TEST_CASE("ids carry time, counter and shard in their documented places") {
    id_generator ids(0x2a);
    std::uint64_t id = ids.next(1700000000123);
    CHECK((id >> 20) == 1700000000123);
    CHECK(((id >> 8) & 0xfff) == 0);
    CHECK((id & 0xff) == 0x2a);
    std::uint64_t second = ids.next(1700000000123);
    CHECK(((second >> 8) & 0xfff) == 1);
}

TEST_CASE("ids strictly increase with a stalled, backwards or racing clock") {
    id_generator ids(3);
    std::uint64_t last = 0;
    std::uint64_t clock_ms = 5000000;
    for (int i = 0; i < 20000; ++i) {  // 20000 ids within the same millisecond
        std::uint64_t id = ids.next(clock_ms);
        REQUIRE(id > last);
        CHECK((id & 0xff) == 3);
        last = id;
    }
    CHECK((last >> 20) == clock_ms + 20000 / 4096);  // time moved on logically
    for (std::uint64_t back : {clock_ms - 1, clock_ms - 1000, std::uint64_t{0}}) {
        std::uint64_t id = ids.next(back);
        CHECK(id > last);
        last = id;
    }
    std::uint64_t id = ids.next(clock_ms + 100);  // the clock catches up: time is the clock's
    CHECK(id > last);
    CHECK((id >> 20) == clock_ms + 100);
    CHECK(((id >> 8) & 0xfff) == 0);
}

TEST_CASE("a generator seeded with a floor never returns an id at or below it") {
    id_generator first(1);
    std::uint64_t last = 0;
    for (int i = 0; i < 5000; ++i) last = first.next(777);
    id_generator restarted(1, last);
    CHECK(restarted.next(777) > last);   // clock unchanged after the restart
    id_generator earlier_clock(1, last);
    CHECK(earlier_clock.next(1) > last); // clock behind the floor
    id_generator other_shard(200, last);
    CHECK(other_shard.next(777) > last);
}

TEST_CASE("format_queue_id prints 16 lowercase hex digits") {
    CHECK(format_queue_id(0) == "0000000000000000");
    CHECK(format_queue_id(0x0123456789abcdef) == "0123456789abcdef");
    CHECK(format_queue_id(0xffffffffffffffff) == "ffffffffffffffff");
    CHECK(format_queue_id(0xA) == "000000000000000a");
}
