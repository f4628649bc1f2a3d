// Private: one UDP query waiting for its reply, and the deadline-ordered list of
// them. A pending_query lives in the frame of the coroutine that sent the query
// (udp_link::exchange); the link knows it by id and by deadline until it is
// finished, and nothing refers to it after that, so the frame may end.
// Shard-local: no locks.
#pragma once

#include <coroutine>
#include <cstdint>
#include <optional>

#include "ringmta/dns/question.h"
#include "ringmta/dns/response.h"
#include "ringmta/runtime/assert.h"

namespace ringmta::dns::detail {

enum class exchange_status : std::uint8_t {
    answered,      // `reply` holds the matching reply
    timed_out,     // no matching reply before the deadline
    unreachable,   // ICMP refused (ECONNREFUSED) or a send error
    cancelled,     // the resolver is stopping
};

struct pending_query {
    std::uint16_t id = 0;
    question asked;
    std::uint64_t deadline_ms = 0;
    std::optional<exchange_status> outcome;   // set once, by udp_link::finish
    int error = 0;                            // -errno for unreachable
    response reply;
    std::coroutine_handle<> waiter;
    pending_query* earlier = nullptr;         // deadline_list links
    pending_query* later = nullptr;

    // Awaiting a pending_query suspends until it is finished (at once if it is).
    bool await_ready() const noexcept { return outcome.has_value(); }
    void await_suspend(std::coroutine_handle<> h) noexcept { waiter = h; }
    void await_resume() const noexcept {}
};

// Intrusive list ordered by deadline, earliest first. Queries of one link share
// one timeout, so an insert lands at the back; the walk handles the rest.
class deadline_list {
public:
    bool empty() const { return _first == nullptr; }
    pending_query* first() const { return _first; }

    void insert(pending_query& p) {
        pending_query* after = _last;
        while (after != nullptr && after->deadline_ms > p.deadline_ms) after = after->earlier;
        p.earlier = after;
        p.later = after ? after->later : _first;
        if (p.later) p.later->earlier = &p; else _last = &p;
        if (after) after->later = &p; else _first = &p;
    }

    void remove(pending_query& p) {
        if (p.earlier) p.earlier->later = p.later; else _first = p.later;
        if (p.later) p.later->earlier = p.earlier; else _last = p.earlier;
        p.earlier = p.later = nullptr;
    }

private:
    pending_query* _first = nullptr;
    pending_query* _last = nullptr;
};

}  // namespace ringmta::dns::detail
