// content_cache (LRU by bytes), recipient_list, message_ptr: the in-memory model
// of queued mail (DESIGN.md: a queued recipient costs a small fixed record).
#include <doctest/doctest.h>

#include "ringmta/queue/content_cache.h"
#include "ringmta/queue/scheduler.h"

using namespace ringmta::queue;

namespace {

content_ptr content_of(std::size_t body_bytes) {
    auto c = std::make_shared<content>();
    c->sender = "sender@example.com";
    c->recipients = {"someone@example.net"};
    c->body.assign(body_bytes, 'x');
    return c;
}

}  // namespace

TEST_CASE("the resident parts of queued mail stay small") {
    CHECK(sizeof(message) == 48);
    CHECK(sizeof(message_ptr) == 8);
    CHECK(sizeof(recipient_list) == 16);
    CHECK(sizeof(job) == 32);
}

TEST_CASE("message_ptr counts references and frees the message with the last one") {
    message_ptr a = make_message();
    a->id = 42;
    CHECK(a->refs == 1);
    {
        message_ptr b = a;
        message_ptr c;
        c = b;
        CHECK(a->refs == 3);
        message_ptr d = std::move(c);
        CHECK_FALSE(c);
        CHECK(a->refs == 3);
        CHECK(d == a);
    }
    CHECK(a->refs == 1);
    a.reset();
    CHECK_FALSE(a);
}

TEST_CASE("recipient_list keeps up to two indexes inline and more on the heap") {
    recipient_list one{7};
    CHECK(one.size() == 1);
    CHECK(one == std::vector<std::uint32_t>{7});
    recipient_list two{1, 2};
    CHECK(two == std::vector<std::uint32_t>{1, 2});
    std::vector<std::uint32_t> many{1, 2, 3, 4, 5};
    recipient_list five(many);
    CHECK(five.size() == 5);
    CHECK(five == many);
    recipient_list copy = five;
    CHECK(copy == many);
    recipient_list moved = std::move(copy);
    CHECK(moved == many);
    CHECK(copy.empty());
    moved = one;   // heap to inline
    CHECK(moved == std::vector<std::uint32_t>{7});
    one = five;    // inline to heap
    CHECK(one == many);
    CHECK(five.to_vector() == many);
    recipient_list none;
    CHECK(none.empty());
    CHECK(none.begin() == none.end());
}

TEST_CASE("the content cache finds what it holds and counts hits and misses") {
    content_cache cache(1 << 20);
    content_ptr c = content_of(1000);
    cache.insert(1, c);
    CHECK(cache.find(1) == c);
    CHECK(cache.find(2) == nullptr);
    CHECK(cache.stats().hits == 1);
    CHECK(cache.stats().misses == 1);
    CHECK(cache.bytes() == c->footprint());
    cache.erase(1);
    CHECK(cache.find(1) == nullptr);
    CHECK(cache.bytes() == 0);
    CHECK(cache.entries() == 0);
}

TEST_CASE("the content cache stays within its budget, least recently used out first") {
    content_ptr sample = content_of(10000);
    std::size_t each = sample->footprint();
    content_cache cache(each * 3 + each / 2);   // room for three
    for (std::uint64_t id = 1; id <= 3; ++id) cache.insert(id, content_of(10000));
    CHECK(cache.entries() == 3);
    REQUIRE(cache.find(1) != nullptr);          // 1 is now the most recently used
    cache.insert(4, content_of(10000));         // evicts 2, the least recently used
    CHECK(cache.entries() == 3);
    CHECK(cache.bytes() <= cache.budget());
    CHECK(cache.find(2) == nullptr);
    CHECK(cache.find(1) != nullptr);
    CHECK(cache.find(3) != nullptr);
    CHECK(cache.find(4) != nullptr);
    CHECK(cache.stats().evicted == 1);
}

TEST_CASE("content larger than the whole budget is never kept; a zero budget keeps nothing") {
    content_cache small(1000);
    small.insert(1, content_of(5000));
    CHECK(small.entries() == 0);
    CHECK(small.stats().too_large == 1);
    content_cache none(0);
    none.insert(1, content_of(10));
    CHECK(none.find(1) == nullptr);
}

TEST_CASE("an evicted entry stays alive for whoever still holds it") {
    content_cache cache(content_of(100)->footprint());
    content_ptr held = content_of(100);
    cache.insert(1, held);
    content_ptr in_use = cache.find(1);
    cache.insert(2, content_of(100));   // evicts 1
    CHECK(cache.find(1) == nullptr);
    CHECK(in_use->body.size() == 100);
}

TEST_CASE("re-inserting an id replaces its entry without double counting") {
    content_cache cache(1 << 20);
    cache.insert(1, content_of(100));
    std::size_t once = cache.bytes();
    cache.insert(1, content_of(100));
    CHECK(cache.entries() == 1);
    CHECK(cache.bytes() == once);
}
