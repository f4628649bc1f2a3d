// scheduler: job splitting, FIFO per destination, backoff, promotion, expiry.
#include <doctest/doctest.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "ringmta/journal/record.h"
#include "ringmta/queue/scheduler.h"

using namespace ringmta::queue;

namespace {

message_ptr make_message(std::size_t recipients, std::uint64_t arrival_unix_ms = 1000) {
    message_ptr m = ringmta::queue::make_message();
    m->id = 7;
    m->arrival_unix_ms = arrival_unix_ms;
    m->unfinished = static_cast<std::uint32_t>(recipients);
    return m;
}

message_ptr make_high_priority(std::uint64_t id) {
    message_ptr m = make_message(1);
    m->id = id;
    m->flags = ringmta::journal::message_flag_priority_high;
    return m;
}

std::vector<std::uint32_t> indexes(std::initializer_list<std::uint32_t> list) { return list; }

retry_policy policy() {
    retry_policy p;
    p.retry_min_ms = 1000;
    p.retry_max_ms = 8000;
    p.max_age_ms = 60000;
    return p;
}

}  // namespace

TEST_CASE("recipients are split into jobs of at most recipients_per_job, in order") {
    scheduler s(policy(), 3);
    s.enqueue("example.net", make_message(7), indexes({0, 1, 2, 3, 4, 5, 6}), 0);
    destination* d = s.find("example.net");
    REQUIRE(d != nullptr);
    CHECK(d->ready.size() == 3);
    CHECK(d->queued_recipients == 7);
    job j;
    REQUIRE(s.take(*d, j));
    CHECK(j.recipients == std::vector<std::uint32_t>{0, 1, 2});
    REQUIRE(s.take(*d, j));
    REQUIRE(s.take(*d, j));
    CHECK(j.recipients == std::vector<std::uint32_t>{6});
    CHECK_FALSE(s.take(*d, j));
    CHECK(s.ready_jobs() == 0);
}

TEST_CASE("take with recipients_max: the head goes, the tail stays first in line") {
    scheduler s(policy(), 100);
    s.enqueue("example.net", make_message(10), indexes({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}), 2);
    s.enqueue("example.net", make_message(1), indexes({0}), 0);
    destination* d = s.find("example.net");
    REQUIRE(d != nullptr);
    REQUIRE(d->ready.size() == 2);
    std::vector<std::uint32_t> seen;
    job j;
    for (int n = 0; n < 3; ++n) {
        REQUIRE(s.take(*d, j, 3));
        CHECK(j.recipients.size() == 3);
        CHECK(j.attempts == 2);
        for (std::uint32_t r : j.recipients) seen.push_back(r);
        CHECK(d->ready.size() == 2);   // the tail is still the first job
        CHECK(s.ready_jobs() == 2);
    }
    CHECK(d->queued_recipients == 2);
    CHECK(d->ready_recipients == 2);
    REQUIRE(s.take(*d, j, 3));
    CHECK(j.recipients == std::vector<std::uint32_t>{9});
    seen.push_back(j.recipients[0]);
    CHECK(seen == std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    // The next message's job, whole.
    REQUIRE(s.take(*d, j, 3));
    CHECK(j.recipients == std::vector<std::uint32_t>{0});
    CHECK(j.attempts == 0);
    CHECK_FALSE(s.take(*d, j, 3));
    CHECK(s.ready_jobs() == 0);
    CHECK(d->queued_recipients == 0);
    CHECK(d->ready_recipients == 0);
}

TEST_CASE("backoff doubles from retry_min and stops at retry_max") {
    scheduler s(policy(), 10);
    CHECK(s.backoff_ms(1) == 1000);
    CHECK(s.backoff_ms(2) == 2000);
    CHECK(s.backoff_ms(3) == 4000);
    CHECK(s.backoff_ms(4) == 8000);
    CHECK(s.backoff_ms(30) == 8000);
}

TEST_CASE("a deferred job becomes ready again only when its time comes") {
    scheduler s(policy(), 10);
    message_ptr m = make_message(1, 5000);
    job j{m, {0}, 2};
    REQUIRE(s.defer("example.net", j, 100, 5000));
    CHECK(s.next_due_ms() == 100 + 2000);
    s.promote_due(2099);
    CHECK(s.ready_jobs() == 0);
    s.promote_due(2100);
    CHECK(s.ready_jobs() == 1);
    CHECK(s.next_due_ms() == 0);
    auto activated = s.take_activated();
    REQUIRE(activated.size() == 1);
    CHECK(activated[0]->key == "example.net");
}

TEST_CASE("a job that would be retried after max_age expires instead") {
    scheduler s(policy(), 10);
    message_ptr m = make_message(1, 0);
    job j{m, {0}, 4};   // next wait 8 s; age at retry 55 s + 8 s > 60 s
    CHECK_FALSE(s.defer("example.net", j, 0, 55000));
    CHECK(s.deferred_jobs() == 0);
    job k{m, {0}, 1};   // next wait 1 s: still in time
    CHECK(s.defer("example.net", k, 0, 55000));
}

TEST_CASE("deferred jobs with the same due time keep their order") {
    scheduler s(policy(), 10);
    for (std::uint32_t i = 0; i < 5; ++i) {
        message_ptr m = make_message(1);
        m->id = i;
        REQUIRE(s.defer("d", job{m, {0}, 1}, 0, 1000));
    }
    s.promote_due(1000);
    destination* d = s.find("d");
    for (std::uint64_t i = 0; i < 5; ++i) {
        job j;
        REQUIRE(s.take(*d, j));
        CHECK(j.msg->id == i);
    }
}

TEST_CASE("queued_recipients counts ready and deferred jobs, not those taken") {
    scheduler s(policy(), 2);
    s.enqueue("example.net", make_message(3), indexes({0, 1, 2}), 0);
    destination* d = s.find("example.net");
    REQUIRE(d != nullptr);
    CHECK(d->queued_recipients == 3);
    job first, second;
    REQUIRE(s.take(*d, first));
    REQUIRE(s.take(*d, second));
    CHECK(d->queued_recipients == 0);
    REQUIRE(s.defer("example.net", std::move(first), 1000, 1000));
    CHECK(d->queued_recipients == 2);
    REQUIRE(s.defer("example.net", std::move(second), 1000, 1000));
    CHECK(d->queued_recipients == 3);
    // Deferred jobs of the destination come out with their due time; the rest stay.
    std::vector<scheduler::queued_job> out =
        s.extract([&](const destination& x) { return &x == d; }, false, true);
    CHECK(out.size() == 2);
    CHECK(d->queued_recipients == 0);
    CHECK(s.deferred_jobs() == 0);
    for (const scheduler::queued_job& q : out) CHECK(q.due_ms == 1000 + s.backoff_ms(0));
}

TEST_CASE("recipients enqueued with a due time wait for it (recovered retry state)") {
    scheduler s(policy(), 10);
    s.enqueue("example.net", make_message(2), indexes({0, 1}), 3, 5000);
    destination* d = s.find("example.net");
    REQUIRE(d != nullptr);
    CHECK(d->ready.empty());
    CHECK(d->queued_recipients == 2);
    CHECK(s.next_due_ms() == 5000);
    s.promote_due(4999);
    CHECK(s.ready_jobs() == 0);
    s.promote_due(5000);
    job j;
    REQUIRE(s.take(*d, j));
    CHECK(j.attempts == 3);
    CHECK(j.recipients == std::vector<std::uint32_t>{0, 1});
}

TEST_CASE("for_each_job walks ready and deferred jobs with their due times, not taken ones") {
    scheduler s(policy(), 2);
    message_ptr a = make_message(3);
    message_ptr b = make_message(1);
    s.enqueue("one.example", a, indexes({0, 1, 2}), 0);       // two ready jobs
    s.enqueue("two.example", b, indexes({0}), 4, 9000);       // deferred, 4 attempts
    job taken;
    REQUIRE(s.take(*s.find("one.example"), taken));            // {0, 1} is out for delivery
    std::vector<std::tuple<message*, std::vector<std::uint32_t>, std::uint32_t, std::uint64_t>> seen;
    s.for_each_job([&](const job& j, std::uint64_t due_ms) {
        seen.emplace_back(j.msg.get(), j.recipients.to_vector(), j.attempts, due_ms);
    });
    std::sort(seen.begin(), seen.end());
    auto expected = decltype(seen){{a.get(), {2}, 0, 0}, {b.get(), {0}, 4, 9000}};
    std::sort(expected.begin(), expected.end());
    CHECK(seen == expected);
}

TEST_CASE("a destination's high-priority jobs are taken before its normal ones, each FIFO") {
    scheduler s(policy(), 10);
    for (std::uint64_t id = 0; id < 3; ++id) {      // a bulk backlog: ids 0, 1, 2
        message_ptr m = make_message(1);
        m->id = id;
        s.enqueue("d", m, indexes({0}), 0);
    }
    s.enqueue("d", make_high_priority(10), indexes({0}), 0);
    s.enqueue("other", make_high_priority(20), indexes({0}), 0);
    s.enqueue("d", make_high_priority(11), indexes({0}), 0);
    destination* d = s.find("d");
    REQUIRE(d != nullptr);
    CHECK(d->ready.size() == 5);
    CHECK(d->ready.high() == 2);
    CHECK(s.ready_jobs() == 6);
    std::vector<std::uint64_t> order;
    d->ready.for_each([&](const job& j) { order.push_back(j.msg->id); });
    CHECK(order == std::vector<std::uint64_t>{10, 11, 0, 1, 2});
    order.clear();
    for (job j; s.take(*d, j);) order.push_back(j.msg->id);
    CHECK(order == std::vector<std::uint64_t>{10, 11, 0, 1, 2});
    CHECK(d->ready.empty());
    CHECK(d->queued_recipients == 0);
    // Another destination's queue is its own: priority never reorders across them.
    CHECK(s.ready_jobs() == 1);
    CHECK(s.find("other")->ready.high() == 1);
}

TEST_CASE("a deferred high-priority job keeps its priority when it is ready again") {
    scheduler s(policy(), 10);
    message_ptr bulk = make_message(1, 5000);
    bulk->id = 1;
    s.enqueue("d", bulk, indexes({0}), 0);
    REQUIRE(s.defer("d", job{make_high_priority(2), {0}, 1}, 0, 5000));
    // Recovered retry state (a due time) keeps the level too.
    s.enqueue("d", make_high_priority(3), indexes({0}), 2, 500);
    s.promote_due(1000);
    destination* d = s.find("d");
    CHECK(d->ready.high() == 2);
    std::vector<std::uint64_t> order;
    for (job j; s.take(*d, j);) order.push_back(j.msg->id);
    CHECK(order == std::vector<std::uint64_t>{3, 2, 1});
    // A destination that never saw a high-priority job says so.
    s.enqueue("e", bulk, indexes({0}), 0);
    CHECK(s.find("e")->ready.high() == 0);
    CHECK(s.find("e")->ready.size() == 1);
}

TEST_CASE("for_each_job sees high-priority ready jobs too") {
    scheduler s(policy(), 10);
    s.enqueue("d", make_high_priority(5), indexes({0}), 0);
    s.enqueue("d", make_message(1), indexes({0}), 0);
    std::size_t seen = 0, high = 0;
    s.for_each_job([&](const job& j, std::uint64_t due_ms) {
        ++seen;
        high += high_priority(j) ? 1 : 0;
        CHECK(due_ms == 0);
    });
    CHECK(seen == 2);
    CHECK(high == 1);
}
