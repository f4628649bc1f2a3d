// Pooled client connections (see engine.h): connect to a next hop, EHLO (HELO
// fallback), then run transactions for the destination's jobs until it has no
// more work for connection_idle_timeout or max_messages_per_connection is reached.
// Commands of a transaction go out in one write when the server offers
// PIPELINING (RFC 2920); replies are read back in order.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pool.h"
#include "ringmta/runtime/log.h"
#include "ringmta/runtime/net.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/smtp/dot.h"

namespace ringmta::delivery {

namespace {

constexpr std::size_t receive_bytes = 16 * 1024;

smtp::reply local_reply(std::string_view enhanced, std::string text) {
    smtp::reply r;
    r.code = 0;  // no reply from the peer: treated as a temporary failure
    r.enhanced = std::string(enhanced);
    r.lines.push_back(std::move(text));
    return r;
}

bool positive(const smtp::reply& r) { return r.code >= 200 && r.code < 300; }

std::string io_error_text(std::string_view what, const std::string& hop, int error) {
    return std::string(what) + " " + hop + ": " + std::strerror(-error);
}

}  // namespace

runtime::task<int> read_reply(engine::connection* c, smtp::reply* out,
                              std::uint64_t timeout_ms) {
    std::unique_ptr<char[]> chunk;
    for (int reads = 0; reads < 4096; ++reads) {
        if (!c->buffer.empty()) {
            smtp::reply_parser::result r = c->parser.parse(c->buffer);
            if (r.status == smtp::reply_parser::status::ready) {
                *out = c->parser.take();
                c->buffer.erase(0, r.consumed);
                co_return 0;
            }
            if (r.status == smtp::reply_parser::status::error) co_return -EPROTO;
        }
        if (!chunk) chunk.reset(new char[receive_bytes]);
        runtime::io::recv op(c->fd, chunk.get(), receive_bytes, timeout_ms);
        int n = co_await op;
        if (n == 0) co_return -ECONNRESET;
        if (n < 0) co_return n;
        c->buffer.append(chunk.get(), static_cast<std::size_t>(n));
    }
    co_return -EPROTO;
}

// Opens a connection to one of the pool's next hops and greets it. On failure
// `*why` holds the reason (a peer's reply or a local diagnostic).
runtime::task<bool> open_connection(engine::pool* p, engine::connection* c,
                                    const config::delivery_config* d, std::string ehlo,
                                    smtp::reply* why) {
    const auto& hops = p->route->next_hops;
    auto connect_ms = static_cast<std::uint64_t>(d->connect_timeout.count());
    auto reply_ms = static_cast<std::uint64_t>(d->reply_timeout.count());
    for (std::size_t tried = 0; tried < hops.size(); ++tried) {
        const config::endpoint& hop = hops[(p->next_hop_turn + tried) % hops.size()];
        int fd = runtime::connect_socket(hop.address.ss_family);
        if (fd < 0) {
            *why = local_reply("4.4.1", io_error_text("socket for", hop.text, fd));
            continue;
        }
        runtime::io::connect op(fd, reinterpret_cast<const sockaddr*>(&hop.address),
                                hop.address_len, connect_ms);
        int rc = co_await op;
        if (rc < 0) {
            ::close(fd);
            *why = local_reply("4.4.1", io_error_text("connect to", hop.text, rc));
            continue;
        }
        c->fd = fd;
        c->next_hop = hop.text;
        c->buffer.clear();
        smtp::reply greeting;
        rc = co_await read_reply(c, &greeting, reply_ms);
        if (rc == 0 && positive(greeting)) {
            std::string command = "EHLO " + ehlo + "\r\n";
            smtp::reply hello;
            rc = co_await runtime::io::send_all(fd, command, reply_ms);
            if (rc == 0) rc = co_await read_reply(c, &hello, reply_ms);
            if (rc == 0 && !positive(hello) && hello.code >= 500) {  // no ESMTP: HELO
                command = "HELO " + ehlo + "\r\n";
                rc = co_await runtime::io::send_all(fd, command, reply_ms);
                if (rc == 0) rc = co_await read_reply(c, &hello, reply_ms);
                c->caps = smtp::capabilities{};
            } else if (rc == 0) {
                c->caps = smtp::parse_ehlo(hello);
            }
            if (rc == 0 && positive(hello)) {
                ++p->next_hop_turn;
                co_return true;
            }
            *why = rc < 0 ? local_reply("4.4.2", io_error_text("greeting from", hop.text, rc))
                          : hello;
        } else {
            *why = rc < 0 ? local_reply("4.4.2", io_error_text("greeting from", hop.text, rc))
                          : greeting;
        }
        ::close(fd);
        c->fd = -1;
    }
    co_return false;
}

}  // namespace ringmta::delivery
