// lease_borrower: one shard's share of a destination's global budget (see
// lease.h). The shard's dispatcher asks it before opening a connection
// (try_acquire_slot) and before each transaction (try_send); it answers the
// owner's grants and revokes and reports demand. Pure: no I/O, time passed in.
#pragma once

#include <cstdint>
#include <optional>

#include "ringmta/queue/lease.h"
#include "ringmta/queue/throttle.h"
#include "ringmta/queue/throttle_controller.h"

namespace ringmta::queue {

enum class send_verdict : std::uint8_t {
    ok,             // send now
    wait_rate,      // no rate token: wait_ms() tells how long
    wait_daily,     // today's block is spent: ask for more (daily_wanted) or wait for midnight
};

class lease_borrower {
public:
    lease_borrower(std::uint64_t budget, unsigned borrower) : _budget(budget), _id(borrower) {}

    // Before opening a connection: one of the share's slots and, under a
    // connection rate, a token (both or neither).
    bool try_acquire_slot(std::uint64_t now_ms);
    // Milliseconds until a connection token (0: now, or no connection rate).
    std::uint64_t connect_wait_ms(std::uint64_t now_ms);
    // After a connection closed. Once the slots in use fit a revoked share, the
    // release that answers it is ready: send take_release() to the owner.
    void release_slot() { _slots.release(); }
    // Before each transaction of `recipients` recipients: a rate token and the
    // recipients from today's block. Give back what failed (give_back_daily).
    send_verdict try_send(std::uint64_t now_ms, std::uint64_t now_unix_ms,
                          std::uint64_t recipients);
    std::uint64_t wait_ms(std::uint64_t now_ms) { return _rate.wait_ms(now_ms); }
    void give_back_daily(std::uint64_t now_unix_ms, std::uint64_t recipients);
    // An attempt draws on several budgets (a destination's, a source's) and
    // takes from each in turn; when a later one refuses, what the earlier ones
    // took goes back: the slot and its connection token, or the rate token and
    // the recipients from today's block.
    void cancel_slot();
    void cancel_send(std::uint64_t now_unix_ms, std::uint64_t recipients);

    void on_grant(const lease_grant& grant, std::uint64_t now_ms);
    void on_revoke(const lease_revoke& revoke, std::uint64_t now_ms);
    // The release answering a revoke, once the slots in use fit; at most once.
    std::optional<lease_release> take_release(std::uint64_t now_unix_ms);
    // With nothing to send and no connection open: give the whole share back
    // (and today's unused deliveries), so an idle shard strands nothing.
    std::optional<lease_release> release_idle(std::uint64_t now_unix_ms);

    // Counts an outcome for the next demand report (the owner's controller).
    void record(throttle_signal signal);
    // The report to send; takes the outcome counts recorded since the last one.
    lease_demand demand(unsigned slots_wanted, std::uint64_t messages_ready,
                        std::uint64_t daily_wanted);

    const lease_share& share() const { return _share; }
    unsigned slots_in_use() const { return _slots.in_use(); }
    unsigned slots_limit() const { return _slots.limit(); }
    bool revoke_pending() const { return _pending; }
    std::uint64_t daily_left(std::uint64_t now_unix_ms) const;
    // The owner said today's cap is all lent (lease_grant::daily_spent): what
    // daily_left() has is all this borrower gets before 00:00 UTC.
    bool daily_spent(std::uint64_t now_unix_ms) const {
        return _share.daily_limited && _daily_spent_day != 0 &&
               _daily_spent_day == now_unix_ms / day_ms;
    }
    std::uint64_t budget_id() const { return _budget; }
    unsigned id() const { return _id; }

private:
    void apply(const lease_share& share, std::uint64_t seq, std::uint64_t now_ms);
    lease_release make_release(std::uint64_t now_unix_ms, bool return_daily);

    std::uint64_t _budget;
    unsigned _id;
    lease_share _share{0, true, 0, true, true, 0};   // nothing until the first grant
    std::uint64_t _seq = 0;              // of the latest message received
    bool _pending = false;               // a revoke to answer
    connection_slots _slots{0};
    token_bucket _rate;
    bool _rate_blocked = true;           // limited to 0: nothing may be sent
    token_bucket _connect;
    bool _connect_blocked = true;        // limited to 0: no connection may open
    std::uint64_t _daily_left = 0;
    std::uint64_t _daily_day = 0;
    std::uint64_t _daily_spent_day = 0;  // the day the owner said the cap is all lent
    std::uint32_t _successes = 0, _throttles = 0;
};

}  // namespace ringmta::queue
