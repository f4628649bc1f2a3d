// answer: the outcome of one lookup (name, type) as the rest of ringmta sees it,
// and what the per-shard cache stores. Operating errors (SERVFAIL, timeouts) are
// statuses here, never exceptions. Pure code, any shard.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ringmta/dns/ip_address.h"
#include "ringmta/dns/response.h"

namespace ringmta::dns {

enum class answer_status : std::uint8_t {
    ok,             // NOERROR with records of the asked type
    nodata,         // NOERROR, the name exists, no records of that type
    nxdomain,       // the name does not exist
    servfail,       // SERVFAIL, REFUSED or another error from every server tried
    timeout,        // no usable reply from any server in time
    invalid_name,   // the name cannot be asked (normalize_name refused it)
};

const char* answer_status_name(answer_status status);
// SERVFAIL and timeouts: try again later. Everything else is an answer.
bool is_temporary(answer_status status);

// How long answers live in the cache (and what ttl_s callers see).
struct ttl_limits {
    std::uint32_t positive_max_s = 86400;      // record TTLs clamp to [0, 1 day]
    std::uint32_t negative_default_s = 300;    // NXDOMAIN/NODATA without an SOA
    std::uint32_t negative_max_s = 3600;       // RFC 2308 §5 suggests 1-3 hours max
    std::uint32_t failure_s = 5;               // SERVFAIL/timeouts: 0 = never cached
};

struct answer {
    answer_status status = answer_status::timeout;
    std::uint32_t ttl_s = 0;            // how long this may be reused
    std::string canonical_name;         // after CNAMEs; the asked name without
    std::vector<mx_record> mx;          // for MX lookups
    std::vector<ip_address> addresses;  // for A / AAAA lookups
};

// The answer a NOERROR or NXDOMAIN reply gives (TTL clamped to `limits`); any
// other rcode, or a broken CNAME chain, gives servfail.
answer make_answer(response reply, const ttl_limits& limits);
// A failure without a reply: servfail, timeout or invalid_name.
answer failed_answer(answer_status status, const ttl_limits& limits);

}  // namespace ringmta::dns
