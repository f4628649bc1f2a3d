// Private: one query over TCP (RFC 7766), used when a UDP reply came back
// truncated. A fresh connection per query, closed afterwards: truncation is
// rare for MX and address lookups, so connection reuse is not worth its state.
// Everything goes through the ring, with one overall deadline.
#pragma once

#include <cstdint>
#include <vector>

#include "ringmta/runtime/net.h"
#include "ringmta/runtime/task.h"
#include "udp_link.h"

namespace ringmta::dns::detail {

// Connects to `server`, sends `wire` (the query with `id` for `asked`) with its
// 2-byte length prefix and reads one length-prefixed reply. answered only for
// the matching reply; timed_out past timeout_ms; unreachable on other errors.
runtime::task<exchange_result> tcp_exchange(runtime::socket_address server,
                                            std::vector<std::uint8_t> wire, question asked,
                                            std::uint16_t id, std::uint64_t timeout_ms);

}  // namespace ringmta::dns::detail
