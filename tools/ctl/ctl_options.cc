// ringmta-ctl's command line. See ctl_options.h and docs/ctl.md.
#include "ctl_options.h"

#include <ringmta/config/config_error.h>
#include <ringmta/config/units.h>

#include <string_view>

#include "ringmta/runtime/net.h"

namespace ringmta::ctl {

namespace {

struct command_name {
    std::string_view name;
    command what;
};
constexpr command_name commands[] = {
    {"queue", command::queue},     {"metrics", command::metrics}, {"suspend", command::suspend},
    {"resume", command::resume},   {"retry", command::retry},     {"bounce", command::bounce},
    {"delete", command::remove},   {"help", command::help}};

bool parse_duration_ms(const std::string& text, std::uint64_t& out, std::string& error,
                       std::string_view flag) {
    try {
        out = static_cast<std::uint64_t>(config::parse_duration(text).count());
    } catch (const config::config_error& bad) {
        error = std::string(flag) + ": " + bad.what();
        return false;
    }
    if (out == 0) {
        error = std::string(flag) + ": must be longer than 0s";
        return false;
    }
    return true;
}

// Checks that the command got what it needs, and nothing it does not take.
bool check_arguments(ctl_options& o, const std::vector<std::string>& positional,
                     bool has_for, std::string& error) {
    const bool per_domain = o.what == command::suspend || o.what == command::resume ||
                            o.what == command::retry;
    const bool filtered = o.what == command::bounce || o.what == command::remove;
    if (per_domain) {
        if (positional.size() != 1) {
            error = "give one domain, e.g. ringmta-ctl suspend gmail.com";
            return false;
        }
        o.domain = positional[0];
    } else if (!positional.empty()) {
        error = "unexpected argument \"" + positional[0] + "\"";
        return false;
    }
    if (has_for && o.what != command::suspend) {
        error = "--for goes with suspend only";
        return false;
    }
    if (filtered && o.domain.empty() == o.sender.empty()) {
        error = "give exactly one of --domain and --sender";
        return false;
    }
    if (!filtered && !per_domain && (!o.domain.empty() || !o.sender.empty())) {
        error = "--domain and --sender go with bounce and delete only";
        return false;
    }
    if (o.json && o.what != command::queue) {
        error = "--json goes with queue only";
        return false;
    }
    return true;
}

}  // namespace

std::optional<ctl_options> parse_options(const std::vector<std::string>& args,
                                         const char* env_admin, std::string& error) {
    ctl_options o;
    if (env_admin != nullptr && *env_admin != '\0') o.admin = env_admin;
    std::vector<std::string> positional;
    bool has_command = false, has_for = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        auto value = [&](std::string& out) {
            if (i + 1 >= args.size()) {
                error = arg + " needs a value";
                return false;
            }
            out = args[++i];
            return true;
        };
        std::string text;
        if (arg == "-h" || arg == "--help") {
            o.what = command::help;
            return o;
        } else if (arg == "--admin") {
            if (!value(o.admin)) return std::nullopt;
        } else if (arg == "--timeout") {
            if (!value(text) || !parse_duration_ms(text, o.timeout_ms, error, arg)) {
                return std::nullopt;
            }
        } else if (arg == "--for") {
            if (!value(text) || !parse_duration_ms(text, o.for_ms, error, arg)) {
                return std::nullopt;
            }
            has_for = true;
        } else if (arg == "--domain") {
            if (!value(o.domain)) return std::nullopt;
        } else if (arg == "--sender") {
            if (!value(o.sender)) return std::nullopt;
        } else if (arg == "--json") {
            o.json = true;
        } else if (arg.starts_with("-")) {
            error = "unknown option " + arg;
            return std::nullopt;
        } else if (!has_command) {
            has_command = true;
            bool found = false;
            for (const command_name& c : commands) {
                if (c.name == arg) {
                    o.what = c.what;
                    found = true;
                }
            }
            if (!found) {
                error = "unknown command \"" + arg + "\" (commands: queue, suspend, resume, "
                        "retry, bounce, delete, metrics)";
                return std::nullopt;
            }
        } else {
            positional.push_back(arg);
        }
    }
    if (!has_command) {
        error = "no command given";
        return std::nullopt;
    }
    if (!check_arguments(o, positional, has_for, error)) return std::nullopt;
    runtime::socket_address address;
    if (!runtime::parse_socket_address(o.admin, address)) {
        error = "--admin: \"" + o.admin + "\" is not an address:port (e.g. 127.0.0.1:8025)";
        return std::nullopt;
    }
    return o;
}

const char* usage_text() {
    return "usage: ringmta-ctl [--admin ADDRESS:PORT] [--timeout DURATION] COMMAND\n"
           "\n"
           "commands:\n"
           "  queue [--json]                  per-domain summary of the queue\n"
           "  suspend DOMAIN [--for 1h]       send nothing to DOMAIN (until resumed)\n"
           "  resume DOMAIN                   end a suspension\n"
           "  retry DOMAIN                    retry DOMAIN's deferred mail now\n"
           "  bounce --domain D | --sender S  fail matching recipients, with DSNs\n"
           "  delete --domain D | --sender S  drop matching recipients, no DSN\n"
           "  metrics                         Prometheus metrics (text format)\n"
           "\n"
           "DOMAIN is a domain or a group, \"group:NAME\". --admin defaults to\n"
           "$RINGMTA_ADMIN, else 127.0.0.1:8025 ([admin] listen in ringmta.toml).\n"
           "Exit status: 0 done; 1 the daemon refused or failed; 2 bad arguments;\n"
           "3 the daemon cannot be reached.\n";
}

}  // namespace ringmta::ctl
