// answer (see answer.h): replies to answers, with the TTL rules of README.md.
#include "ringmta/dns/answer.h"

#include <algorithm>

namespace ringmta::dns {

const char* answer_status_name(answer_status status) {
    switch (status) {
    case answer_status::ok: return "ok";
    case answer_status::nodata: return "nodata";
    case answer_status::nxdomain: return "nxdomain";
    case answer_status::servfail: return "servfail";
    case answer_status::timeout: return "timeout";
    case answer_status::invalid_name: return "invalid_name";
    }
    return "?";
}

bool is_temporary(answer_status status) {
    return status == answer_status::servfail || status == answer_status::timeout;
}

namespace {

std::uint32_t negative_ttl_s(const response& reply, const ttl_limits& limits) {
    std::uint32_t ttl = reply.negative_ttl_s.value_or(limits.negative_default_s);
    return std::min(ttl, limits.negative_max_s);
}

}  // namespace

answer make_answer(response reply, const ttl_limits& limits) {
    answer a;
    a.canonical_name = std::move(reply.canonical_name);
    bool records = !reply.mx.empty() || !reply.addresses.empty();
    if (reply.cname_chain_broken) return failed_answer(answer_status::servfail, limits);
    switch (reply.code) {
    case response_code::noerror:
        if (records) {
            a.status = answer_status::ok;
            a.ttl_s = std::min(reply.answer_ttl_s, limits.positive_max_s);
            a.mx = std::move(reply.mx);
            a.addresses = std::move(reply.addresses);
        } else {
            a.status = answer_status::nodata;
            a.ttl_s = negative_ttl_s(reply, limits);
        }
        return a;
    case response_code::nxdomain:
        a.status = answer_status::nxdomain;
        a.ttl_s = negative_ttl_s(reply, limits);
        return a;
    default:
        return failed_answer(answer_status::servfail, limits);
    }
}

answer failed_answer(answer_status status, const ttl_limits& limits) {
    answer a;
    a.status = status;
    a.ttl_s = status == answer_status::invalid_name ? 0 : limits.failure_s;
    return a;
}

}  // namespace ringmta::dns
