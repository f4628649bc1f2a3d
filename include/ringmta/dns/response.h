// response: what a DNS reply says about its question, decoded with ldns
// (ldns_wire2pkt). Pure code, any shard; no I/O. Every ldns object is freed
// before parse_response returns.
//
// Only the answer and authority sections are read. The additional section is
// ignored on purpose: glue there is not trusted (RFC 2181 §5.4.1 ranks it
// lowest), so exchanger addresses always come from their own A/AAAA queries.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ringmta/dns/ip_address.h"
#include "ringmta/dns/question.h"

namespace ringmta::dns {

// RCODE, with the EDNS extended bits (RFC 6891 §6.1.3) folded in.
enum class response_code : std::uint16_t {
    noerror = 0,
    formerr = 1,
    servfail = 2,
    nxdomain = 3,
    notimp = 4,
    refused = 5,
};

struct mx_record {
    std::uint16_t preference = 0;
    std::string exchange;        // normalized; "." is the null MX (RFC 7505)
    bool operator==(const mx_record&) const = default;
};

// CNAMEs followed inside one answer section before the chain counts as broken.
constexpr unsigned cname_depth_max = 8;

struct response {
    std::uint16_t id = 0;
    response_code code = response_code::noerror;
    bool truncated = false;                 // TC: ask again over TCP
    question asked;                         // the echoed question
    std::string canonical_name;             // where the CNAME chain ends
    bool cname_chain_broken = false;        // a loop, or longer than cname_depth_max
    std::vector<mx_record> mx;              // when asked.type is MX
    std::vector<ip_address> addresses;      // when asked.type is A or AAAA
    std::uint32_t answer_ttl_s = 0;         // lowest TTL of the records and CNAMEs used
    // RFC 2308 §5: min(SOA TTL, SOA MINIMUM) of the SOA in the authority section.
    std::optional<std::uint32_t> negative_ttl_s;
};

// Empty when the bytes are not a well-formed reply (ldns rejects them, QR is
// clear, the opcode is not QUERY, or there is not exactly one IN question).
std::optional<response> parse_response(std::span<const std::uint8_t> wire);

// Whether `r` is the reply to the query with `id` for `q`. A reply that is not
// is ignored by the transport, never taken as an error.
bool answers(const response& r, std::uint16_t id, const question& q);

}  // namespace ringmta::dns
