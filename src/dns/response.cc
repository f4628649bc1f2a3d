// parse_response (see response.h): ldns_wire2pkt decodes; we follow the CNAME
// chain inside the answer section and pick the records of the asked type.
#include "ringmta/dns/response.h"

#include <algorithm>
#include <limits>
#include <memory>

#include "ldns_headers.h"
#include "name_text.h"

namespace ringmta::dns {

namespace {

struct packet_free {
    void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using packet_ptr = std::unique_ptr<ldns_pkt, packet_free>;

// RFC 2181 §8: a TTL with the top bit set is taken as zero.
std::uint32_t ttl_of(const ldns_rr* rr) {
    std::uint32_t ttl = ldns_rr_ttl(rr);
    return ttl > 0x7fffffffu ? 0 : ttl;
}

const ldns_rdf* field(const ldns_rr* rr, std::size_t index, std::size_t bytes) {
    if (ldns_rr_rd_count(rr) <= index) return nullptr;
    const ldns_rdf* rdf = ldns_rr_rdf(rr, index);
    if (rdf == nullptr || (bytes != 0 && ldns_rdf_size(rdf) != bytes)) return nullptr;
    return rdf;
}

// The CNAME in `answers` owned by `name`, if any.
const ldns_rr* cname_of(const ldns_rr_list* answers, const std::string& name) {
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(answers); ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(answers, i);
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME &&
            ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
            detail::name_text(ldns_rr_owner(rr)) == name && field(rr, 0, 0) != nullptr)
            return rr;
    }
    return nullptr;
}

void take_record(const ldns_rr* rr, response& r) {
    switch (r.asked.type) {
    case record_type::mx: {
        const ldns_rdf* preference = field(rr, 0, 2);
        const ldns_rdf* exchange = field(rr, 1, 0);
        if (preference && exchange)
            r.mx.push_back({ldns_rdf2native_int16(preference), detail::name_text(exchange)});
        break;
    }
    case record_type::a: {
        const ldns_rdf* a = field(rr, 0, 4);
        if (a) r.addresses.push_back(ip_address::v4(ldns_rdf_data(a)));
        break;
    }
    case record_type::aaaa: {
        const ldns_rdf* aaaa = field(rr, 0, 16);
        if (aaaa) r.addresses.push_back(ip_address::v6(ldns_rdf_data(aaaa)));
        break;
    }
    default:
        break;
    }
}

// Follows CNAMEs from the asked name (bounded), then takes the records of the
// asked type owned by the name the chain ends at.
void read_answer(const ldns_rr_list* answers, response& r) {
    std::uint32_t ttl = std::numeric_limits<std::uint32_t>::max();
    std::string current = r.asked.name;
    if (r.asked.type != record_type::cname) {
        unsigned depth = 0;
        for (const ldns_rr* c = cname_of(answers, current); c != nullptr;
             c = cname_of(answers, current)) {
            if (++depth > cname_depth_max) {
                r.cname_chain_broken = true;
                break;
            }
            ttl = std::min(ttl, ttl_of(c));
            current = detail::name_text(ldns_rr_rdf(c, 0));
        }
    }
    r.canonical_name = current;
    bool found = false;
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(answers) && !r.cname_chain_broken; ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(answers, i);
        if (ldns_rr_get_type(rr) != static_cast<ldns_rr_type>(r.asked.type) ||
            ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
            detail::name_text(ldns_rr_owner(rr)) != current)
            continue;
        take_record(rr, r);
        ttl = std::min(ttl, ttl_of(rr));
        found = true;
    }
    r.answer_ttl_s = found ? ttl : 0;
}

// RFC 2308 §5: the negative TTL is the lesser of the SOA's own TTL and its
// MINIMUM field (the seventh rdata field).
std::optional<std::uint32_t> negative_ttl(const ldns_rr_list* authority) {
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(authority); ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(authority, i);
        if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA) continue;
        const ldns_rdf* minimum = field(rr, 6, 4);
        if (minimum == nullptr) continue;
        std::uint32_t value = ldns_rdf2native_int32(minimum);
        if (value > 0x7fffffffu) value = 0;
        return std::min(ttl_of(rr), value);
    }
    return std::nullopt;
}

}  // namespace

std::optional<response> parse_response(std::span<const std::uint8_t> wire) {
    ldns_pkt* raw = nullptr;
    if (ldns_wire2pkt(&raw, wire.data(), wire.size()) != LDNS_STATUS_OK) {
        if (raw != nullptr) ldns_pkt_free(raw);
        return std::nullopt;
    }
    packet_ptr packet(raw);
    if (!ldns_pkt_qr(raw) || ldns_pkt_get_opcode(raw) != LDNS_PACKET_QUERY) return std::nullopt;
    const ldns_rr_list* questions = ldns_pkt_question(raw);
    if (ldns_rr_list_rr_count(questions) != 1) return std::nullopt;
    const ldns_rr* q = ldns_rr_list_rr(questions, 0);
    if (ldns_rr_get_class(q) != LDNS_RR_CLASS_IN) return std::nullopt;

    response r;
    r.id = ldns_pkt_id(raw);
    r.truncated = ldns_pkt_tc(raw);
    unsigned code = (static_cast<unsigned>(ldns_pkt_edns_extended_rcode(raw)) << 4) |
                    static_cast<unsigned>(ldns_pkt_get_rcode(raw));
    r.code = static_cast<response_code>(code);
    r.asked.name = detail::name_text(ldns_rr_owner(q));
    r.asked.type = static_cast<record_type>(ldns_rr_get_type(q));
    read_answer(ldns_pkt_answer(raw), r);
    r.negative_ttl_s = negative_ttl(ldns_pkt_authority(raw));
    return r;
}

bool answers(const response& r, std::uint16_t id, const question& q) {
    return r.id == id && r.asked == q;
}

}  // namespace ringmta::dns
