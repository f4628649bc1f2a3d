// resolver: one shard's stub resolver. Queries recursive resolvers over UDP on
// the shard's io_uring (TCP when a reply is truncated), caches answers, joins
// identical concurrent lookups into one query, and turns a mail domain into its
// exchangers and their addresses (resolve_mx). Never blocks the shard; never
// uses ldns's resolver (DESIGN.md).
//
// Contract: created, started, used, stopped and destroyed on one shard thread,
// inside its reactor. start() opens one connected UDP socket per server address
// (blocking socket()+connect(), start-up only) and spawns a receive loop and a
// deadline loop per socket. stop() must be awaited before destruction; lookups
// still running then finish with timeout.
//
// Query strategy (glibc's res_send is the model, with a memory for dead servers):
// up to `rounds` rounds; each round asks every server once, in configured order,
// except that servers which timed out or were unreachable in the last
// `suspect_ms` are asked last. An answer (NOERROR, NXDOMAIN) ends the search;
// SERVFAIL, REFUSED, a timeout or an unreachable server moves on to the next.
// FORMERR/NOTIMP to an EDNS query is retried once without EDNS. At most
// queries_in_flight_max network lookups run at once per shard; more wait in
// FIFO order for a slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ringmta/dns/answer.h"
#include "ringmta/dns/answer_cache.h"
#include "ringmta/dns/mx_result.h"
#include "ringmta/dns/question.h"
#include "ringmta/dns/random_source.h"
#include "ringmta/runtime/net.h"
#include "ringmta/runtime/notifier.h"
#include "ringmta/runtime/task.h"

namespace ringmta::dns {

namespace detail {
class udp_link;
class query_gate;
struct lookup_in_progress;
struct attempt_outcome;
}  // namespace detail

struct resolver_options {
    std::vector<runtime::socket_address> servers;   // empty: read_resolv_conf() at start()
    std::uint64_t attempt_timeout_ms = 2000;        // one query to one server
    unsigned rounds = 2;                            // passes over all servers
    std::uint64_t suspect_ms = 30000;               // a failed server is asked last
    std::size_t queries_in_flight_max = 1024;       // network lookups per shard
    std::size_t cache_entries_max = 100000;         // 0: no cache
    ttl_limits ttl;
    std::size_t exchangers_max = 10;        // MX hosts whose addresses are looked up
    bool ipv6 = true;                       // look up AAAA for exchangers
    // Postfix's smtp_defer_if_no_mx_address_found: when no exchanger has an
    // address, defer instead of bouncing.
    bool defer_if_no_mx_address = false;
};

struct resolver_stats {
    std::uint64_t lookups = 0;            // lookup() calls (resolve_mx makes several)
    std::uint64_t cache_hits = 0;
    std::uint64_t coalesced = 0;          // lookups that joined an identical one in flight
    std::uint64_t network_lookups = 0;    // lookups that went to the network
    std::uint64_t udp_queries = 0;        // datagrams sent
    std::uint64_t tcp_queries = 0;        // truncated replies asked again over TCP
    std::uint64_t timeouts = 0;           // attempts without a reply in time
    std::uint64_t unreachable = 0;        // attempts refused by ICMP or send errors
    std::uint64_t replies_dropped = 0;    // malformed, stale or mismatched datagrams
    std::uint64_t slot_waits = 0;         // lookups that waited for an in-flight slot
    std::size_t in_flight_peak = 0;       // most network lookups at once
};

class resolver {
public:
    explicit resolver(resolver_options options);
    resolver(resolver_options options, random_source random);   // tests: fixed seed
    ~resolver();
    resolver(const resolver&) = delete;
    resolver& operator=(const resolver&) = delete;

    // Opens the sockets and starts the loops (start-up only: with no servers
    // configured it reads /etc/resolv.conf). An error text, empty on success.
    std::string start();
    // Cancels the loops and waits for them; pending lookups end with timeout.
    runtime::task<void> stop();

    // The answer for (name, type): from the cache, from an identical lookup in
    // flight, or from the network. Never fails other than through answer.status.
    runtime::task<answer> lookup(std::string name, record_type type);

    // Where mail for `domain` goes (RFC 5321 §5.1, RFC 7505); see README.md.
    runtime::task<mx_result> resolve_mx(std::string domain);

    resolver_stats stats() const;
    answer_cache& cache() { return _cache; }
    const resolver_options& options() const { return _options; }

private:
    runtime::task<answer> query_network(question q);
    runtime::task<detail::attempt_outcome> attempt(detail::udp_link* link, question q);
    runtime::task<mx_result> resolve_exchangers(std::vector<mx_record> candidates,
                                                std::uint32_t ttl_s, bool implicit);
    std::vector<detail::udp_link*> servers_in_order();
    std::uint16_t draw_id(const detail::udp_link& link);

    resolver_options _options;
    random_source _random;
    answer_cache _cache;
    resolver_stats _stats;
    std::vector<std::unique_ptr<detail::udp_link>> _links;
    std::unique_ptr<detail::query_gate> _gate;
    std::unordered_map<cache_key, detail::lookup_in_progress*, cache_key_hash> _in_progress;
    bool _running = false;
    bool _stopping = false;
};

}  // namespace ringmta::dns
