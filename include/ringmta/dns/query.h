// build_query: the wire form of one recursive query, built with ldns
// (ldns_pkt_query_new + ldns_pkt2wire). Pure code, any shard; no I/O.
#pragma once

#include <cstdint>
#include <vector>

#include "ringmta/dns/question.h"

namespace ringmta::dns {

// EDNS0 payload size we advertise: the DNS Flag Day 2020 value, which fits an
// IPv6 path MTU of 1280 without fragmentation.
constexpr std::uint16_t edns_payload_bytes = 1232;

// A query for `q` with message id `id` and RD set; with `edns`, an OPT record
// advertising edns_payload_bytes. Empty when ldns cannot encode the name.
std::vector<std::uint8_t> build_query(const question& q, std::uint16_t id, bool edns = true);

}  // namespace ringmta::dns
