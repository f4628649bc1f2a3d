// The ringmta daemon: shards, each with its journal, queue, delivery engine and
// listeners; the main thread waits for signals (SIGTERM/SIGINT: clean shutdown).
#pragma once

#include "ringmta/config/config.h"

namespace ringmta {

// Runs until stopped; returns the process exit status.
int run_daemon(const config::config& cfg);

}  // namespace ringmta
