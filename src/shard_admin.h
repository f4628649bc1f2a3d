// The admin endpoint's backend across the daemon's shards (observe/admin_backend.h):
// every call runs on the admin server's shard, asks each shard's delivery engine
// over runtime::shard_calls, waits for all the answers (bounded) and merges them.
// A shard answers on its own thread, from its wake-up (shard_calls::run_posted).
#pragma once

#include <functional>
#include <vector>

#include "ringmta/delivery/engine.h"
#include "ringmta/observe/admin_backend.h"
#include "ringmta/runtime/shard_calls.h"

namespace ringmta {

class shard_admin final : public observe::admin_backend {
public:
    // engine_of(i), called on shard i only: that shard's engine (nullptr while it
    // has none: it failed to start, or is stopping).
    shard_admin(runtime::shard_calls& calls, unsigned home,
                std::function<delivery::engine*(unsigned)> engine_of);

    runtime::task<std::string> metrics_text() override;
    runtime::task<observe::queue_summary> queue() override;
    runtime::task<observe::admin_result> suspend(std::string domain,
                                                 std::uint64_t duration_ms) override;
    runtime::task<observe::admin_result> resume(std::string domain) override;
    runtime::task<observe::admin_result> retry(std::string domain) override;
    runtime::task<observe::admin_result> bounce(observe::message_filter filter) override;
    runtime::task<observe::admin_result> remove(observe::message_filter filter) override;

    // How long a call waits for every shard's answer before it gives up (503).
    static constexpr std::uint64_t answer_wait_ms = 30'000;

private:
    runtime::task<observe::admin_result> drop(observe::message_filter filter, bool bounce);

    runtime::shard_calls& _calls;
    unsigned _home;
    std::function<delivery::engine*(unsigned)> _engine_of;
};

// The shards' parts of the queue summary as one list, by destination: counts
// added up, the owner's limits and state taken where they are, the latest error.
observe::queue_summary merge_reports(
    const std::vector<std::vector<delivery::engine::destination_report>>& shards);

}  // namespace ringmta
