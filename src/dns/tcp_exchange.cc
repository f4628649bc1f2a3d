// tcp_exchange (see tcp_exchange.h).
#include "tcp_exchange.h"

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/reactor.h"

namespace ringmta::dns::detail {

namespace {

// The time left until deadline_ms; 0 means it has passed.
std::uint64_t left_ms(std::uint64_t deadline_ms) {
    std::uint64_t now_ms = runtime::monotonic_ms();
    return now_ms >= deadline_ms ? 0 : deadline_ms - now_ms;
}

// Reads exactly `bytes` into `buffer`; 0, or -errno (-ETIMEDOUT past the deadline,
// -ECONNRESET on an early close). Bounded: every pass reads at least one byte
// before the deadline or ends.
runtime::task<int> read_exactly(int fd, std::uint8_t* buffer, std::size_t bytes,
                                std::uint64_t deadline_ms) {
    std::size_t done = 0;
    while (done < bytes) {
        std::uint64_t wait_ms = left_ms(deadline_ms);
        if (wait_ms == 0) co_return -ETIMEDOUT;
        runtime::io::recv op(fd, buffer + done, bytes - done, wait_ms);
        int n = co_await op;
        if (n < 0) co_return n;
        if (n == 0) co_return -ECONNRESET;
        done += static_cast<std::size_t>(n);
    }
    co_return 0;
}

exchange_result failure(int error) {
    exchange_result r;
    r.status = error == -ETIMEDOUT ? exchange_status::timed_out : exchange_status::unreachable;
    r.error = error;
    return r;
}

}  // namespace

runtime::task<exchange_result> tcp_exchange(runtime::socket_address server,
                                            std::vector<std::uint8_t> wire, question asked,
                                            std::uint16_t id, std::uint64_t timeout_ms) {
    std::uint64_t deadline_ms = runtime::monotonic_ms() + timeout_ms;
    int fd = runtime::connect_socket(server.family());
    if (fd < 0) co_return failure(fd);
    runtime::io::connect connecting(fd, server.get(), server.length, timeout_ms);
    int rc = co_await connecting;
    if (rc == 0) {
        std::uint8_t prefix[2] = {static_cast<std::uint8_t>(wire.size() >> 8),
                                  static_cast<std::uint8_t>(wire.size())};
        wire.insert(wire.begin(), prefix, prefix + 2);
        std::string_view bytes(reinterpret_cast<const char*>(wire.data()), wire.size());
        std::uint64_t send_ms = std::max<std::uint64_t>(1, left_ms(deadline_ms));
        rc = co_await runtime::io::send_all(fd, bytes, send_ms);
    }
    std::vector<std::uint8_t> reply;
    if (rc == 0) {
        std::uint8_t length[2] = {0, 0};
        rc = co_await read_exactly(fd, length, 2, deadline_ms);
        if (rc == 0) {
            reply.resize((std::size_t{length[0]} << 8) | length[1]);
            rc = co_await read_exactly(fd, reply.data(), reply.size(), deadline_ms);
        }
    }
    runtime::io::close_detached(fd);
    if (rc != 0) co_return failure(rc);
    std::optional<response> parsed = parse_response(reply);
    // A private connection cannot carry someone else's reply: a mismatch means a
    // broken server, not a spoof to ignore.
    if (!parsed || !answers(*parsed, id, asked)) co_return failure(-EPROTO);
    exchange_result result;
    result.status = exchange_status::answered;
    result.reply = std::move(*parsed);
    co_return result;
}

}  // namespace ringmta::dns::detail
