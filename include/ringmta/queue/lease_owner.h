// lease_owner: the holder of one destination's global budget (see lease.h for
// the protocol and why the sum of the shares never exceeds the budget). Lives on
// the shard owner_shard() names; later, for several hosts, behind a shared store.
// Pure: no I/O; the caller delivers the messages it produces and calls
// rebalance() after demand changes and on a timer (e.g. every 100 ms).
#pragma once

#include <cstdint>
#include <vector>

#include "ringmta/queue/lease.h"

namespace ringmta::queue {

class lease_owner {
public:
    // borrowers: the number of shards (borrower ids are 0..borrowers-1).
    lease_owner(std::uint64_t budget, unsigned borrowers, const lease_budget& limits);

    // A new budget: configuration reload, or the adaptive controller's values
    // (0 slots while suspended). Shares move on the next rebalance().
    void set_budget(const lease_budget& limits);
    const lease_budget& budget() const { return _limits; }

    void on_demand(const lease_demand& demand);
    void on_release(const lease_release& release, std::uint64_t now_unix_ms);
    // Appends the grants and revokes that move the shares toward the demand (at
    // most one message per borrower). Shares are in proportion to the demand,
    // capped at it; a remainder goes round the borrowers in turn, so with fewer
    // slots than borrowers each gets its turn.
    void rebalance(std::uint64_t now_unix_ms, std::vector<lease_message>& out);

    // What the owner counts as lent; for the invariant checks, metrics and /queue.
    unsigned slots_held() const;
    std::uint64_t rate_held_per_day() const;
    std::uint64_t connect_held_per_day() const;
    const lease_share& held(unsigned borrower) const { return _states[borrower].held; }
    bool revoke_pending(unsigned borrower) const { return _states[borrower].pending; }
    // Deliveries lent out today (used or not yet returned).
    std::uint64_t daily_lent() const { return _daily_lent; }
    std::uint64_t budget_id() const { return _budget; }
    unsigned borrowers() const { return static_cast<unsigned>(_states.size()); }

private:
    struct borrower_state {
        // What it may be using: an upper bound. At first nothing, rate included.
        lease_share held{0, true, 0, true, true, 0};
        std::uint64_t seq = 0;           // of the latest message sent to it
        bool pending = false;            // a revoke not yet answered
        lease_share pending_share;
        unsigned slots_wanted = 0;
        std::uint64_t messages_ready = 0;
        std::uint64_t daily_wanted = 0;
        std::uint64_t spent_told_day = 0;   // told on that day that the cap is all lent
    };

    void roll_day(std::uint64_t now_unix_ms);
    void compute_targets(std::vector<lease_share>& targets);
    void move_share(unsigned borrower, const lease_share& target,
                    std::vector<lease_message>& out);
    std::uint64_t daily_block(unsigned borrower);
    bool tell_spent(unsigned borrower);

    std::uint64_t _budget;
    lease_budget _limits;
    std::vector<borrower_state> _states;
    std::vector<lease_share> _targets;   // reused by rebalance: no allocation per call
    std::vector<std::uint64_t> _weights;
    std::vector<std::uint64_t> _amounts;
    std::vector<std::uint8_t> _picked;
    std::uint64_t _rotation = 0;
    std::uint64_t _day = 0;
    std::uint64_t _daily_lent = 0;
};

}  // namespace ringmta::queue
