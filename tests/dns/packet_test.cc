// Pure packet code: query building, reply parsing (CNAME chains, negative TTLs,
// matching, malformed input) and the answer rules. Replies are built with ldns
// here so the parser meets the same wire format a server sends.
#include <doctest/doctest.h>
// Before ldns: otherwise ldns/common.h defines bool, true and false as macros.
#include <stdbool.h>

#include <ldns/ldns.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "ringmta/dns/answer.h"
#include "ringmta/dns/query.h"
#include "ringmta/dns/random_source.h"
#include "ringmta/dns/response.h"

using namespace ringmta::dns;

namespace {

struct reply_spec {
    std::uint16_t id = 7;
    const char* qname = "example.com.";
    ldns_rr_type qtype = LDNS_RR_TYPE_MX;
    std::uint8_t rcode = LDNS_RCODE_NOERROR;
    std::uint8_t extended_rcode = 0;
    bool tc = false;
    std::vector<std::string> answers;
    std::vector<std::string> authority;
};

void push(ldns_pkt* p, ldns_pkt_section section, const std::string& text) {
    ldns_rr* rr = nullptr;
    REQUIRE(ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) == LDNS_STATUS_OK);
    ldns_pkt_push_rr(p, section, rr);
}

std::vector<std::uint8_t> wire_of(const reply_spec& spec) {
    ldns_pkt* p = ldns_pkt_new();
    ldns_pkt_set_id(p, spec.id);
    ldns_pkt_set_qr(p, true);
    ldns_pkt_set_rd(p, true);
    ldns_pkt_set_tc(p, spec.tc);
    ldns_pkt_set_rcode(p, spec.rcode);
    if (spec.extended_rcode != 0) {
        ldns_pkt_set_edns_udp_size(p, 1232);
        ldns_pkt_set_edns_extended_rcode(p, spec.extended_rcode);
    }
    ldns_rr* q = ldns_rr_new();
    ldns_rr_set_owner(q, ldns_dname_new_frm_str(spec.qname));
    ldns_rr_set_type(q, spec.qtype);
    ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
    ldns_rr_set_question(q, true);
    ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
    for (const std::string& a : spec.answers) push(p, LDNS_SECTION_ANSWER, a);
    for (const std::string& a : spec.authority) push(p, LDNS_SECTION_AUTHORITY, a);
    std::uint8_t* wire = nullptr;
    std::size_t size = 0;
    REQUIRE(ldns_pkt2wire(&wire, p, &size) == LDNS_STATUS_OK);
    std::vector<std::uint8_t> out(wire, wire + size);
    std::free(wire);
    ldns_pkt_free(p);
    return out;
}

}  // namespace

TEST_CASE("build_query: RD, the id, one IN question and EDNS0 with a 1232-byte payload") {
    std::vector<std::uint8_t> wire = build_query({"mail.example.com", record_type::mx}, 0xbeef);
    REQUIRE(wire.size() > 12);
    ldns_pkt* p = nullptr;
    REQUIRE(ldns_wire2pkt(&p, wire.data(), wire.size()) == LDNS_STATUS_OK);
    CHECK(ldns_pkt_id(p) == 0xbeef);
    CHECK(ldns_pkt_rd(p));
    CHECK_FALSE(ldns_pkt_qr(p));
    CHECK(ldns_pkt_qdcount(p) == 1);
    CHECK(ldns_pkt_edns(p));
    CHECK(ldns_pkt_edns_udp_size(p) == 1232);
    const ldns_rr* q = ldns_rr_list_rr(ldns_pkt_question(p), 0);
    CHECK(ldns_rr_get_type(q) == LDNS_RR_TYPE_MX);
    CHECK(ldns_rr_get_class(q) == LDNS_RR_CLASS_IN);
    char* owner = ldns_rdf2str(ldns_rr_owner(q));
    CHECK(std::string(owner) == "mail.example.com.");
    std::free(owner);
    ldns_pkt_free(p);

    std::vector<std::uint8_t> plain = build_query({"example.com", record_type::a}, 1, false);
    CHECK(plain[11] == 0);   // ARCOUNT low byte: no OPT record without EDNS
    CHECK(wire[11] == 1);
}

TEST_CASE("normalize_name lower-cases, drops the trailing dot and refuses non-host names") {
    CHECK(normalize_name("Mail.Example.COM.") == "mail.example.com");
    CHECK(normalize_name("_dmarc.example.com") == "_dmarc.example.com");
    CHECK_FALSE(normalize_name(""));
    CHECK_FALSE(normalize_name("."));
    CHECK_FALSE(normalize_name("a..b"));
    CHECK_FALSE(normalize_name(".a"));
    CHECK_FALSE(normalize_name("exa mple.com"));
    CHECK_FALSE(normalize_name("evil\\.com"));
    CHECK_FALSE(normalize_name(std::string(64, 'a') + ".com"));
    CHECK(normalize_name(std::string(63, 'a') + ".com"));
    std::string long_name;
    for (int i = 0; i < 64; ++i) long_name += "abc.";
    CHECK_FALSE(normalize_name(long_name));   // 256 bytes
}

TEST_CASE("parse_response follows a CNAME chain, matches owners case-insensitively, "
          "and keeps the lowest TTL") {
    reply_spec spec;
    spec.qname = "Alias.Example.COM.";
    spec.answers = {
        "alias.example.com. 600 IN CNAME Middle.example.com.",
        "MIDDLE.example.com. 120 IN CNAME real.example.com.",
        "real.example.com. 300 IN MX 20 mx2.example.com.",
        "real.example.com. 900 IN MX 10 MX1.example.com.",
        "other.example.com. 5 IN MX 1 wrong.example.com.",   // not on the chain
    };
    std::optional<response> r = parse_response(wire_of(spec));
    REQUIRE(r);
    CHECK(r->id == 7);
    CHECK(r->asked == question{"alias.example.com", record_type::mx});
    CHECK(r->canonical_name == "real.example.com");
    REQUIRE(r->mx.size() == 2);
    CHECK(r->mx[0] == mx_record{20, "mx2.example.com"});
    CHECK(r->mx[1] == mx_record{10, "mx1.example.com"});
    CHECK(r->answer_ttl_s == 120);
    CHECK_FALSE(r->cname_chain_broken);
    CHECK(answers(*r, 7, {"alias.example.com", record_type::mx}));

    answer a = make_answer(*r, ttl_limits{});
    CHECK(a.status == answer_status::ok);
    CHECK(a.ttl_s == 120);
    CHECK(a.mx.size() == 2);
}

TEST_CASE("a CNAME loop ends the chain as broken, which is a temporary failure") {
    reply_spec spec;
    spec.qtype = LDNS_RR_TYPE_A;
    spec.answers = {"example.com. 60 IN CNAME b.example.com.",
                    "b.example.com. 60 IN CNAME example.com."};
    std::optional<response> r = parse_response(wire_of(spec));
    REQUIRE(r);
    CHECK(r->cname_chain_broken);
    CHECK(make_answer(*r, ttl_limits{}).status == answer_status::servfail);
}

TEST_CASE("answers() ignores a reply with another id, name or type") {
    reply_spec spec;
    spec.qtype = LDNS_RR_TYPE_A;
    spec.answers = {"example.com. 60 IN A 192.0.2.1"};
    std::optional<response> r = parse_response(wire_of(spec));
    REQUIRE(r);
    REQUIRE(r->addresses.size() == 1);
    CHECK(r->addresses[0].to_string() == "192.0.2.1");
    CHECK(answers(*r, 7, {"example.com", record_type::a}));
    CHECK_FALSE(answers(*r, 8, {"example.com", record_type::a}));
    CHECK_FALSE(answers(*r, 7, {"example.org", record_type::a}));
    CHECK_FALSE(answers(*r, 7, {"example.com", record_type::aaaa}));
}

TEST_CASE("negative TTL: min(SOA TTL, SOA MINIMUM), clamped; a default without an SOA") {
    reply_spec spec;
    spec.rcode = LDNS_RCODE_NXDOMAIN;
    spec.authority = {"example.com. 600 IN SOA ns.example.com. h.example.com. 1 2 3 4 60"};
    std::optional<response> r = parse_response(wire_of(spec));
    REQUIRE(r);
    CHECK(r->negative_ttl_s == 60u);
    answer a = make_answer(*r, ttl_limits{});
    CHECK(a.status == answer_status::nxdomain);
    CHECK(a.ttl_s == 60);

    spec.authority = {"example.com. 30 IN SOA ns.example.com. h.example.com. 1 2 3 4 86400"};
    spec.rcode = LDNS_RCODE_NOERROR;   // NODATA
    r = parse_response(wire_of(spec));
    REQUIRE(r);
    a = make_answer(*r, ttl_limits{});
    CHECK(a.status == answer_status::nodata);
    CHECK(a.ttl_s == 30);

    spec.authority = {"example.com. 86400 IN SOA ns.example.com. h.example.com. 1 2 3 4 86400"};
    a = make_answer(*parse_response(wire_of(spec)), ttl_limits{});
    CHECK(a.ttl_s == 3600);   // negative_max_s

    spec.authority.clear();
    a = make_answer(*parse_response(wire_of(spec)), ttl_limits{});
    CHECK(a.ttl_s == 300);    // negative_default_s
}

TEST_CASE("rcodes, the extended rcode and the TC bit are reported; positive TTLs clamp") {
    reply_spec spec;
    spec.rcode = LDNS_RCODE_SERVFAIL;
    std::optional<response> r = parse_response(wire_of(spec));
    REQUIRE(r);
    CHECK(r->code == response_code::servfail);
    answer a = make_answer(*r, ttl_limits{});
    CHECK(a.status == answer_status::servfail);
    CHECK(a.ttl_s == 5);   // failure_s

    spec.rcode = 0;
    spec.extended_rcode = 1;   // BADVERS = 16
    r = parse_response(wire_of(spec));
    REQUIRE(r);
    CHECK(static_cast<unsigned>(r->code) == 16);

    spec = reply_spec{};
    spec.tc = true;
    spec.answers = {"example.com. 4000000000 IN MX 10 mx.example.com."};   // top bit set
    r = parse_response(wire_of(spec));
    REQUIRE(r);
    CHECK(r->truncated);
    CHECK(r->answer_ttl_s == 0);   // RFC 2181 §8

    spec.answers = {"example.com. 2000000 IN MX 10 mx.example.com."};
    CHECK(make_answer(*parse_response(wire_of(spec)), ttl_limits{}).ttl_s == 86400);
}

TEST_CASE("malformed or hostile bytes are rejected without crashing or leaking") {
    reply_spec spec;
    spec.answers = {"example.com. 60 IN MX 10 mx.example.com."};
    std::vector<std::uint8_t> good = wire_of(spec);
    for (std::size_t cut = 0; cut < good.size(); ++cut) {
        std::optional<response> r = parse_response({good.data(), cut});
        if (r) CHECK(r->mx.size() <= 1);
    }
    std::vector<std::uint8_t> query = build_query({"example.com", record_type::mx}, 7);
    CHECK_FALSE(parse_response(query));   // QR clear: a query, not a reply
    // Random corruption: whatever parses must still be a bounded, sane reply
    // (ASan and UBSan watch the rest).
    random_source random(42);
    int parsed = 0;
    for (int i = 0; i < 2000; ++i) {
        std::vector<std::uint8_t> bytes = good;
        for (int flips = 0; flips < 4; ++flips)
            bytes[random.below(bytes.size())] = static_cast<std::uint8_t>(random.next_u64());
        std::optional<response> r = parse_response(bytes);
        if (!r) continue;
        ++parsed;
        CHECK(r->mx.size() + r->addresses.size() <= 1);
        CHECK(r->asked.name.size() <= 4 * 255);
    }
    CHECK(parsed < 2000);
}
