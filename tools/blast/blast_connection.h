// One ringmta-blast client connection: connects, greets (EHLO, capabilities),
// then sends the shard's messages one transaction at a time until none is left,
// and QUITs. With PIPELINING (when offered and not disabled) MAIL, the RCPTs and
// DATA go out in one write. A dropped connection fails its in-flight message and
// reconnects, at most reconnects_max times over the connection's life.
#pragma once

#include "ringmta/runtime/task.h"

namespace ringmta::blast {

class blast_shard;

inline constexpr unsigned reconnects_max = 10;

runtime::task<void> run_connection(blast_shard* shard);

}  // namespace ringmta::blast
