// Private: one connected UDP socket to one recursive resolver, shared by every
// query the shard sends there. A receive loop hands each reply to the query
// waiting for it, matched by (id, question); malformed, stale and mismatched
// datagrams are dropped and counted (RFC 5452 §9.1). A deadline loop expires
// queries on one shard timer (runtime::timer: a single IORING_OP_TIMEOUT in
// flight, moved as the earliest deadline changes).
//
// Several sends may be in flight on the socket at once: a datagram is sent
// whole or not at all, so STYLE.md's one-send-per-socket rule (which guards
// against interleaved short writes on streams) has nothing to protect here.
//
// Shard-local. stop() must be awaited before destruction.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "pending_query.h"
#include "ringmta/runtime/net.h"
#include "ringmta/runtime/notifier.h"
#include "ringmta/runtime/task.h"

namespace ringmta::dns::detail {

struct exchange_result {
    exchange_status status = exchange_status::cancelled;
    int error = 0;        // -errno when unreachable
    response reply;       // when answered
};

class udp_link {
public:
    explicit udp_link(const runtime::socket_address& server);
    ~udp_link();
    udp_link(const udp_link&) = delete;
    udp_link& operator=(const udp_link&) = delete;

    // socket() + connect() (blocking, no network traffic: start-up only).
    // An error text, empty on success.
    std::string open();
    void start();
    runtime::task<void> stop();

    // Sends `wire` (a query with `id` for `asked`) and waits for the reply or
    // for timeout_ms to pass.
    runtime::task<exchange_result> exchange(std::vector<std::uint8_t> wire, question asked,
                                            std::uint16_t id, std::uint64_t timeout_ms);

    bool id_in_use(std::uint16_t id) const { return _pending.contains(id); }
    std::size_t pending() const { return _pending.size(); }
    const runtime::socket_address& server() const { return _server; }
    std::uint64_t replies_dropped() const { return _replies_dropped; }

    // Server health: a failed server is asked last until suspect_until_ms.
    void mark_failed(std::uint64_t until_ms) { _suspect_until_ms = until_ms; }
    void mark_healthy() { _suspect_until_ms = 0; }
    bool suspect(std::uint64_t now_ms) const { return now_ms < _suspect_until_ms; }

private:
    runtime::task<void> receive_loop();
    runtime::task<void> deadline_loop();
    void dispatch(std::size_t bytes);
    void enlist(pending_query& p);
    void finish(pending_query& p, exchange_status status, int error = 0);
    void finish_all(exchange_status status, int error);
    void loop_ended();

    runtime::socket_address _server;
    int _fd = -1;
    bool _started = false;
    bool _stopping = false;
    unsigned _loops_live = 0;
    std::uint64_t _suspect_until_ms = 0;
    std::uint64_t _replies_dropped = 0;
    std::unordered_map<std::uint16_t, pending_query*> _pending;
    deadline_list _deadlines;
    runtime::notifier _tick;
    runtime::timer _timer{_tick};
    runtime::notifier _loops_done;
    std::vector<std::uint8_t> _datagram;   // the receive loop's one buffer
};

}  // namespace ringmta::dns::detail
