// Command-line parsing for ringmta-blast (see blast_options.h).
#include "blast_options.h"

#include <charconv>
#include <string_view>

#include "ringmta/smtp/command.h"

namespace ringmta::blast {

const char* const blast_usage =
    "usage: ringmta-blast --server HOST:PORT --messages N --size BYTES --connections C\n"
    "                     [--domains D] [--recipients R] [--from ADDR]\n"
    "                     [--domain-format \"d%u.example.net\"] [--shards S]\n"
    "                     [--no-pipelining] [--timeout-s SECONDS] [--json]\n"
    "                     [--accepted-log FILE]\n";

namespace {

constexpr std::uint64_t messages_max = 100'000'000;  // latency samples are kept in memory
constexpr std::uint64_t size_bytes_max = 50u << 20;
constexpr unsigned connections_max = 100'000;
constexpr unsigned recipients_max = 1000;
constexpr unsigned shards_max = 256;

bool parse_number(std::string_view text, std::uint64_t min, std::uint64_t max,
                  std::uint64_t& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty() &&
           out >= min && out <= max;
}

std::string range_error(std::string_view name, std::uint64_t min, std::uint64_t max) {
    return std::string(name) + " wants a number in " + std::to_string(min) + ".." +
           std::to_string(max);
}

// Options with a numeric value: where to put it and its bounds.
bool apply_number(std::string_view name, std::string_view value, blast_options& out,
                  std::string& error) {
    struct numeric {
        std::string_view name;
        std::uint64_t min;
        std::uint64_t max;
    };
    static constexpr numeric table[] = {
        {"--messages", 0, messages_max}, {"--size", 0, size_bytes_max},
        {"--connections", 1, connections_max}, {"--domains", 1, 10'000'000},
        {"--recipients", 1, recipients_max}, {"--shards", 1, shards_max},
        {"--timeout-s", 1, 7 * 24 * 3600},
    };
    for (const numeric& n : table) {
        if (n.name != name) continue;
        std::uint64_t v = 0;
        if (!parse_number(value, n.min, n.max, v)) {
            error = range_error(name, n.min, n.max);
            return true;
        }
        if (name == "--messages") out.messages = v;
        if (name == "--size") out.size_bytes = v;
        if (name == "--connections") out.connections = unsigned(v);
        if (name == "--domains") out.domains = unsigned(v);
        if (name == "--recipients") out.recipients = unsigned(v);
        if (name == "--shards") out.shards = unsigned(v);
        if (name == "--timeout-s") out.timeout_s = v;
        return true;
    }
    return false;
}

std::string apply_option(std::string_view name, std::string_view value, blast_options& out) {
    std::string error;
    if (apply_number(name, value, out, error)) return error;
    if (name == "--server") {
        if (!runtime::parse_socket_address(value, out.server)) {
            return "bad --server address '" + std::string(value) + "' (want IP:PORT)";
        }
    } else if (name == "--accepted-log") {
        out.accepted_log = value;
    } else if (name == "--from") {
        if (!value.empty() && !smtp::valid_mailbox(value)) return "bad --from address";
        out.from = value;
    } else if (name == "--domain-format") {
        const std::size_t at = value.find("%u");
        if (at == std::string_view::npos || value.find('%', at + 2) != std::string_view::npos ||
            value.find('%') != at) {
            return "--domain-format wants exactly one %u and no other %";
        }
        out.domain_format = value;
    } else {
        return "unknown option " + std::string(name);
    }
    return {};
}

}  // namespace

std::string parse_blast_options(int argc, char** argv, blast_options& out) {
    bool messages_given = false;
    bool size_given = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view name = argv[i];
        if (name == "--help" || name == "-h") {
            out.help = true;
            return {};
        }
        if (name == "--json") {
            out.json = true;
            continue;
        }
        if (name == "--no-pipelining") {
            out.pipelining = false;
            continue;
        }
        if (i + 1 >= argc) return "unknown option or missing value: " + std::string(name);
        messages_given |= name == "--messages";
        size_given |= name == "--size";
        std::string error = apply_option(name, argv[++i], out);
        if (!error.empty()) return error;
    }
    if (out.server.length == 0) return "--server is required";
    if (!messages_given || !size_given || out.connections == 0) {
        return "--messages, --size and --connections are required";
    }
    return {};
}

}  // namespace ringmta::blast
