// Lookups over the throttle settings: which group a domain belongs to, the
// budget a delivery to a domain draws on, the limits of a source address. Run on
// a shard when a destination queue is created; group_for, source_for and
// limits_for allocate nothing.
#include <ringmta/config/config.h>

#include "text.h"

namespace ringmta::config {

namespace {

using detail::equals_lower;

std::string_view without_root_dot(std::string_view name) noexcept {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    return name;
}

}  // namespace

bool group_policy::matches_mx(std::string_view host) const noexcept {
    host = without_root_dot(host);
    for (const std::string& pattern : mx) {
        if (pattern.starts_with("*.")) {
            // "*.google.com" matches any host under google.com, not google.com itself.
            std::string_view suffix = std::string_view(pattern).substr(1);
            if (host.size() > suffix.size() &&
                equals_lower(host.substr(host.size() - suffix.size()), suffix)) {
                return true;
            }
        } else if (equals_lower(host, pattern)) {
            return true;
        }
    }
    return false;
}

bool group_policy::has_domain(std::string_view domain) const noexcept {
    domain = without_root_dot(domain);
    for (const std::string& listed : domains) {
        if (equals_lower(domain, listed)) return true;
    }
    return false;
}

const source_limits* find_source(const std::vector<source_limits>& sources,
                                 std::string_view address) noexcept {
    for (const source_limits& entry : sources) {
        if (entry.address == address) return &entry;
    }
    return nullptr;
}

const group_policy* config::group_for(std::string_view domain,
                                      std::span<const std::string> mx_hosts) const noexcept {
    for (const group_policy& group : groups) {
        if (group.has_domain(domain)) return &group;
    }
    for (const group_policy& group : groups) {
        for (const std::string& host : mx_hosts) {
            if (group.matches_mx(host)) return &group;
        }
    }
    return nullptr;
}

throttle_limits config::limits_for(const throttle_limits& limits) const noexcept {
    throttle_limits out = limits;
    if (out.max_connections == 0) out.max_connections = delivery.max_connections;
    if (out.max_messages_per_connection == 0) {
        out.max_messages_per_connection = delivery.max_messages_per_connection;
    }
    if (out.max_recipients_per_message == 0) {
        out.max_recipients_per_message = delivery.max_recipients_per_transaction;
    }
    return out;
}

throttle_scope config::throttle_for(std::string_view domain,
                                    std::span<const std::string> mx_hosts) const {
    if (const group_policy* group = group_for(domain, mx_hosts)) return group_scope(*group);
    throttle_scope scope;
    const domain_policy& policy = policy_for(domain);
    scope.key = detail::lowercase(without_root_dot(domain));
    scope.limits = limits_for(policy.limits);
    scope.backoff = &policy.backoff;
    scope.sources = &policy.sources;
    return scope;
}

throttle_scope config::group_scope(const group_policy& group) const {
    throttle_scope scope;
    scope.key = "group:" + group.name;
    scope.limits = limits_for(group.limits);
    scope.backoff = &group.backoff;
    scope.sources = &group.sources;
    scope.group = &group;
    return scope;
}

const source_limits* config::source_for(std::string_view address) const noexcept {
    return find_source(sources, address);
}

}  // namespace ringmta::config
