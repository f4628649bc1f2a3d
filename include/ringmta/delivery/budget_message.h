// What the shards' delivery engines tell each other about per-destination
// budgets (DESIGN.md, "Scheduling and throttles"): one lease protocol message
// (include/ringmta/queue/lease.h) with what the owner needs besides it. They
// travel over one budget_mesh that the daemon creates for all shards; a message
// a shard sends to itself never enters the mesh.
#pragma once

#include <string>

#include "ringmta/queue/lease.h"
#include "ringmta/queue/throttle_controller.h"
#include "ringmta/runtime/channel.h"

namespace ringmta::delivery {

struct budget_message {
    queue::lease_message lease;
    // On a demand: the budget key ("example.com", "group:google"), so an owner
    // that has not heard of the budget yet can find its limits in the config.
    std::string key;
    // On a demand with throttles: the latest throttling signal, for the reason
    // the owner's controller logs ("421", "connection refused", ...).
    queue::throttle_signal throttle = queue::throttle_signal::neutral;
};

using budget_mesh = runtime::shard_mesh<budget_message>;

}  // namespace ringmta::delivery
