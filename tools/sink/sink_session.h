// One SMTP session of the sink: a coroutine on the accepting shard that drives
// smtp::server_protocol over the socket (recv, feed, send the replies) until
// QUIT, a drop, the idle timeout or the shard's stop. Owns and closes `fd`.
#pragma once

#include "ringmta/runtime/task.h"

namespace ringmta::sink {

class sink_shard;

runtime::task<void> serve_connection(sink_shard* shard, int fd);

}  // namespace ringmta::sink
