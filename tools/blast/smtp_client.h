// smtp_client: the socket side of one blast connection: connect, send, and read
// replies with the smtp module's reply_parser. Every operation is bounded by the
// shard's per-operation timeout. Results are 0 or -errno; -EPROTO for a reply the
// parser rejects, -ECONNRESET when the server closed the connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ringmta/runtime/net.h"
#include "ringmta/runtime/task.h"
#include "ringmta/smtp/capabilities.h"
#include "ringmta/smtp/reply.h"

namespace ringmta::blast {

class smtp_client {
public:
    smtp_client();
    smtp_client(const smtp_client&) = delete;
    smtp_client& operator=(const smtp_client&) = delete;
    ~smtp_client();

    // Connects, reads the greeting, says EHLO (HELO when EHLO is refused).
    // On failure `failure` says what went wrong and the socket is closed.
    static runtime::task<int> open(smtp_client* c, runtime::socket_address server,
                                   std::uint64_t timeout_ms, std::string* failure);
    static runtime::task<int> send(smtp_client* c, std::string_view data,
                                   std::uint64_t timeout_ms);
    static runtime::task<int> read_reply(smtp_client* c, smtp::reply* out,
                                         std::uint64_t timeout_ms);
    void close();

    const smtp::capabilities& capabilities() const { return _capabilities; }

private:
    static constexpr std::size_t recv_bytes = 16 * 1024;

    int _fd = -1;
    smtp::reply_parser _parser;
    smtp::capabilities _capabilities;
    std::string _input;           // received, not yet parsed into replies
    std::size_t _input_begin = 0;  // parsed prefix of _input
    std::unique_ptr<char[]> _recv_buffer;
};

// "451 4.3.0 Try later" as the reply read back.
std::string describe(const smtp::reply& r);

}  // namespace ringmta::blast
