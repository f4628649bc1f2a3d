// One shard of the sink (see sink_shard.h): accept loops, session bookkeeping
// and the orderly stop.
#include "sink_shard.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ringmta/runtime/log.h"
#include "ringmta/runtime/net.h"
#include "ringmta/runtime/ops.h"
#include "sink_session.h"

namespace ringmta::sink {

namespace io = runtime::io;

sink_shard::sink_shard(unsigned index, const sink_options& options, reply_policy& policy,
                       std::vector<int> listen_fds, const std::atomic<bool>& stop)
    : _index(index),
      _options(options),
      _policy(policy),
      _listen_fds(std::move(listen_fds)),
      _stop(stop) {
    _settings.hostname = options.hostname;
    _settings.offer_chunking = options.chunking;
    _sessions.prev = &_sessions;
    _sessions.next = &_sessions;
}

sink_shard::~sink_shard() {
    for (int fd : _listen_fds) ::close(fd);
}

void sink_shard::start(runtime::reactor& r) {
    r.add_wake_listener(this);
    for (int fd : _listen_fds) {
        _acceptors.push_back(std::make_unique<runtime::acceptor>(fd));
        _acceptors.back()->start();
        ++_accept_loops_live;
        runtime::spawn(accept_loop(this, _acceptors.back().get()));
    }
    runtime::spawn(supervise(this));
    on_wake();  // a stop requested before the loop existed is not lost
}

void sink_shard::on_wake() {
    if (_stopping || !_stop.load()) return;
    _stopping = true;
    _stop_requested.notify();
}

void sink_shard::attach(session_link* link) {
    link->prev = &_sessions;
    link->next = _sessions.next;
    _sessions.next->prev = link;
    _sessions.next = link;
    ++_sessions_live;
}

void sink_shard::detach(session_link* link) {
    link->prev->next = link->next;
    link->next->prev = link->prev;
    link->prev = link->next = nullptr;
    --_sessions_live;
}

runtime::task<void> sink_shard::accept_loop(sink_shard* self, runtime::acceptor* a) {
    while (true) {
        auto next = a->next();
        int fd = co_await next;
        if (fd == -ECANCELED) break;
        if (fd < 0) {
            // EMFILE/ENFILE: back off, let sessions end, then re-arm.
            io::sleep_for pause(accept_retry_ms);
            co_await pause;
            if (!self->_stopping) a->start();
            continue;
        }
        if (self->_stopping) {
            ::close(fd);
            continue;
        }
        runtime::set_nodelay(fd);
        self->_counters.add_connection();
        runtime::spawn(serve_connection(self, fd));
    }
    --self->_accept_loops_live;
}

bool sink_shard::quiet() const {
    if (_sessions_live > 0 || _accept_loops_live > 0) return false;
    for (const auto& a : _acceptors) {
        if (!a->drained()) return false;
    }
    return true;
}

runtime::task<void> sink_shard::supervise(sink_shard* self) {
    co_await self->_stop_requested.wait();
    for (auto& a : self->_acceptors) a->stop();
    // Shutting a socket down ends the session's pending recv with 0 (EOF); the
    // session then closes the socket itself, so no fd is closed twice.
    for (session_link* s = self->_sessions.next; s != &self->_sessions; s = s->next) {
        ::shutdown(s->fd, SHUT_RDWR);
    }
    const std::uint64_t deadline_ms = runtime::monotonic_ms() + stop_wait_ms;
    while (!self->quiet() && runtime::monotonic_ms() < deadline_ms) {
        io::sleep_for pause(10);
        co_await pause;
    }
    if (!self->quiet()) {
        log_warn("shard %u: %zu sessions still open at exit", self->_index,
                          self->_sessions_live);
    }
    runtime::reactor::current().request_exit();
}

}  // namespace ringmta::sink
