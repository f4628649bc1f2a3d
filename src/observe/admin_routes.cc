// The admin endpoint's routes: path and method to a backend call, its answer to
// JSON (or Prometheus text). See include/ringmta/observe/admin_server.h.
#include "admin_routes.h"

#include <ringmta/config/config_error.h>
#include <ringmta/config/units.h>
#include <ringmta/observe/accounting.h>
#include <ringmta/observe/metrics.h>

#include <cstdio>

namespace ringmta::observe::detail {

namespace {

constexpr std::size_t domain_chars_max = 253;

const char* status_text(int status) {
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 413: return "Content Too Large";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
    }
    return "Unknown";
}

void add_field(std::string& out, std::string_view key, std::string_view text) {
    if (out.back() != '{') out += ',';
    append_json_string(out, key);
    out += ':';
    append_json_string(out, text);
}

void add_number(std::string& out, std::string_view key, double value) {
    if (out.back() != '{') out += ',';
    append_json_string(out, key);
    out += ':';
    append_sample_value(out, value);   // finite here: counts and rates
}

void add_bool(std::string& out, std::string_view key, bool value) {
    if (out.back() != '{') out += ',';
    append_json_string(out, key);
    out += value ? ":true" : ":false";
}

std::string summary_json(const queue_summary& summary) {
    std::string out = "{\"domains\":[";
    for (const domain_summary& d : summary.domains) {
        if (out.back() != '[') out += ',';
        out += '{';
        add_field(out, "domain", d.domain);
        add_number(out, "queued", static_cast<double>(d.queued));
        add_number(out, "in_flight", static_cast<double>(d.in_flight));
        add_number(out, "deferred", static_cast<double>(d.deferred));
        add_number(out, "connections", d.connections);
        add_number(out, "connections_allowed", d.connections_allowed);
        add_number(out, "connections_max", d.connections_max);
        add_number(out, "rate_allowed_per_second", d.rate_allowed_per_second);
        add_field(out, "rate_limit", d.rate_limit);
        add_number(out, "deliveries_today", static_cast<double>(d.deliveries_today));
        add_number(out, "daily_cap", static_cast<double>(d.daily_cap));
        add_bool(out, "suspended", d.suspended);
        std::string until;
        if (d.suspended && d.suspended_until_unix_ms != 0) {
            append_utc_timestamp(until, d.suspended_until_unix_ms);
        }
        add_field(out, "suspended_until", until);
        add_field(out, "last_error", d.last_error);
        out += '}';
    }
    return out + "]}\n";
}

http_response result_response(const admin_result& result, std::string_view action,
                              std::string_view target) {
    http_response response;
    response.status = result.status;
    std::string& out = response.body;
    out.push_back('{');
    add_bool(out, "ok", result.status == 200);
    add_field(out, "action", action);
    add_field(out, "target", target);
    add_number(out, "affected", static_cast<double>(result.affected));
    add_field(out, "message", result.message);
    out += "}\n";
    return response;
}

http_response method_not_allowed(std::string_view allow) {
    http_response response = error_response(405, "use " + std::string(allow));
    response.allow = std::string(allow);
    return response;
}

// A budget key as the operator names it: a domain or "group:name", lower-cased.
bool valid_domain(std::string& domain) {
    if (domain.empty() || domain.size() > domain_chars_max) return false;
    for (char& c : domain) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                  c == '_' || c == ':';
        if (!ok) return false;
    }
    return true;
}

// ?domain=..|sender=..: exactly one; the error response when not.
bool read_filter(const http_request& request, message_filter& filter, http_response& error) {
    bool has_domain = false, has_sender = false;
    if (!query_value(request.query, "domain", filter.domain, has_domain) ||
        !query_value(request.query, "sender", filter.sender, has_sender)) {
        error = error_response(400, "bad percent-encoding in the query");
        return false;
    }
    if (has_domain == has_sender) {
        error = error_response(400, "give exactly one of ?domain= and ?sender=");
        return false;
    }
    if (has_domain && !valid_domain(filter.domain)) {
        error = error_response(400, "not a domain: " + filter.domain);
        return false;
    }
    if (has_sender && filter.sender.empty()) {
        error = error_response(400, "?sender= is empty");
        return false;
    }
    return true;
}

// ?for=1h30m: the suspension's length in ms (0: until resumed); false on a bad one.
bool read_duration(const http_request& request, std::uint64_t& duration_ms,
                   http_response& error) {
    std::string text;
    bool present = false;
    duration_ms = 0;
    if (!query_value(request.query, "for", text, present)) {
        error = error_response(400, "bad percent-encoding in the query");
        return false;
    }
    if (!present) return true;
    try {
        duration_ms = static_cast<std::uint64_t>(config::parse_duration(text).count());
    } catch (const config::config_error& bad) {
        error = error_response(400, std::string("?for=: ") + bad.what());
        return false;
    }
    if (duration_ms == 0) {
        error = error_response(400, "?for= must be longer than 0s; leave it out to suspend "
                                    "until resumed");
        return false;
    }
    return true;
}

runtime::task<http_response> domain_action(admin_backend* backend, http_request request,
                                           std::string domain, std::string action) {
    if (request.method != "POST") co_return method_not_allowed("POST");
    if (!valid_domain(domain)) co_return error_response(400, "not a domain: " + domain);
    if (action == "suspend") {
        std::uint64_t duration_ms = 0;
        http_response error;
        if (!read_duration(request, duration_ms, error)) co_return error;
        runtime::task<admin_result> call = backend->suspend(domain, duration_ms);
        admin_result result = co_await std::move(call);
        co_return result_response(result, action, domain);
    }
    runtime::task<admin_result> call =
        action == "resume" ? backend->resume(domain) : backend->retry(domain);
    admin_result result = co_await std::move(call);
    co_return result_response(result, action, domain);
}

runtime::task<http_response> filter_action(admin_backend* backend, http_request request,
                                           std::string action) {
    if (request.method != "POST") co_return method_not_allowed("POST");
    message_filter filter;
    http_response error;
    if (!read_filter(request, filter, error)) co_return error;
    std::string target = filter.domain.empty() ? "sender " + filter.sender
                                               : "domain " + filter.domain;
    runtime::task<admin_result> call =
        action == "bounce" ? backend->bounce(filter) : backend->remove(filter);
    admin_result result = co_await std::move(call);
    co_return result_response(result, action, target);
}

}  // namespace

http_response error_response(int status, std::string_view message) {
    http_response response;
    response.status = status;
    response.body.push_back('{');
    add_field(response.body, "error", message);
    response.body += "}\n";
    return response;
}

std::string serialize(const http_response& response, bool keep_alive) {
    char line[64];
    std::snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", response.status,
                  status_text(response.status));
    std::string out = line;
    out += "Content-Type: " + response.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    if (!response.allow.empty()) out += "Allow: " + response.allow + "\r\n";
    out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    out += "Cache-Control: no-store\r\n\r\n";
    out += response.body;
    return out;
}

runtime::task<http_response> route(admin_backend* backend, http_request request) {
    std::string path;
    if (!percent_decode(request.path, false, path)) {
        co_return error_response(400, "bad percent-encoding in the path");
    }
    if (path == "/metrics" || path == "/queue") {
        if (request.method != "GET") co_return method_not_allowed("GET");
        http_response response;
        if (path == "/metrics") {
            runtime::task<std::string> call = backend->metrics_text();
            response.body = co_await std::move(call);
            response.content_type = std::string(prometheus_content_type);
        } else {
            runtime::task<queue_summary> call = backend->queue();
            queue_summary summary = co_await std::move(call);
            response.body = summary_json(summary);
        }
        co_return response;
    }
    if (path == "/bounce" || path == "/delete") {
        runtime::task<http_response> call = filter_action(backend, request, path.substr(1));
        co_return co_await std::move(call);
    }
    constexpr std::string_view prefix = "/domains/";
    if (path.starts_with(prefix)) {
        std::string_view rest = std::string_view(path).substr(prefix.size());
        std::size_t slash = rest.rfind('/');
        if (slash != std::string_view::npos) {
            std::string action(rest.substr(slash + 1));
            if (action == "suspend" || action == "resume" || action == "retry") {
                runtime::task<http_response> call = domain_action(
                    backend, request, std::string(rest.substr(0, slash)), action);
                co_return co_await std::move(call);
            }
        }
    }
    co_return error_response(404, "no such route: " + path);
}

}  // namespace ringmta::observe::detail
