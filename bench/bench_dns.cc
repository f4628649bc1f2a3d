// Microbenchmarks of the DNS packet codec (dns/query.h, dns/response.h,
// dns/answer.h): building a query's wire form with ldns, and decoding the
// replies delivery waits on (an MX answer with two exchangers, an A answer with
// two addresses behind a CNAME) into what the cache stores. The replies are
// built once with ldns, as a server would send them.
#include <benchmark/benchmark.h>
// Before ldns: otherwise ldns/common.h defines bool, true and false as macros.
#include <stdbool.h>

#include <ldns/ldns.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "ringmta/dns/answer.h"
#include "ringmta/dns/query.h"
#include "ringmta/dns/response.h"

using namespace ringmta::dns;

namespace {

std::vector<std::uint8_t> reply_wire(const char* qname, ldns_rr_type qtype,
                                     const std::vector<std::string>& answers) {
    ldns_pkt* p = ldns_pkt_new();
    ldns_pkt_set_id(p, 4242);
    ldns_pkt_set_qr(p, true);
    ldns_pkt_set_rd(p, true);
    ldns_pkt_set_ra(p, true);
    ldns_pkt_set_edns_udp_size(p, edns_payload_bytes);
    ldns_rr* q = ldns_rr_new();
    ldns_rr_set_owner(q, ldns_dname_new_frm_str(qname));
    ldns_rr_set_type(q, qtype);
    ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
    ldns_rr_set_question(q, true);
    ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
    for (const std::string& text : answers) {
        ldns_rr* rr = nullptr;
        if (ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK) {
            std::abort();
        }
        ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
    }
    std::uint8_t* wire = nullptr;
    std::size_t size = 0;
    if (ldns_pkt2wire(&wire, p, &size) != LDNS_STATUS_OK) std::abort();
    std::vector<std::uint8_t> out(wire, wire + size);
    std::free(wire);
    ldns_pkt_free(p);
    return out;
}

void bm_build_query_mx(benchmark::State& state) {
    const question q{"newsletter-recipient-domain.example.com", record_type::mx};
    std::uint16_t id = 0;
    for (auto _ : state) {
        std::vector<std::uint8_t> wire = build_query(q, ++id);
        benchmark::DoNotOptimize(wire.data());
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_build_query_mx);

// Two exchangers, as most receiving domains publish.
std::vector<std::uint8_t> mx_reply() {
    return reply_wire("example.com.", LDNS_RR_TYPE_MX,
                      {"example.com. 3600 IN MX 10 mx1.example.com.",
                       "example.com. 3600 IN MX 20 mx2.example.com."});
}

// Decodes `wire` each iteration; `records` is what a correct decode yields.
template <typename CountRecords>
void parse_loop(benchmark::State& state, const std::vector<std::uint8_t>& wire,
                std::size_t records, CountRecords count) {
    for (auto _ : state) {
        std::optional<response> r = parse_response(wire);
        if (!r || count(*r) != records) state.SkipWithError("bad parse");
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(wire.size()));
}

void bm_parse_mx_answer(benchmark::State& state) {
    const question asked{"example.com", record_type::mx};
    parse_loop(state, mx_reply(), 2, [&](const response& r) {
        return answers(r, 4242, asked) ? r.mx.size() : 0;
    });
}
BENCHMARK(bm_parse_mx_answer);

void bm_parse_a_answer_via_cname(benchmark::State& state) {
    const std::vector<std::uint8_t> wire = reply_wire(
        "mx1.example.com.", LDNS_RR_TYPE_A,
        {"mx1.example.com. 300 IN CNAME in.mail.example.net.",
         "in.mail.example.net. 300 IN A 192.0.2.10", "in.mail.example.net. 300 IN A 192.0.2.11"});
    parse_loop(state, wire, 2, [](const response& r) { return r.addresses.size(); });
}
BENCHMARK(bm_parse_a_answer_via_cname);

void bm_parse_and_make_answer(benchmark::State& state) {
    const std::vector<std::uint8_t> wire = mx_reply();
    const ttl_limits limits;
    for (auto _ : state) {
        std::optional<response> r = parse_response(wire);
        if (!r) state.SkipWithError("bad parse");
        answer a = make_answer(std::move(*r), limits);
        benchmark::DoNotOptimize(a);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_parse_and_make_answer);

}  // namespace

BENCHMARK_MAIN();
