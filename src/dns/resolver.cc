// resolver (see resolver.h): the cache, coalescing of identical lookups, the
// in-flight cap and the walk over servers. resolve_mx is in mx_resolution.cc.
#include "ringmta/dns/resolver.h"

#include <algorithm>
#include <cerrno>

#include "query_gate.h"
#include "ringmta/dns/query.h"
#include "ringmta/dns/resolv_conf.h"
#include "ringmta/runtime/reactor.h"
#include "tcp_exchange.h"
#include "udp_link.h"

namespace ringmta::dns {

namespace detail {

// A lookup that joined an identical one in flight; the first one fills `result`.
struct coalesced_waiter {
    std::coroutine_handle<> handle;
    answer result;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept { handle = h; }
    void await_resume() const noexcept {}
};

struct lookup_in_progress {
    std::vector<coalesced_waiter*> waiters;
};

// The result of asking one server: a final answer, or why to ask the next one.
struct attempt_outcome {
    bool final = false;
    answer result;                                    // when final
    answer_status failure = answer_status::timeout;   // servfail or timeout otherwise
    bool cancelled = false;                           // the resolver is stopping
};

}  // namespace detail

using detail::exchange_status;

resolver::resolver(resolver_options options) : resolver(std::move(options), random_source()) {}

resolver::resolver(resolver_options options, random_source random)
    : _options(std::move(options)), _random(random), _cache(_options.cache_entries_max),
      _gate(std::make_unique<detail::query_gate>(_options.queries_in_flight_max)) {
    RINGMTA_ASSERT(_options.rounds > 0 && _options.attempt_timeout_ms > 0,
                   "resolver needs rounds > 0 and attempt_timeout_ms > 0");
    // Ids must stay unique per socket: fewer queries in flight than ids.
    RINGMTA_ASSERT(_options.queries_in_flight_max > 0 && _options.queries_in_flight_max < 32768,
                   "queries_in_flight_max %zu out of range", _options.queries_in_flight_max);
}

resolver::~resolver() {
    RINGMTA_ASSERT(!_running, "resolver destroyed before stop() finished");
}

std::string resolver::start() {
    RINGMTA_ASSERT(!_running && !_stopping, "resolver::start twice");
    if (_options.servers.empty()) _options.servers = read_resolv_conf();
    for (const runtime::socket_address& server : _options.servers) {
        auto link = std::make_unique<detail::udp_link>(server);
        std::string error = link->open();
        if (!error.empty()) {
            _links.clear();
            return error;
        }
        _links.push_back(std::move(link));
    }
    for (auto& link : _links) link->start();
    _running = true;
    return {};
}

runtime::task<void> resolver::stop() {
    if (!_running) co_return;
    _stopping = true;
    for (auto& link : _links) co_await link->stop();
    // Lookups in a TCP exchange (bounded by its timeout) or between attempts
    // finish before the resolver may go away. Bounded: each pass waits for one
    // idle moment, and no new network lookup starts while stopping.
    while (_gate->used() > 0) {
        auto idle = _gate->idle();
        co_await idle;
    }
    _running = false;
}

resolver_stats resolver::stats() const {
    resolver_stats s = _stats;
    s.slot_waits = _gate->waits();
    s.in_flight_peak = _gate->used_peak();
    for (const auto& link : _links) s.replies_dropped += link->replies_dropped();
    return s;
}

runtime::task<answer> resolver::lookup(std::string name, record_type type) {
    ++_stats.lookups;
    std::optional<std::string> normalized = normalize_name(name);
    if (!normalized) co_return failed_answer(answer_status::invalid_name, _options.ttl);
    cache_key key{std::move(*normalized), type};
    std::uint64_t now_ms = runtime::reactor::current().now_ms();
    if (std::optional<answer> cached = _cache.find(key, now_ms)) {
        ++_stats.cache_hits;
        co_return std::move(*cached);
    }
    if (auto it = _in_progress.find(key); it != _in_progress.end()) {
        ++_stats.coalesced;
        detail::coalesced_waiter waiter;
        it->second->waiters.push_back(&waiter);
        co_await waiter;
        co_return std::move(waiter.result);
    }
    detail::lookup_in_progress mine;
    _in_progress.emplace(key, &mine);
    // Named locals: g++ 12 copies a braced temporary passed to a coroutine
    // bitwise, leaving its strings pointing into this frame.
    question asked{key.name, type};
    runtime::task<answer> network = query_network(std::move(asked));
    answer result = co_await std::move(network);
    _in_progress.erase(key);
    _cache.insert(key, result, runtime::reactor::current().now_ms());
    for (detail::coalesced_waiter* w : mine.waiters) {
        w->result = result;
        runtime::reactor::current().schedule(w->handle);
    }
    co_return result;
}

runtime::task<answer> resolver::query_network(question q) {
    auto slot = _gate->acquire();
    co_await slot;
    ++_stats.network_lookups;
    answer_status failure = answer_status::timeout;
    bool done = false;
    answer result;
    for (unsigned round = 0; round < _options.rounds && !done && !_stopping; ++round) {
        for (detail::udp_link* link : servers_in_order()) {
            detail::attempt_outcome outcome = co_await attempt(link, q);
            if (outcome.final) {
                result = std::move(outcome.result);
                done = true;
                break;
            }
            if (outcome.cancelled) break;
            // A SERVFAIL anywhere says more than a timeout elsewhere.
            if (outcome.failure == answer_status::servfail) failure = answer_status::servfail;
        }
    }
    _gate->release();
    if (!done) result = failed_answer(failure, _options.ttl);
    co_return result;
}

// Healthy servers in configured order, then suspect ones (also in order).
std::vector<detail::udp_link*> resolver::servers_in_order() {
    std::uint64_t now_ms = runtime::reactor::current().now_ms();
    std::vector<detail::udp_link*> order;
    order.reserve(_links.size());
    for (auto& link : _links)
        if (!link->suspect(now_ms)) order.push_back(link.get());
    for (auto& link : _links)
        if (link->suspect(now_ms)) order.push_back(link.get());
    return order;
}

std::uint16_t resolver::draw_id(const detail::udp_link& link) {
    // Random ids (RFC 5452 §9.2); redraw on the rare clash with a pending one.
    // At most 32767 of 65536 ids are in use, so 64 draws all failing has
    // probability below 2^-64; the linear probe after that always ends.
    std::uint16_t id = _random.next_u16();
    for (unsigned draw = 0; draw < 64 && link.id_in_use(id); ++draw) id = _random.next_u16();
    for (unsigned step = 0; step < 65536 && link.id_in_use(id); ++step) ++id;
    return id;
}

runtime::task<detail::attempt_outcome> resolver::attempt(detail::udp_link* link, question q) {
    detail::attempt_outcome outcome;
    bool edns = true;
    // At most two passes: the second only without EDNS, after FORMERR/NOTIMP.
    for (unsigned pass = 0; pass < 2; ++pass) {
        std::uint16_t id = draw_id(*link);
        std::vector<std::uint8_t> wire = build_query(q, id, edns);
        ++_stats.udp_queries;
        detail::exchange_result x =
            co_await link->exchange(std::move(wire), q, id, _options.attempt_timeout_ms);
        if (x.status == exchange_status::answered && x.reply.truncated) {
            ++_stats.tcp_queries;
            x = co_await detail::tcp_exchange(link->server(), build_query(q, id, edns), q, id,
                                              _options.attempt_timeout_ms);
        }
        std::uint64_t now_ms = runtime::reactor::current().now_ms();
        if (x.status == exchange_status::cancelled) {
            outcome.cancelled = true;
            co_return outcome;
        }
        if (x.status != exchange_status::answered) {
            if (x.status == exchange_status::timed_out) {
                ++_stats.timeouts;
            } else {
                ++_stats.unreachable;
            }
            link->mark_failed(now_ms + _options.suspect_ms);
            co_return outcome;   // timeout
        }
        link->mark_healthy();
        response_code code = x.reply.code;
        if (edns && (code == response_code::formerr || code == response_code::notimp)) {
            edns = false;   // an old server that does not speak EDNS0 (RFC 6891 §7)
            continue;
        }
        if (code == response_code::noerror || code == response_code::nxdomain) {
            outcome.result = make_answer(std::move(x.reply), _options.ttl);
            outcome.final = !is_temporary(outcome.result.status);
        }
        outcome.failure = answer_status::servfail;
        co_return outcome;
    }
    outcome.failure = answer_status::servfail;
    co_return outcome;
}

}  // namespace ringmta::dns
