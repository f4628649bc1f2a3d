// ringmta-sink command line: what to listen on, how many shards, where to store
// accepted messages, and which replies to force (for testing a client's error paths).
// Parsed once in main() before any shard starts; shards only read it afterwards.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ringmta/runtime/net.h"
#include "ringmta/smtp/reply.h"

namespace ringmta::sink {

// A reply given with --rcpt-reply / --data-reply ("550 5.1.1 No such user").
struct forced_reply {
    bool given = false;
    int code = 0;
    std::string enhanced;  // "" when the text did not start with an enhanced code
    std::string text;
    smtp::reply_spec spec() const { return {code, enhanced, text}; }
};

struct sink_options {
    std::vector<runtime::socket_address> listen;
    unsigned shards = 1;
    std::string store_dir;   // "": do not store
    std::string stats_file;  // "": no stats file
    std::string hostname;    // "": the host name of this machine
    forced_reply rcpt_reply;
    forced_reply data_reply;
    // How many forced replies of each kind to give; the rest are answered normally.
    std::uint64_t reply_count = std::numeric_limits<std::uint64_t>::max();
    std::string reply_match;  // "": every recipient / message matches
    bool pipelining = true;
    // RFC 3030 CHUNKING (BDAT) offered, as Postfix and the big receivers do: a
    // client that uses it sends content as it is, with no dot-stuffing.
    bool chunking = true;
    bool help = false;
};

// Returns an error text for the user, empty on success.
std::string parse_sink_options(int argc, char** argv, sink_options& out);

extern const char* const sink_usage;

}  // namespace ringmta::sink
