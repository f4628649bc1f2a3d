// scheduler: job splitting, FIFO per destination, backoff, promotion, expiry.
#include <doctest/doctest.h>

#include <algorithm>
#include <tuple>
#include <vector>

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
