// admin_backend: what the admin endpoint (admin_server.h) asks of the running
// MTA. The HTTP layer parses, validates and formats; the backend acts. The
// daemon implements it across shards (each call fans out over the shard mesh
// and gathers the answers, hence coroutines); tests implement it with a
// recorder. Every call runs on the admin server's shard and may suspend.
// Parameters by value (g++ 12: coroutine parameters never refer to temporaries).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ringmta/runtime/task.h"

namespace ringmta::observe {

// One destination budget (a domain, or "group:name") in the queue summary.
struct domain_summary {
    std::string domain;
    std::uint64_t queued = 0;            // recipients waiting, ready or deferred
    std::uint64_t in_flight = 0;         // recipients being delivered now
    std::uint64_t deferred = 0;          // recipients waiting for a retry
    unsigned connections = 0;            // open now, all shards
    unsigned connections_allowed = 0;    // by the adaptive backoff now
    unsigned connections_max = 0;        // configured
    double rate_allowed_per_second = 0;  // by the adaptive backoff now; 0: no limit
    std::string rate_limit;              // configured, as written: "100/s", "0"
    std::uint64_t deliveries_today = 0;
    std::uint64_t daily_cap = 0;         // 0: none
    bool suspended = false;
    std::uint64_t suspended_until_unix_ms = 0;   // 0 while suspended: until resumed
    std::string last_error;              // the last failure's reply or diagnostic
};

struct queue_summary {
    std::vector<domain_summary> domains;
};

// The answer to an action. status is an HTTP status: 200 done, 404 no such
// domain (or nothing matched), 409 not possible now, 500 failed.
struct admin_result {
    int status = 200;
    std::uint64_t affected = 0;          // recipients (or domains) acted on
    std::string message;                 // for the operator, one line
};

// bounce / delete select by exactly one of these.
struct message_filter {
    std::string domain;                  // recipient domain, lower case
    std::string sender;                  // envelope sender, as given
};

class admin_backend {
public:
    virtual ~admin_backend() = default;

    // GET /metrics: the Prometheus text of every shard, merged.
    virtual runtime::task<std::string> metrics_text() = 0;
    // GET /queue
    virtual runtime::task<queue_summary> queue() = 0;
    // POST /domains/<d>/suspend?for=1h; duration_ms 0: until resumed.
    virtual runtime::task<admin_result> suspend(std::string domain,
                                                std::uint64_t duration_ms) = 0;
    // POST /domains/<d>/resume
    virtual runtime::task<admin_result> resume(std::string domain) = 0;
    // POST /domains/<d>/retry: deferred mail for the domain becomes due now.
    virtual runtime::task<admin_result> retry(std::string domain) = 0;
    // POST /bounce?domain=..|sender=..: fail the matching recipients with a DSN.
    virtual runtime::task<admin_result> bounce(message_filter filter) = 0;
    // POST /delete?domain=..|sender=..: drop the matching recipients, no DSN.
    virtual runtime::task<admin_result> remove(message_filter filter) = 0;
};

}  // namespace ringmta::observe
