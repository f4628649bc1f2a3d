// admin_server: the operator's HTTP/1.1 endpoint ([admin] listen), on one
// shard's ring. Routes (answers are JSON unless said otherwise):
//   GET  /metrics                          Prometheus text format 0.0.4
//   GET  /queue                            per-domain summary
//   POST /domains/<d>/suspend[?for=1h]     suspend (no "for": until resumed)
//   POST /domains/<d>/resume
//   POST /domains/<d>/retry                deferred mail for <d> due now
//   POST /bounce?domain=<d> | ?sender=<s>  fail matching recipients, with DSNs
//   POST /delete?domain=<d> | ?sender=<s>  drop matching recipients, no DSN
// Errors: 400 bad request or arguments, 404 no such route (or the backend's
// "no such domain"), 405 wrong method (with Allow), 408 too slow, 413 body too
// large, 431 head too large or too many header fields, 501 Transfer-Encoding,
// 503 too many connections, 505 not HTTP/1.x. Keep-alive for HTTP/1.1 unless
// "Connection: close"; pipelined requests are answered in order.
//
// Bounded: request head and body sizes, header count, connections, requests per
// connection, and a deadline on every read and write. The work is the
// backend's (admin_backend.h); this layer parses, validates and formats.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_set>

#include "ringmta/observe/admin_backend.h"
#include "ringmta/runtime/acceptor.h"
#include "ringmta/runtime/task.h"

namespace ringmta::observe {

struct admin_options {
    std::size_t head_bytes_max = 8192;
    std::size_t headers_max = 64;
    std::size_t body_bytes_max = 4096;
    unsigned connections_max = 32;
    unsigned requests_per_connection_max = 1000;
    std::uint64_t read_timeout_ms = 10'000;     // a request must arrive within this
    std::uint64_t idle_timeout_ms = 30'000;     // between keep-alive requests
    std::uint64_t write_timeout_ms = 10'000;
};

class admin_server {
public:
    // listen_fd: a listening TCP socket (runtime::listen_tcp); the server owns it.
    admin_server(int listen_fd, admin_backend& backend, const admin_options& options = {});
    admin_server(const admin_server&) = delete;
    admin_server& operator=(const admin_server&) = delete;
    ~admin_server();

    // On the shard's reactor thread: starts accepting.
    void start();
    // Stops accepting and ends open connections; wait for quiet() before
    // destroying the server.
    void stop();
    bool quiet() const { return _sessions_live == 0 && _accept_loop_done && _acceptor.drained(); }

    std::uint64_t requests() const { return _requests; }

private:
    static runtime::task<void> accept_loop(admin_server* self);
    static runtime::task<void> serve(admin_server* self, int fd);

    int _listen_fd;
    admin_backend& _backend;
    admin_options _options;
    runtime::acceptor _acceptor;
    std::unordered_set<int> _live_fds;
    unsigned _sessions_live = 0;
    bool _accept_loop_done = true;
    bool _stopping = false;
    std::uint64_t _requests = 0;
};

}  // namespace ringmta::observe
