// ringmta-blast command line: the server, how many messages of what size over
// how many connections and shards, and how recipients are spread over domains.
// Parsed once in main(); shards only read it afterwards.
#pragma once

#include <cstdint>
#include <string>

#include "ringmta/runtime/net.h"

namespace ringmta::blast {

struct blast_options {
    runtime::socket_address server;
    std::uint64_t messages = 0;
    std::uint64_t size_bytes = 0;  // content bytes per message (headers included)
    unsigned connections = 0;
    unsigned domains = 1;
    unsigned recipients = 1;  // per message
    std::string from = "blast@sender.example.org";
    std::string domain_format = "d%u.example.net";  // exactly one %u: the domain number
    unsigned shards = 1;
    bool pipelining = true;  // used only when the server offers PIPELINING
    std::uint64_t timeout_s = 600;
    bool json = false;
    // Writes the number of every message answered 250 after DATA, one per line
    // (message i carries Message-ID <i.blast@...>): crash tests check each arrived.
    std::string accepted_log;
    bool help = false;
};

// Returns an error text for the user, empty on success.
std::string parse_blast_options(int argc, char** argv, blast_options& out);

extern const char* const blast_usage;

}  // namespace ringmta::blast
