// The admin endpoint's connections: accept, read a request (bounded, with
// deadlines), route it, answer, and keep the connection for the next one when
// HTTP/1.1 allows. One coroutine per connection on the admin shard's ring.
#include <ringmta/observe/admin_server.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "admin_routes.h"
#include "http_request.h"
#include "ringmta/runtime/net.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/reactor.h"

namespace ringmta::observe {

namespace io = runtime::io;

namespace {

constexpr std::size_t receive_bytes = 4096;
constexpr std::uint64_t accept_retry_ms = 100;   // after EMFILE/ENFILE

// After an error answer, what the client sent but we did not read is drained
// for a moment before the close: closing with unread input makes the kernel
// send a reset, which can destroy the answer before the client reads it
// (lingering close, as HTTP servers do). Bounded in bytes and time.
constexpr std::size_t linger_bytes_max = 64 * 1024;
constexpr std::uint64_t linger_ms = 200;

// Sends an error answer and closes: a request that cannot be framed (or was too
// slow) leaves nothing trustworthy to read after it.
runtime::task<void> answer_and_close(int fd, int status, std::string_view message,
                                     std::uint64_t write_timeout_ms) {
    std::string text = detail::serialize(detail::error_response(status, message), false);
    runtime::task<int> sent = io::send_all(fd, text, write_timeout_ms);
    int result = co_await std::move(sent);
    if (result < 0) co_return;
    ::shutdown(fd, SHUT_WR);
    char sink[4096];
    for (std::size_t drained = 0; drained < linger_bytes_max;) {
        io::recv op(fd, sink, sizeof sink, linger_ms);
        int n = co_await op;
        if (n <= 0) break;
        drained += static_cast<std::size_t>(n);
    }
}

}  // namespace

admin_server::admin_server(int listen_fd, admin_backend& backend, const admin_options& options)
    : _listen_fd(listen_fd), _backend(backend), _options(options), _acceptor(listen_fd) {}

admin_server::~admin_server() { ::close(_listen_fd); }

void admin_server::start() {
    _acceptor.start();
    _accept_loop_done = false;
    runtime::spawn(accept_loop(this));
}

void admin_server::stop() {
    if (_stopping) return;
    _stopping = true;
    _acceptor.stop();
    // A shut-down socket ends the session's pending receive with 0 (EOF); the
    // session then closes it itself, so no descriptor is closed twice.
    for (int fd : _live_fds) ::shutdown(fd, SHUT_RDWR);
}

runtime::task<void> admin_server::accept_loop(admin_server* self) {
    while (true) {
        auto next = self->_acceptor.next();
        int fd = co_await next;
        if (fd == -ECANCELED) break;
        if (fd < 0) {
            io::sleep_for pause(accept_retry_ms);
            co_await pause;
            if (!self->_stopping) self->_acceptor.start();
            continue;
        }
        if (self->_stopping) {
            ::close(fd);
            continue;
        }
        runtime::set_nodelay(fd);
        runtime::spawn(serve(self, fd));
    }
    self->_accept_loop_done = true;
}

runtime::task<void> admin_server::serve(admin_server* self, int fd) {
    ++self->_sessions_live;
    self->_live_fds.insert(fd);
    const admin_options& options = self->_options;
    const detail::http_limits limits{options.head_bytes_max, options.headers_max,
                                     options.body_bytes_max};
    if (self->_sessions_live > options.connections_max) {
        runtime::task<void> busy = answer_and_close(fd, 503, "too many admin connections",
                                                    options.write_timeout_ms);
        co_await std::move(busy);
    } else {
        std::string input;
        char buffer[receive_bytes];
        for (unsigned served = 0; served < options.requests_per_connection_max; ++served) {
            // Waiting for a request: the idle timeout; inside one: the read timeout.
            detail::http_request request;
            detail::parse_result parsed;
            int error_status = 0;
            std::string error_reason;
            while (true) {
                parsed = detail::parse_request_head(input, limits, request);
                if (parsed.state == detail::parse_state::error) {
                    error_status = parsed.status;
                    error_reason = parsed.reason;
                    break;
                }
                if (parsed.state == detail::parse_state::complete &&
                    input.size() >= parsed.head_bytes + request.content_length) {
                    break;
                }
                const std::uint64_t timeout_ms =
                    input.empty() ? options.idle_timeout_ms : options.read_timeout_ms;
                io::recv op(fd, buffer, sizeof buffer, timeout_ms);
                int n = co_await op;
                if (n == -ETIMEDOUT && !input.empty()) {
                    error_status = 408;
                    error_reason = "the request was not complete in time";
                    break;
                }
                if (n <= 0) break;   // EOF, reset, idle timeout or shutdown: just close
                input.append(buffer, static_cast<std::size_t>(n));
            }
            if (error_status != 0) {
                runtime::task<void> refuse = answer_and_close(fd, error_status, error_reason,
                                                              options.write_timeout_ms);
                co_await std::move(refuse);
                break;
            }
            if (parsed.state != detail::parse_state::complete ||
                input.size() < parsed.head_bytes + request.content_length) {
                break;
            }
            input.erase(0, parsed.head_bytes + request.content_length);   // the body is unused
            ++self->_requests;
            const bool keep_alive = request.keep_alive && !self->_stopping &&
                                    served + 1 < options.requests_per_connection_max;
            runtime::task<detail::http_response> routed = detail::route(&self->_backend, request);
            detail::http_response response = co_await std::move(routed);
            std::string text = detail::serialize(response, keep_alive);
            runtime::task<int> sent = io::send_all(fd, text, options.write_timeout_ms);
            int result = co_await std::move(sent);
            if (result < 0 || !keep_alive) break;
        }
    }
    self->_live_fds.erase(fd);
    io::close_detached(fd);
    --self->_sessions_live;
}

}  // namespace ringmta::observe
