// mx_result: where mail for a domain goes (RFC 5321 §5.1, RFC 7505), as the
// delivery side needs it: exchangers in the order to try, each with its
// addresses, or the reason there are none and whether that is permanent.
// Pure code, any shard.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ringmta/dns/ip_address.h"
#include "ringmta/dns/random_source.h"
#include "ringmta/dns/response.h"

namespace ringmta::dns {

enum class mx_status : std::uint8_t {
    exchangers,          // deliver: try exchangers in order
    null_mx,             // RFC 7505 null MX: bounce, 5.1.10
    nxdomain,            // the domain does not exist: bounce, 5.1.2
    no_address,          // MX (or implicit MX) names without addresses: bounce, 5.4.4
    temporary_failure,   // SERVFAIL / timeouts on what mattered: defer, 4.4.3
    invalid_domain,      // not a host name: bounce, 5.1.2
};

const char* mx_status_name(mx_status status);
// Whether the caller should defer (true) rather than deliver or bounce.
inline bool is_temporary(mx_status status) { return status == mx_status::temporary_failure; }

struct exchanger {
    std::string name;                    // normalized
    std::uint16_t preference = 0;
    std::vector<ip_address> addresses;   // IPv4 (A) first, then IPv6 (AAAA)
};

struct mx_result {
    mx_status status = mx_status::temporary_failure;
    std::vector<exchanger> exchangers;   // status exchangers: at least one
    bool implicit_mx = false;            // no MX records: the domain itself, preference 0
    std::uint32_t ttl_s = 0;             // lowest TTL of the answers used
    std::string detail;                  // one line for logs and DSN diagnostics
};

// Sorts by preference, lowest first, in random order within each preference
// (RFC 5321 §5.1: "randomize them to spread the load").
void order_by_preference(std::vector<mx_record>& records, random_source& random);

}  // namespace ringmta::dns
