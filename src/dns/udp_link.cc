// udp_link (see udp_link.h).
#include "udp_link.h"

#include <liburing.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ringmta/runtime/log.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/reactor.h"

namespace ringmta::dns::detail {

namespace {

// The largest UDP payload; servers ignoring our EDNS size may still send it.
constexpr std::size_t datagram_bytes_max = 65535;
// Room for a burst of replies to queries_in_flight_max queries.
constexpr int receive_buffer_bytes = 1 << 20;
// After an unexpected receive error, pause so an error storm cannot spin.
constexpr std::uint64_t receive_error_pause_ms = 100;

}  // namespace

udp_link::udp_link(const runtime::socket_address& server) : _server(server) {}

udp_link::~udp_link() {
    RINGMTA_ASSERT(_loops_live == 0 && _pending.empty(), "udp_link destroyed while running");
    if (_fd >= 0) ::close(_fd);
}

std::string udp_link::open() {
    std::string where = runtime::format_address(_server.get());
    _fd = ::socket(_server.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (_fd < 0) return "dns: socket for " + where + ": " + std::strerror(errno);
    // A bigger receive buffer is an optimization; the default still works.
    setsockopt(_fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof(receive_buffer_bytes));
    // Connected: the kernel drops datagrams from any other source, and ICMP
    // errors come back to us as ECONNREFUSED.
    if (::connect(_fd, _server.get(), _server.length) < 0) {
        std::string error = "dns: connect to " + where + ": " + std::strerror(errno);
        ::close(_fd);
        _fd = -1;
        return error;
    }
    return {};
}

void udp_link::start() {
    RINGMTA_ASSERT(_fd >= 0 && !_started, "udp_link::start before open or twice");
    _started = true;
    _datagram.resize(datagram_bytes_max);
    runtime::spawn(receive_loop());
    runtime::spawn(deadline_loop());
}

runtime::task<void> udp_link::stop() {
    if (!_started || _stopping) co_return;
    _stopping = true;
    finish_all(exchange_status::cancelled, -ECANCELED);
    runtime::reactor& r = runtime::reactor::current();
    // IORING_ASYNC_CANCEL_FD (Linux 5.19): cancel the receive loop's recv.
    io_uring_sqe* cancel = r.sqe();
    io_uring_prep_cancel_fd(cancel, _fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(cancel, runtime::tag_pointer(nullptr,
                                                         runtime::user_data_tag::ignore));
    // Fire the deadline timer now (its CQE must arrive before we go away), or
    // wake the deadline loop directly when no timeout is in flight.
    if (_timer.in_flight()) {
        _timer.arm_at(1);
    } else {
        _tick.notify();
    }
    if (_loops_live > 0) {
        auto done = _loops_done.wait();
        co_await done;
    }
    // One more turn: SQEs queued above (the timer update reads the timer's
    // timespec at submission) reach the kernel while this object still exists.
    runtime::io::sleep_for settle(1);
    co_await settle;
    ::close(_fd);
    _fd = -1;
}

runtime::task<exchange_result> udp_link::exchange(std::vector<std::uint8_t> wire,
                                                  question asked, std::uint16_t id,
                                                  std::uint64_t timeout_ms) {
    exchange_result result;
    if (_stopping || !_started) co_return result;   // cancelled
    pending_query p;
    p.id = id;
    p.asked = std::move(asked);
    p.deadline_ms = runtime::monotonic_ms() + timeout_ms;
    enlist(p);
    runtime::io::send op(_fd, wire.data(), wire.size(), timeout_ms);
    int sent = co_await op;
    if (sent < 0 && !p.outcome) {
        finish(p, sent == -ETIMEDOUT ? exchange_status::timed_out : exchange_status::unreachable,
               sent);
    }
    co_await p;
    result.status = *p.outcome;
    result.error = p.error;
    if (result.status == exchange_status::answered) result.reply = std::move(p.reply);
    co_return result;
}

void udp_link::enlist(pending_query& p) {
    auto [it, inserted] = _pending.emplace(p.id, &p);
    RINGMTA_ASSERT(inserted, "dns id %u already pending", static_cast<unsigned>(p.id));
    _deadlines.insert(p);
    if (_timer.deadline_ms() == 0 || p.deadline_ms < _timer.deadline_ms()) {
        _timer.arm_at(p.deadline_ms);
    }
}

void udp_link::finish(pending_query& p, exchange_status status, int error) {
    RINGMTA_ASSERT(!p.outcome, "pending query finished twice");
    _pending.erase(p.id);
    _deadlines.remove(p);
    p.outcome = status;
    p.error = error;
    if (p.waiter) runtime::reactor::current().schedule(p.waiter);
}

void udp_link::finish_all(exchange_status status, int error) {
    // Bounded by the pending count; each pass removes the first entry.
    while (!_deadlines.empty()) finish(*_deadlines.first(), status, error);
}

void udp_link::dispatch(std::size_t bytes) {
    std::optional<response> reply = parse_response({_datagram.data(), bytes});
    if (!reply) {
        ++_replies_dropped;
        return;
    }
    auto it = _pending.find(reply->id);
    if (it == _pending.end() || !answers(*reply, it->second->id, it->second->asked)) {
        ++_replies_dropped;   // stale (already timed out) or not ours: ignore
        return;
    }
    pending_query& p = *it->second;
    p.reply = std::move(*reply);
    finish(p, exchange_status::answered);
}

runtime::task<void> udp_link::receive_loop() {
    ++_loops_live;
    while (!_stopping) {
        runtime::io::recv op(_fd, _datagram.data(), _datagram.size());
        int n = co_await op;
        if (_stopping) break;
        if (n >= 0) {
            dispatch(static_cast<std::size_t>(n));
        } else if (n == -ECONNREFUSED) {
            // ICMP port unreachable: nobody listens there; fail fast instead of
            // waiting for the deadline.
            finish_all(exchange_status::unreachable, n);
        } else if (n != -EINTR && n != -EAGAIN) {
            log_warn("dns: receive from %s: %s", runtime::format_address(_server.get()).c_str(),
                     std::strerror(-n));
            runtime::io::sleep_for pause(receive_error_pause_ms);
            co_await pause;
        }
    }
    loop_ended();
}

runtime::task<void> udp_link::deadline_loop() {
    ++_loops_live;
    while (!_stopping) {
        auto tick = _tick.wait();
        co_await tick;
        if (_stopping) break;
        std::uint64_t now_ms = runtime::monotonic_ms();
        // Bounded by the pending count.
        while (!_deadlines.empty() && _deadlines.first()->deadline_ms <= now_ms) {
            finish(*_deadlines.first(), exchange_status::timed_out);
        }
        if (!_deadlines.empty()) _timer.arm_at(_deadlines.first()->deadline_ms);
    }
    // stop() moved an in-flight timeout to fire at once; its CQE must arrive
    // before the link goes away. Each wake-up here is one timer CQE.
    while (_timer.in_flight()) {
        auto fired = _tick.wait();
        co_await fired;
    }
    loop_ended();
}

void udp_link::loop_ended() {
    RINGMTA_ASSERT(_loops_live > 0, "udp_link loop count");
    if (--_loops_live == 0) _loops_done.notify();
}

}  // namespace ringmta::dns::detail
