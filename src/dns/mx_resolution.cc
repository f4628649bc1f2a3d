// resolver::resolve_mx (see resolver.h and README.md): MX lookup, null MX,
// implicit MX, preference order, and the exchangers' addresses, looked up
// concurrently (each through lookup(), so cached and coalesced).
//
// When no exchanger has an address we do what Postfix does by default
// (smtp_defer_if_no_mx_address_found = no): if any of those address lookups
// failed temporarily, defer; if all of them definitely found nothing, bounce
// (no_address, 5.4.4). RFC 5321 §5.1 only says it "MUST be reported as an error".
#include <algorithm>
#include <limits>

#include "ringmta/dns/resolver.h"
#include "ringmta/runtime/notifier.h"
#include "ringmta/runtime/reactor.h"

namespace ringmta::dns {

namespace {

// Counts finished child lookups; the parent waits for the last one.
struct countdown {
    std::size_t left = 0;
    runtime::notifier all_done;
    void arrive() {
        if (--left == 0) all_done.notify();
    }
};

runtime::task<void> lookup_into(resolver* r, std::string name, record_type type, answer* out,
                                countdown* done) {
    *out = co_await r->lookup(std::move(name), type);
    done->arrive();
}

mx_result failure_result(mx_status status, std::uint32_t ttl_s, std::string detail) {
    mx_result result;
    result.status = status;
    result.ttl_s = ttl_s;
    result.detail = std::move(detail);
    return result;
}

std::string describe(const std::string& name, record_type type, const answer& a) {
    return std::string(record_type_name(type)) + " lookup for " + name + ": " +
           answer_status_name(a.status);
}

}  // namespace

runtime::task<mx_result> resolver::resolve_mx(std::string domain) {
    std::optional<std::string> name = normalize_name(domain);
    if (!name) co_return failure_result(mx_status::invalid_domain, 0, "not a domain name");
    answer mx = co_await lookup(*name, record_type::mx);
    switch (mx.status) {
    case answer_status::ok:
        break;
    case answer_status::nodata: {
        // RFC 5321 §5.1: no MX records, so the domain itself is the implicit MX.
        std::vector<mx_record> self{{0, *name}};
        co_return co_await resolve_exchangers(std::move(self), mx.ttl_s, true);
    }
    case answer_status::nxdomain:
        co_return failure_result(mx_status::nxdomain, mx.ttl_s, *name + ": no such domain");
    case answer_status::invalid_name:
        co_return failure_result(mx_status::invalid_domain, 0, "not a domain name");
    case answer_status::servfail:
    case answer_status::timeout:
        co_return failure_result(mx_status::temporary_failure, 0,
                                 describe(*name, record_type::mx, mx));
    }
    // RFC 7505: one MX with the root as exchange means "no mail here". A "."
    // beside real exchangers breaks §3 of it; we ignore the "." and use the rest.
    std::vector<mx_record> records;
    for (mx_record& r : mx.mx)
        if (r.exchange != ".") records.push_back(std::move(r));
    if (records.empty())
        co_return failure_result(mx_status::null_mx, mx.ttl_s, *name + ": null MX (RFC 7505)");
    order_by_preference(records, _random);
    if (records.size() > _options.exchangers_max) records.resize(_options.exchangers_max);
    co_return co_await resolve_exchangers(std::move(records), mx.ttl_s, false);
}

runtime::task<mx_result> resolver::resolve_exchangers(std::vector<mx_record> candidates,
                                                      std::uint32_t ttl_s, bool implicit) {
    const std::size_t kinds = _options.ipv6 ? 2 : 1;
    std::vector<answer> found(candidates.size() * kinds);
    countdown done;
    done.left = found.size();
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        runtime::spawn(lookup_into(this, candidates[i].exchange, record_type::a,
                                   &found[i * kinds], &done));
        if (kinds == 2)
            runtime::spawn(lookup_into(this, candidates[i].exchange, record_type::aaaa,
                                       &found[i * kinds + 1], &done));
    }
    if (!found.empty()) {
        auto all = done.all_done.wait();
        co_await all;
    }

    mx_result result;
    result.implicit_mx = implicit;
    result.ttl_s = ttl_s;
    bool temporary = false;
    std::string last_problem;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        exchanger e{candidates[i].exchange, candidates[i].preference, {}};
        for (std::size_t k = 0; k < kinds; ++k) {
            answer& a = found[i * kinds + k];
            if (a.status == answer_status::ok) {
                e.addresses.insert(e.addresses.end(), a.addresses.begin(), a.addresses.end());
                result.ttl_s = std::min(result.ttl_s, a.ttl_s);
            } else if (is_temporary(a.status)) {
                temporary = true;
                last_problem = describe(e.name, k == 0 ? record_type::a : record_type::aaaa, a);
            }
        }
        // An exchanger without addresses is skipped (RFC 5321 §5.1).
        if (!e.addresses.empty()) result.exchangers.push_back(std::move(e));
    }
    if (!result.exchangers.empty()) {
        result.status = mx_status::exchangers;
        co_return result;
    }
    if (temporary || _options.defer_if_no_mx_address)
        co_return failure_result(mx_status::temporary_failure, 0,
                                 last_problem.empty() ? "no exchanger has an address"
                                                      : last_problem);
    co_return failure_result(mx_status::no_address, ttl_s,
                             implicit ? candidates[0].exchange + " has no MX and no address"
                                      : "no exchanger has an address");
}

}  // namespace ringmta::dns
