// Command-line parsing for ringmta-sink (see sink_options.h). Runs before the
// shards start; errors are returned as text and printed by main().
#include "sink_options.h"

#include <unistd.h>

#include <charconv>
#include <cstring>
#include <string_view>

namespace ringmta::sink {

const char* const sink_usage =
    "usage: ringmta-sink --listen HOST:PORT [--listen HOST:PORT ...] [--shards N]\n"
    "                    [--store DIR] [--stats-file FILE] [--hostname NAME]\n"
    "                    [--rcpt-reply \"CODE [X.Y.Z] TEXT\"]\n"
    "                    [--data-reply \"CODE [X.Y.Z] TEXT\"]\n"
    "                    [--reply-count N] [--reply-match SUBSTRING] [--no-pipelining]\n"
    "                    [--no-chunking]\n";

namespace {

constexpr unsigned shards_max = 256;

bool parse_number(std::string_view text, std::uint64_t& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// Parses a forced reply with the smtp module's own reply parser, so the sink
// accepts exactly what a client would read back.
std::string parse_forced_reply(std::string_view text, forced_reply& out) {
    std::string line(text);
    line += "\r\n";
    smtp::reply_parser parser;
    smtp::reply_parser::result r = parser.parse(line);
    if (r.status != smtp::reply_parser::status::ready || r.consumed != line.size()) {
        return "bad reply '" + std::string(text) + "': want \"CODE [X.Y.Z] TEXT\"";
    }
    smtp::reply parsed = parser.take();
    if (parsed.code < 400 || parsed.code > 599) {
        return "forced reply '" + std::string(text) + "' must be 4xx or 5xx";
    }
    out.given = true;
    out.code = parsed.code;
    out.enhanced = parsed.enhanced;
    out.text = parsed.text();
    return {};
}

std::string default_hostname() {
    char name[256] = {};
    if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "ringmta-sink";
    return name;
}

// Handles one option that takes a value. Returns an error text, empty on success.
std::string apply_option(std::string_view name, std::string_view value, sink_options& out) {
    std::uint64_t number = 0;
    if (name == "--listen") {
        runtime::socket_address address;
        if (!runtime::parse_socket_address(value, address)) {
            return "bad --listen address '" + std::string(value) + "' (want IP:PORT)";
        }
        out.listen.push_back(address);
    } else if (name == "--shards") {
        if (!parse_number(value, number) || number < 1 || number > shards_max) {
            return "--shards wants 1.." + std::to_string(shards_max);
        }
        out.shards = unsigned(number);
    } else if (name == "--store") {
        out.store_dir = value;
    } else if (name == "--stats-file") {
        out.stats_file = value;
    } else if (name == "--hostname") {
        if (value.empty() || value.find_first_of(" \r\n") != std::string_view::npos) {
            return "bad --hostname";
        }
        out.hostname = value;
    } else if (name == "--rcpt-reply") {
        return parse_forced_reply(value, out.rcpt_reply);
    } else if (name == "--data-reply") {
        return parse_forced_reply(value, out.data_reply);
    } else if (name == "--reply-count") {
        if (!parse_number(value, number)) return "--reply-count wants a number";
        out.reply_count = number;
    } else if (name == "--reply-match") {
        out.reply_match = value;
    } else {
        return "unknown option " + std::string(name);
    }
    return {};
}

}  // namespace

std::string parse_sink_options(int argc, char** argv, sink_options& out) {
    for (int i = 1; i < argc; ++i) {
        std::string_view name = argv[i];
        if (name == "--help" || name == "-h") {
            out.help = true;
            return {};
        }
        if (name == "--no-pipelining") {
            out.pipelining = false;
            continue;
        }
        if (name == "--no-chunking") {
            out.chunking = false;
            continue;
        }
        if (i + 1 >= argc) return "unknown option or missing value: " + std::string(name);
        std::string error = apply_option(name, argv[++i], out);
        if (!error.empty()) return error;
    }
    if (out.listen.empty()) return "--listen is required";
    if (out.hostname.empty()) out.hostname = default_hostname();
    return {};
}

}  // namespace ringmta::sink
