// ringmta-ctl: the operator's command line for a running ringmta, over its admin
// endpoint ([admin] listen): queue summary, suspend/resume/retry a domain,
// bounce or delete by domain or sender, metrics. See docs/ctl.md.
//
// Exit status: 0 done; 1 the daemon refused or failed (its message is printed);
// 2 bad arguments; 3 the daemon cannot be reached or did not answer in HTTP.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ctl_options.h"
#include "http_client.h"
#include "json_value.h"

using namespace ringmta::ctl;

namespace {

constexpr int exit_refused = 1;
constexpr int exit_usage = 2;
constexpr int exit_unreachable = 3;

std::string format_number(double value) {
    char text[32];
    if (value == static_cast<double>(static_cast<long long>(value))) {
        std::snprintf(text, sizeof text, "%lld", static_cast<long long>(value));
    } else {
        std::snprintf(text, sizeof text, "%.1f", value);
    }
    return text;
}

// One line per destination; columns sized to the widest domain.
void print_queue_table(const json_value& summary) {
    const json_value* domains = summary.get("domains");
    if (domains == nullptr || domains->items.empty()) {
        std::printf("no mail queued\n");
        return;
    }
    std::size_t width = 6;
    for (const json_value& d : domains->items) width = std::max(width, d.string_or("domain").size());
    const int w = static_cast<int>(width);
    std::printf("%-*s %8s %9s %8s %-16s %-18s %-14s %s\n", w, "DOMAIN", "QUEUED", "IN-FLIGHT",
                "DEFERRED", "CONNS NOW/ALLOW", "RATE/S (LIMIT)", "TODAY/CAP", "STATE");
    for (const json_value& d : domains->items) {
        std::string connections = format_number(d.number_or("connections")) + "/" +
                                  format_number(d.number_or("connections_allowed")) + " of " +
                                  format_number(d.number_or("connections_max"));
        double rate = d.number_or("rate_allowed_per_second");
        std::string limit = d.string_or("rate_limit");
        std::string rate_text = (rate == 0 ? std::string("-") : format_number(rate)) + " (" +
                                (limit.empty() ? std::string("0") : limit) + ")";
        double cap = d.number_or("daily_cap");
        std::string today = format_number(d.number_or("deliveries_today")) + "/" +
                            (cap == 0 ? std::string("-") : format_number(cap));
        std::string state = "active";
        if (d.bool_or("suspended")) {
            std::string until = d.string_or("suspended_until");
            state = until.empty() ? "suspended" : "suspended until " + until;
        }
        std::printf("%-*s %8s %9s %8s %-16s %-18s %-14s %s\n", w, d.string_or("domain").c_str(),
                    format_number(d.number_or("queued")).c_str(),
                    format_number(d.number_or("in_flight")).c_str(),
                    format_number(d.number_or("deferred")).c_str(), connections.c_str(),
                    rate_text.c_str(), today.c_str(), state.c_str());
        std::string error = d.string_or("last_error");
        if (!error.empty()) std::printf("%-*s   last error: %s\n", w, "", error.c_str());
    }
}

// The request a command makes: method and target.
std::pair<std::string, std::string> request_for(const ctl_options& o) {
    const std::string domain = percent_encode(o.domain);
    std::string filter = o.domain.empty() ? "sender=" + percent_encode(o.sender)
                                          : "domain=" + domain;
    switch (o.what) {
        case command::queue: return {"GET", "/queue"};
        case command::metrics: return {"GET", "/metrics"};
        case command::suspend: {
            std::string target = "/domains/" + domain + "/suspend";
            if (o.for_ms != 0) target += "?for=" + std::to_string(o.for_ms) + "ms";
            return {"POST", target};
        }
        case command::resume: return {"POST", "/domains/" + domain + "/resume"};
        case command::retry: return {"POST", "/domains/" + domain + "/retry"};
        case command::bounce: return {"POST", "/bounce?" + filter};
        case command::remove: return {"POST", "/delete?" + filter};
        case command::help: break;
    }
    return {"GET", "/"};
}

// A refusal: the daemon's {"error": ...} or {"message": ...}, else the raw body.
int report_refusal(const http_answer& answer) {
    std::string why = answer.body;
    if (auto json = parse_json(answer.body)) {
        why = json->string_or("error", json->string_or("message", answer.body));
    }
    while (!why.empty() && why.back() == '\n') why.pop_back();
    std::fprintf(stderr, "ringmta-ctl: the daemon answered %d: %s\n", answer.status, why.c_str());
    return exit_refused;
}

int run(const ctl_options& o) {
    auto [method, target] = request_for(o);
    http_answer answer = http_request(o.admin, method, target, o.timeout_ms);
    if (answer.status == 0) {
        std::fprintf(stderr, "ringmta-ctl: %s\n", answer.error.c_str());
        return exit_unreachable;
    }
    if (answer.status != 200) return report_refusal(answer);
    if (o.what == command::metrics || (o.what == command::queue && o.json)) {
        std::fwrite(answer.body.data(), 1, answer.body.size(), stdout);
        return 0;
    }
    std::optional<json_value> json = parse_json(answer.body);
    if (!json) {
        std::fprintf(stderr, "ringmta-ctl: the answer is not JSON\n");
        return exit_unreachable;
    }
    if (o.what == command::queue) {
        print_queue_table(*json);
    } else {
        std::printf("%s (%s recipients affected)\n", json->string_or("message", "done").c_str(),
                    format_number(json->number_or("affected")).c_str());
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::string error;
    std::optional<ctl_options> options = parse_options(args, std::getenv("RINGMTA_ADMIN"), error);
    if (!options) {
        std::fprintf(stderr, "ringmta-ctl: %s\n%s", error.c_str(), usage_text());
        return exit_usage;
    }
    if (options->what == command::help) {
        std::fputs(usage_text(), stdout);
        return 0;
    }
    return run(*options);
}
