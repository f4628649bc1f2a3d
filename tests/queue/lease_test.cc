// The lease protocol: a seeded, bounded simulation of one owner and several
// borrowers exchanging messages with arbitrary delays (in order per direction,
// as on a shard_mesh ring), demand changing at random, connections opening and
// closing, and the budget itself changing. After every step: no borrower uses
// more than the owner counts as lent to it (nor more than its limit, but while a
// revoke waits for connections to close), and the
// slots in use across borrowers never exceed N (when N is lowered, no new
// connection opens until they fit); no borrower's message or connection rate
// exceeds what the owner counts as lent to it, and those add up to R and C at
// most. Then: shares follow demand in proportion,
// an idle borrower strands nothing, and N < borrowers still rotates fairly.
#include "ringmta/queue/lease_borrower.h"
#include "ringmta/queue/lease_owner.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <vector>

using namespace ringmta::queue;

namespace {

constexpr std::uint64_t start_unix_ms = 20'000 * day_ms + 1000;

// One owner, `count` borrowers and the message queues between them.
struct harness {
    harness(unsigned count, const lease_budget& budget)
        : owner(7, count, budget), to_borrower(count), ceiling(budget.slots) {
        for (unsigned b = 0; b < count; ++b) borrowers.emplace_back(7, b);
        wanted.assign(count, 0);
    }

    void rebalance() {
        outbox.clear();
        owner.rebalance(now_unix_ms, outbox);
        for (lease_message& m : outbox) {
            unsigned to = std::holds_alternative<lease_grant>(m)
                              ? std::get<lease_grant>(m).borrower
                              : std::get<lease_revoke>(m).borrower;
            to_borrower[to].push_back(m);
        }
    }

    // Delivers the oldest message to borrower b; false if there is none.
    bool deliver_to_borrower(unsigned b) {
        if (to_borrower[b].empty()) return false;
        lease_message m = to_borrower[b].front();
        to_borrower[b].pop_front();
        if (auto* grant = std::get_if<lease_grant>(&m)) {
            borrowers[b].on_grant(*grant, now_ms);
        } else {
            borrowers[b].on_revoke(std::get<lease_revoke>(m), now_ms);
            answer(b);
        }
        return true;
    }

    bool deliver_to_owner() {
        if (to_owner.empty()) return false;
        lease_message m = to_owner.front();
        to_owner.pop_front();
        if (auto* demand = std::get_if<lease_demand>(&m)) {
            owner.on_demand(*demand);
        } else {
            owner.on_release(std::get<lease_release>(m), now_unix_ms);
        }
        return true;
    }

    void answer(unsigned b) {
        if (auto release = borrowers[b].take_release(now_unix_ms)) to_owner.push_back(*release);
    }

    void report(unsigned b, unsigned slots, std::uint64_t ready) {
        wanted[b] = slots;
        to_owner.push_back(borrowers[b].demand(slots, ready, ready));
    }

    unsigned in_use() const {
        unsigned sum = 0;
        for (const lease_borrower& b : borrowers) sum += b.slots_in_use();
        return sum;
    }

    // The invariants; `previous_in_use` is the sum before this step.
    void check(unsigned previous_in_use) const {
        for (unsigned b = 0; b < borrowers.size(); ++b) {
            CAPTURE(b);
            const lease_share& share = borrowers[b].share();
            const lease_share& held = owner.held(b);
            if (held.rate_limited) REQUIRE((share.rate_limited &&
                                            share.rate_per_day <= held.rate_per_day));
            if (held.connect_limited) REQUIRE((share.connect_limited &&
                                               share.connect_per_day <= held.connect_per_day));
            // Below its limit, or above it only while a revoke waits for closes.
            REQUIRE((borrowers[b].slots_in_use() <= borrowers[b].slots_limit() ||
                     borrowers[b].revoke_pending()));
            REQUIRE(borrowers[b].slots_in_use() <= owner.held(b).slots);
            REQUIRE(borrowers[b].slots_limit() <= owner.held(b).slots);
        }
        // DESIGN.md invariant 5: never above N. After N was lowered, the shares
        // lent under the old N drain: the ceiling falls to N and stays there.
        REQUIRE(in_use() <= owner.slots_held());
        REQUIRE(owner.slots_held() <= ceiling);
        const lease_budget& limits = owner.budget();
        if (limits.rate_count != 0) {
            REQUIRE(owner.rate_held_per_day() <=
                    limits.rate_count * lease_rate_period_ms / limits.rate_period_ms);
        }
        if (limits.connect_count != 0) {
            REQUIRE(owner.connect_held_per_day() <=
                    limits.connect_count * lease_rate_period_ms / limits.connect_period_ms);
        }
        (void)previous_in_use;
    }

    void set_slots(lease_budget budget) {
        ceiling = std::max(budget.slots, owner.slots_held());
        owner.set_budget(budget);
    }

    // After a step: the ceiling only falls, down to N.
    void tighten() {
        ceiling = std::max(owner.budget().slots, std::min(ceiling, owner.slots_held()));
    }

    lease_owner owner;
    std::vector<lease_borrower> borrowers;
    std::vector<std::deque<lease_message>> to_borrower;
    std::deque<lease_message> to_owner;
    std::vector<lease_message> outbox;
    std::vector<unsigned> wanted;
    std::uint64_t now_ms = 1000;
    std::uint64_t now_unix_ms = start_unix_ms;
    unsigned held_before_step = 0;
    unsigned ceiling = 0;
};

// Delivers everything and rebalances until nothing moves; bounded.
void settle(harness& h) {
    for (int round = 0; round < 200; ++round) {
        bool moved = false;
        while (h.deliver_to_owner()) moved = true;
        for (unsigned b = 0; b < h.borrowers.size(); ++b) {
            while (h.deliver_to_borrower(b)) moved = true;
        }
        h.rebalance();
        h.now_ms += 10;
        if (!moved && h.outbox.empty()) return;
    }
    FAIL("the lease protocol did not settle in 200 rounds");
}

}  // namespace

TEST_CASE("simulation: N is never exceeded while shares move (seeded, bounded)") {
    for (std::uint32_t seed = 1; seed <= 40; ++seed) {
        CAPTURE(seed);
        std::mt19937 random(seed);
        auto pick = [&](unsigned n) { return static_cast<unsigned>(random() % n); };
        const unsigned count = 1 + pick(6);
        lease_budget budget{pick(12), seed % 2 ? 1000u + pick(5000) : 0, 1000,
                            seed % 3 ? 500u : 0, seed % 4 < 2 ? 1u + pick(50) : 0, 1000};
        harness h(count, budget);
        std::uint64_t sent_today = 0;
        for (int step = 0; step < 3000; ++step) {
            const unsigned before = h.in_use();
            h.held_before_step = h.owner.slots_held();
            const unsigned b = pick(count);
            h.now_ms += pick(20);
            switch (pick(9)) {
                case 0: h.deliver_to_borrower(b); break;
                case 1: h.deliver_to_owner(); break;
                case 2: h.rebalance(); break;
                case 3: h.report(b, pick(9), pick(200)); break;
                case 4:
                    if (h.borrowers[b].slots_in_use() < h.wanted[b]) {
                        h.borrowers[b].try_acquire_slot(h.now_ms);
                    }
                    break;
                case 5:
                    if (h.borrowers[b].slots_in_use() > 0) {
                        h.borrowers[b].release_slot();
                        h.answer(b);
                    }
                    break;
                case 6:
                    if (h.wanted[b] == 0) {
                        if (auto r = h.borrowers[b].release_idle(h.now_unix_ms)) {
                            h.to_owner.push_back(*r);
                        }
                    }
                    break;
                case 7:
                    if (h.borrowers[b].slots_in_use() > 0 &&
                        h.borrowers[b].try_send(h.now_ms, h.now_unix_ms, 1) == send_verdict::ok) {
                        ++sent_today;
                    }
                    break;
                default:
                    if (pick(20) == 0) {   // adaptive backoff or a reload moves N
                        budget.slots = pick(12);
                        h.set_slots(budget);
                    }
                    break;
            }
            h.check(before);
            h.tighten();
            if (budget.daily_cap != 0) REQUIRE(sent_today <= budget.daily_cap);
        }
        // Everyone goes idle: every share comes back, nothing is stranded.
        for (unsigned b = 0; b < count; ++b) {
            while (h.borrowers[b].slots_in_use() > 0) {
                h.borrowers[b].release_slot();
                h.answer(b);
            }
            h.report(b, 0, 0);
        }
        settle(h);
        for (unsigned b = 0; b < count; ++b) {
            if (auto r = h.borrowers[b].release_idle(h.now_unix_ms)) h.to_owner.push_back(*r);
        }
        settle(h);
        CHECK(h.owner.slots_held() == 0);
        if (budget.rate_count != 0) CHECK(h.owner.rate_held_per_day() == 0);
        if (budget.connect_count != 0) CHECK(h.owner.connect_held_per_day() == 0);
        if (budget.daily_cap != 0) CHECK(h.owner.daily_lent() == sent_today);   // unused came back
    }
}

TEST_CASE("shares follow demand in proportion, capped at it") {
    harness h(3, lease_budget{12, 0, 0, 0});
    h.report(0, 10, 100);
    h.report(1, 5, 50);
    h.report(2, 5, 50);
    settle(h);
    CHECK(h.owner.held(0).slots == 6);
    CHECK(h.owner.held(1).slots == 3);
    CHECK(h.owner.held(2).slots == 3);
    CHECK(h.borrowers[0].slots_limit() == 6);
    // Demand below the budget: each gets what it asked for, no more.
    h.report(0, 2, 10);
    settle(h);
    CHECK(h.owner.held(0).slots == 2);
    CHECK(h.owner.held(1).slots == 5);
    CHECK(h.owner.held(2).slots == 5);
    CHECK(h.owner.slots_held() == 12);
    CHECK_FALSE(h.borrowers[1].share().rate_limited);
}

TEST_CASE("rates are split by messages ready and add up to the budget") {
    harness h(2, lease_budget{4, 100, 1000, 0});   // 100/s = 8,640,000 a day
    h.report(0, 2, 300);
    h.report(1, 2, 100);
    settle(h);
    CHECK(h.owner.held(0).rate_per_day == 6'480'000);
    CHECK(h.owner.held(1).rate_per_day == 2'160'000);
    CHECK(h.owner.rate_held_per_day() == 8'640'000);
    // The share as a token bucket: 75 messages a second at borrower 0.
    lease_borrower& b = h.borrowers[0];
    REQUIRE(b.try_acquire_slot(h.now_ms));
    std::uint64_t sent = 0;
    for (std::uint64_t ms = 0; ms < 10'000; ++ms) {
        while (b.try_send(h.now_ms + ms, h.now_unix_ms, 1) == send_verdict::ok) ++sent;
    }
    CHECK(sent >= 750);
    CHECK(sent <= 750 + 8);   // plus the burst it started with
    // A send cancelled (another budget refused it) gives its token back.
    const std::uint64_t later = h.now_ms + 20'000;
    for (int n = 0; n < 100 && b.try_send(later, h.now_unix_ms, 1) == send_verdict::ok; ++n) {}
    REQUIRE(b.try_send(later, h.now_unix_ms, 1) == send_verdict::wait_rate);   // burst spent
    b.cancel_send(h.now_unix_ms, 1);
    CHECK(b.try_send(later, h.now_unix_ms, 1) == send_verdict::ok);
    CHECK(b.try_send(later, h.now_unix_ms, 1) == send_verdict::wait_rate);
}

TEST_CASE("connection rates are split like message rates; a slot needs a token") {
    lease_budget budget{8, 0, 0, 0, 10, 1000};   // 10 connections a second
    harness h(2, budget);
    h.report(0, 4, 300);
    h.report(1, 4, 100);
    settle(h);
    CHECK(h.owner.held(0).connect_per_day == 648'000);   // 7.5 a second
    CHECK(h.owner.held(1).connect_per_day == 216'000);   // 2.5 a second
    CHECK(h.owner.connect_held_per_day() == 864'000);
    CHECK_FALSE(h.owner.held(0).rate_limited);           // no message rate configured
    // Borrower 0 opens and closes as fast as it may for 10 s: 75, plus its burst.
    lease_borrower& b = h.borrowers[0];
    std::uint64_t opened = 0;
    for (std::uint64_t ms = 0; ms < 10'000; ++ms) {
        while (b.try_acquire_slot(h.now_ms + ms)) {
            ++opened;
            b.release_slot();
        }
    }
    CHECK(opened >= 75);
    CHECK(opened <= 75 + 1);
    // A token is not spent when no slot is free, and a slot is not taken without one.
    for (unsigned i = 0; i < 4; ++i) REQUIRE(b.try_acquire_slot(h.now_ms + 20'000 + i * 200));
    CHECK(b.slots_in_use() == 4);
    CHECK(b.connect_wait_ms(h.now_ms + 20'800) == 0);
    CHECK_FALSE(b.try_acquire_slot(h.now_ms + 20'800));   // 4 of 4 slots in use
    b.release_slot();
    CHECK(b.try_acquire_slot(h.now_ms + 20'800));
    CHECK_FALSE(b.try_acquire_slot(h.now_ms + 20'800));    // no slot: the token waits
    b.release_slot();
    CHECK_FALSE(b.try_acquire_slot(h.now_ms + 20'801));    // a slot, but no token yet
    CHECK(b.connect_wait_ms(h.now_ms + 20'801) > 0);
    CHECK(b.slots_in_use() == 3);
    // Cancelled (another budget refused the attempt): the slot and the token return.
    REQUIRE(b.try_acquire_slot(h.now_ms + 21'000));
    CHECK_FALSE(b.try_acquire_slot(h.now_ms + 21'000));   // 4 in use
    b.cancel_slot();
    CHECK(b.slots_in_use() == 3);
    CHECK(b.try_acquire_slot(h.now_ms + 21'000));   // the same token, once more
}

TEST_CASE("a revoke counts only when answered; a crossing release is ignored") {
    harness h(2, lease_budget{4, 0, 0, 0});
    h.report(0, 4, 10);
    settle(h);
    REQUIRE(h.owner.held(0).slots == 4);
    for (int i = 0; i < 4; ++i) REQUIRE(h.borrowers[0].try_acquire_slot(h.now_ms));
    h.report(1, 4, 10);
    h.deliver_to_owner();
    h.rebalance();   // revoke borrower 0 down to 2
    CHECK(h.owner.revoke_pending(0));
    h.deliver_to_borrower(0);
    CHECK(h.borrowers[0].slots_limit() == 2);
    CHECK(h.to_owner.empty());   // 4 in use: not answered yet
    h.rebalance();
    CHECK(h.owner.held(1).slots == 0);   // nothing free until the answer
    h.borrowers[0].release_slot();
    h.answer(0);
    CHECK(h.to_owner.empty());   // 3 in use
    h.borrowers[0].release_slot();
    h.answer(0);
    REQUIRE(h.to_owner.size() == 1);
    settle(h);
    CHECK(h.owner.held(0).slots == 2);
    CHECK(h.owner.held(1).slots == 2);
    // A release sent before a grant it crossed is ignored.
    lease_release stale{7, 1, 0, lease_share{}, 0, 0};
    h.owner.on_release(stale, h.now_unix_ms);
    CHECK(h.owner.held(1).slots == 2);
}

TEST_CASE("fewer slots than borrowers: one at a time, each gets turns") {
    harness h(3, lease_budget{1, 0, 0, 0});
    std::vector<int> turns(3, 0);
    for (int round = 0; round < 400; ++round) {
        for (unsigned b = 0; b < 3; ++b) {
            if (round % 50 == 0) h.report(b, 4, 10);
            while (h.deliver_to_borrower(b)) {}
            // A borrower with a slot uses it briefly, then closes.
            if (h.borrowers[b].try_acquire_slot(h.now_ms)) ++turns[b];
            if (h.borrowers[b].slots_in_use() > 0 && round % 3 == 0) {
                h.borrowers[b].release_slot();
                h.answer(b);
            }
        }
        while (h.deliver_to_owner()) {}
        h.rebalance();
        REQUIRE(h.in_use() <= 1);
        REQUIRE(h.owner.slots_held() <= 1);
    }
    for (unsigned b = 0; b < 3; ++b) {
        CAPTURE(b);
        CHECK(turns[b] > 0);
    }
}

TEST_CASE("daily cap: blocks add up to the cap and the day rolls over") {
    harness h(2, lease_budget{2, 0, 0, 10});
    h.report(0, 1, 100);
    h.report(1, 1, 100);
    std::uint64_t sent = 0;
    auto send_all_day = [&] {   // both borrowers send whatever their blocks allow
        for (int round = 0; round < 100; ++round) {
            settle(h);
            for (unsigned b = 0; b < 2; ++b) {
                while (h.borrowers[b].try_send(h.now_ms, h.now_unix_ms, 1) == send_verdict::ok) {
                    ++sent;
                }
                h.report(b, 1, 100);
            }
        }
    };
    send_all_day();
    CHECK(sent == 10);
    CHECK(h.borrowers[0].try_send(h.now_ms, h.now_unix_ms, 1) == send_verdict::wait_daily);
    h.now_unix_ms += day_ms;   // midnight UTC: a new day's cap
    send_all_day();
    CHECK(sent == 20);
}

TEST_CASE("daily cap: a borrower that wants more than is left is told once, then the day rolls") {
    harness h(2, lease_budget{2, 0, 0, 8});
    h.report(0, 1, 100);   // each wants 100 deliveries today; the cap is 8
    h.report(1, 1, 100);
    for (int round = 0; round < 20; ++round) {
        settle(h);
        h.report(0, 1, 100);
        h.report(1, 1, 100);
    }
    settle(h);
    CHECK(h.owner.daily_lent() == 8);
    const std::uint64_t left0 = h.borrowers[0].daily_left(h.now_unix_ms);
    const std::uint64_t left1 = h.borrowers[1].daily_left(h.now_unix_ms);
    CHECK(left0 + left1 == 8);
    CHECK(h.borrowers[0].daily_spent(h.now_unix_ms));
    CHECK(h.borrowers[1].daily_spent(h.now_unix_ms));
    // Told once: more demand brings no more grants today.
    h.report(0, 1, 100);
    h.deliver_to_owner();
    h.rebalance();
    CHECK(h.outbox.empty());
    // A borrower without the cap in its share is never told.
    harness free(1, lease_budget{2, 0, 0, 0});
    free.report(0, 1, 100);
    settle(free);
    CHECK_FALSE(free.borrowers[0].daily_spent(free.now_unix_ms));
    // Deliveries given back to the owner are lent again, and the news is taken back.
    if (auto r = h.borrowers[1].release_idle(h.now_unix_ms)) h.to_owner.push_back(*r);
    h.report(1, 0, 0);
    settle(h);
    CHECK(h.owner.daily_lent() == 8);   // borrower 0 still wanted them
    CHECK(h.borrowers[0].daily_left(h.now_unix_ms) == 8);
    CHECK(h.borrowers[0].daily_spent(h.now_unix_ms));   // all lent again, and told again
    // The next UTC day: the news is void, and blocks come again.
    h.now_unix_ms += day_ms;
    CHECK_FALSE(h.borrowers[0].daily_spent(h.now_unix_ms));
    CHECK(h.borrowers[0].daily_left(h.now_unix_ms) == 0);
    h.report(0, 1, 100);
    settle(h);
    CHECK(h.borrowers[0].daily_left(h.now_unix_ms) > 0);
}

TEST_CASE("owner_shard: stable, in range, spread") {
    CHECK(lease_key_hash("gmail.com") == lease_key_hash("gmail.com"));
    CHECK(lease_key_hash("") == 0xcbf29ce484222325ull);   // FNV-1a offset basis
    CHECK(owner_shard("gmail.com", 1) == 0);
    std::vector<int> per_shard(4, 0);
    for (int i = 0; i < 400; ++i) {
        unsigned s = owner_shard("domain" + std::to_string(i) + ".example", 4);
        REQUIRE(s < 4);
        ++per_shard[s];
    }
    for (int count : per_shard) CHECK(count > 60);
}
