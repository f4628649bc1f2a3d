// ringmta-ctl's command line: which command, its arguments, and where the admin
// endpoint is. Parsing never touches the network; every mistake is a one-line
// message (exit status 2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ringmta::ctl {

enum class command { help, queue, metrics, suspend, resume, retry, bounce, remove };

struct ctl_options {
    std::string admin = "127.0.0.1:8025";   // --admin, else $RINGMTA_ADMIN
    std::uint64_t timeout_ms = 60'000;       // --timeout
    command what = command::help;
    std::string domain;                      // suspend/resume/retry; --domain
    std::string sender;                      // --sender
    std::uint64_t for_ms = 0;                // suspend --for; 0: until resumed
    bool json = false;                       // queue --json
};

// The options, or nullopt with `error` set. `env_admin` is $RINGMTA_ADMIN or null.
std::optional<ctl_options> parse_options(const std::vector<std::string>& args,
                                         const char* env_admin, std::string& error);

// The usage text for --help (and after a mistake, its first lines).
const char* usage_text();

}  // namespace ringmta::ctl
