// The lease protocol: one global budget per destination (a domain or a group),
// lent in shares to the shards that have mail for it (DESIGN.md, "Scheduling and
// throttles"). Pure code: no I/O, time passed in; the messages are plain
// structs, so they travel over runtime::shard_mesh rings between shards today
// and through a shared store (Redis) between hosts later. Nothing here knows
// where the owner lives.
//
// The owner (lease_owner, on the shard owner_shard() names) holds the budget:
// connection slots N, a message rate R, a connection rate C and a daily cap D. Borrowers
// (lease_borrower, one per shard with mail for the destination) report their
// demand; the owner splits N and R among them in proportion to demand and hands
// out blocks of D.
//
// Safety (DESIGN.md invariant 5: N is never exceeded by all shards together):
// the owner counts, per borrower, `held`: an upper bound of what the borrower
// may use. A grow is counted before its grant is sent, and only from what is
// free (N minus the sum of held); a shrink is sent as a revoke and counted only
// when the borrower's release acknowledges it, which the borrower sends once
// its connections in use fit the new share. A release counts only if it
// answers the owner's latest message to that borrower (its seq), so a release
// that crossed a grant on the way is ignored. Hence, for every borrower,
// in use <= its limit <= held, and the sum of held <= N, at every instant,
// also while shares move and when N is less than the number of borrowers.
// While a revoke is unanswered the owner sends that borrower nothing else.
// When N itself is lowered (adaptive backoff, suspension), connections open
// are not cut: no new one opens until the sum is below the new N.
//
// Rates are shared the same way (a share's rate is counted like its slots),
// so the shares' rates never add up to more than R (connection rates: C); each
// share is a token bucket at its borrower, so a borrower may spend its burst (a
// tenth of a second of its share) just before a lowered rate reaches it.
#pragma once

#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

#include "ringmta/queue/throttle.h"

namespace ringmta::queue {

// A stable 64-bit name for a budget key ("example.com", "group:google"): the
// same in every shard and every host (FNV-1a).
std::uint64_t lease_key_hash(std::string_view key);
// The shard that owns the budget of `key` among `shards` (>= 1).
unsigned owner_shard(std::string_view key, unsigned shards);

// The global budget. rate_count 0: no rate limit; daily_cap 0: no daily cap;
// connect_count 0: no limit on connections opened.
struct lease_budget {
    unsigned slots = 0;
    std::uint64_t rate_count = 0;
    std::uint64_t rate_period_ms = 0;
    std::uint64_t daily_cap = 0;
    std::uint64_t connect_count = 0;     // connections opened per connect_period_ms
    std::uint64_t connect_period_ms = 0;
};

// One borrower's share: absolute values. Rates travel as messages per day
// (lease_rate_period_ms), so shares of one budget add up exactly.
// rate_limited false: no rate limit; daily_limited false: no daily cap;
// connect_limited false: no limit on connections opened.
struct lease_share {
    unsigned slots = 0;
    bool rate_limited = false;
    std::uint64_t rate_per_day = 0;      // 0 (limited): no sending
    bool daily_limited = false;
    bool connect_limited = false;
    std::uint64_t connect_per_day = 0;   // 0 (limited): no new connection
    bool operator==(const lease_share&) const = default;
};
inline constexpr std::uint64_t lease_rate_period_ms = day_ms;

// Borrower -> owner: what it could use now, and the outcomes seen since its
// last report (for the owner's adaptive controller).
struct lease_demand {
    std::uint64_t budget = 0;            // lease_key_hash of the key
    unsigned borrower = 0;
    unsigned slots_wanted = 0;           // connections it could use now
    std::uint64_t messages_ready = 0;    // weight of its rate share
    std::uint64_t daily_wanted = 0;      // deliveries it would make today, beyond its block
    std::uint32_t successes = 0, throttles = 0;
};

// Owner -> borrower: a share that grows (or stays); daily_add adds a block of
// today's (daily_day's) deliveries. daily_spent: the borrower wants more today,
// but the whole cap is lent; it is told once a day, and may stop waiting.
struct lease_grant {
    std::uint64_t budget = 0;
    unsigned borrower = 0;
    std::uint64_t seq = 0;
    lease_share share;
    std::uint64_t daily_add = 0;
    std::uint64_t daily_day = 0;         // unix_ms / day_ms the block is for
    bool daily_spent = false;
};

// Owner -> borrower: a share that shrinks in slots or rate; answer with a
// release once the connections in use fit.
struct lease_revoke {
    std::uint64_t budget = 0;
    unsigned borrower = 0;
    std::uint64_t seq = 0;
    lease_share share;
};

// Borrower -> owner: "I now use at most `share`", answering message `seq` (the
// latest it received), either a revoke or on its own when idle. Unused daily
// deliveries of daily_day go back with it.
struct lease_release {
    std::uint64_t budget = 0;
    unsigned borrower = 0;
    std::uint64_t seq = 0;
    lease_share share;
    std::uint64_t daily_return = 0;
    std::uint64_t daily_day = 0;
};

using lease_message = std::variant<lease_demand, lease_grant, lease_revoke, lease_release>;

}  // namespace ringmta::queue
