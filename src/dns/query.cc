// build_query (see query.h): ldns builds the packet and its wire form; both
// ldns allocations are freed here.
#include "ringmta/dns/query.h"

#include <cstdlib>

#include "ldns_headers.h"

namespace ringmta::dns {

std::vector<std::uint8_t> build_query(const question& q, std::uint16_t id, bool edns) {
    ldns_rdf* name = ldns_dname_new_frm_str(q.name.c_str());
    if (name == nullptr) return {};
    // The packet takes ownership of `name`.
    ldns_pkt* packet = ldns_pkt_query_new(name, static_cast<ldns_rr_type>(q.type),
                                          LDNS_RR_CLASS_IN, LDNS_RD);
    if (packet == nullptr) {
        ldns_rdf_deep_free(name);
        return {};
    }
    ldns_pkt_set_id(packet, id);
    // A non-zero UDP size makes ldns_pkt2wire append the OPT pseudo-record.
    if (edns) ldns_pkt_set_edns_udp_size(packet, edns_payload_bytes);
    std::uint8_t* wire = nullptr;
    std::size_t size = 0;
    ldns_status status = ldns_pkt2wire(&wire, packet, &size);
    ldns_pkt_free(packet);
    std::vector<std::uint8_t> out;
    if (status == LDNS_STATUS_OK && wire != nullptr) out.assign(wire, wire + size);
    std::free(wire);   // ldns allocates wire buffers with malloc (LDNS_XMALLOC)
    return out;
}

}  // namespace ringmta::dns
