// answer_cache (TTL, bounds, eviction order), the preference ordering of
// exchangers and the random source: pure code, the clock passed in.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "ringmta/dns/answer_cache.h"
#include "ringmta/dns/mx_result.h"
#include "ringmta/dns/random_source.h"

using namespace ringmta::dns;

namespace {

answer with_ttl(std::uint32_t ttl_s, answer_status status = answer_status::ok) {
    answer a;
    a.status = status;
    a.ttl_s = ttl_s;
    a.addresses.push_back(*ip_address::parse("192.0.2.1"));
    return a;
}

cache_key key(const std::string& name) { return {name, record_type::a}; }

}  // namespace

TEST_CASE("answer_cache keeps an answer for its TTL and reports the time left") {
    answer_cache cache(16);
    cache.insert(key("a.test"), with_ttl(10), 1000);
    std::optional<answer> hit = cache.find(key("a.test"), 1000);
    REQUIRE(hit);
    CHECK(hit->ttl_s == 10);
    hit = cache.find(key("a.test"), 4500);
    REQUIRE(hit);
    CHECK(hit->ttl_s == 7);   // 6.5 s left, rounded up
    CHECK(hit->addresses.size() == 1);
    CHECK_FALSE(cache.find({"a.test", record_type::aaaa}, 4500));   // the type is in the key
    CHECK_FALSE(cache.find(key("a.test"), 11000));   // expired exactly at 10 s
    CHECK(cache.size() == 0);                        // and dropped

    cache.insert(key("b.test"), with_ttl(10), 0);
    cache.insert(key("b.test"), with_ttl(2, answer_status::nxdomain), 0);   // replaces
    CHECK(cache.size() == 1);
    CHECK(cache.find(key("b.test"), 1000)->status == answer_status::nxdomain);
    CHECK_FALSE(cache.find(key("b.test"), 2000));
}

TEST_CASE("answer_cache is bounded: expired answers go first, then the soonest to expire") {
    answer_cache cache(3);
    cache.insert(key("long.test"), with_ttl(100), 0);
    cache.insert(key("short.test"), with_ttl(5), 0);
    cache.insert(key("middle.test"), with_ttl(50), 0);
    cache.insert(key("new.test"), with_ttl(60), 1000);   // full: short.test goes
    CHECK(cache.size() == 3);
    CHECK(cache.evictions() == 1);
    CHECK_FALSE(cache.find(key("short.test"), 1000));
    CHECK(cache.find(key("long.test"), 1000));
    CHECK(cache.find(key("middle.test"), 1000));

    // At 55 s middle.test has expired: it makes room without counting as an eviction.
    cache.insert(key("later.test"), with_ttl(10), 55000);
    CHECK(cache.size() == 3);
    CHECK(cache.evictions() == 1);
    CHECK_FALSE(cache.find(key("middle.test"), 55000));

    for (int i = 0; i < 1000; ++i) cache.insert(key("n" + std::to_string(i)), with_ttl(30), 56000);
    CHECK(cache.size() == 3);
}

TEST_CASE("answer_cache stores nothing with zero capacity or a zero TTL") {
    answer_cache off(0);
    off.insert(key("a.test"), with_ttl(60), 0);
    CHECK(off.size() == 0);
    CHECK_FALSE(off.find(key("a.test"), 0));
    answer_cache cache(4);
    cache.insert(key("a.test"), with_ttl(0), 0);
    CHECK(cache.size() == 0);
}

TEST_CASE("order_by_preference sorts by preference and shuffles within one") {
    random_source random(1);
    std::map<std::string, int> first;
    for (int i = 0; i < 1000; ++i) {
        std::vector<mx_record> records = {{20, "c"}, {10, "a"}, {10, "b"}, {30, "d"}};
        order_by_preference(records, random);
        CHECK(records[2].exchange == "c");
        CHECK(records[3].exchange == "d");
        CHECK(records[0].preference == 10);
        CHECK(records[1].preference == 10);
        ++first[records[0].exchange];
    }
    // Binomial(1000, 0.5): sd 16, so 400..600 fails by chance with p < 1e-9.
    CHECK(first["a"] > 400);
    CHECK(first["b"] > 400);
}

TEST_CASE("random_source: seeded streams repeat, below() stays in range and spreads") {
    random_source a(99);
    random_source b(99);
    for (int i = 0; i < 10; ++i) CHECK(a.next_u64() == b.next_u64());
    random_source seeded;   // from getrandom
    int counts[7] = {};
    for (int i = 0; i < 7000; ++i) {
        std::uint64_t v = seeded.below(7);
        REQUIRE(v < 7);
        ++counts[v];
    }
    for (int c : counts) CHECK((c > 800 && c < 1200));
}
