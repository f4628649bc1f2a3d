// sink_shard: one shard of ringmta-sink. Owns its listeners' acceptors, its
// counters and its live sessions; everything here runs on the shard's thread
// except the constructor and counters().load(), which the main thread calls.
//
// Stop: main sets the shared stop flag and wakes every shard. The shard then
// stops accepting, shuts its sessions' sockets down (their pending recv ends)
// and leaves its reactor loop once every session and accept loop has ended,
// or after stop_wait_ms at the latest.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ringmta/runtime/acceptor.h"
#include "ringmta/runtime/notifier.h"
#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"
#include "ringmta/smtp/server_protocol.h"
#include "reply_policy.h"
#include "sink_options.h"
#include "sink_stats.h"

namespace ringmta::sink {

// A live session, linked into its shard so stop can reach its socket.
struct session_link {
    session_link* prev = nullptr;
    session_link* next = nullptr;
    int fd = -1;
};

class sink_shard final : public runtime::wake_listener {
public:
    sink_shard(unsigned index, const sink_options& options, reply_policy& policy,
               std::vector<int> listen_fds, const std::atomic<bool>& stop);
    sink_shard(const sink_shard&) = delete;
    sink_shard& operator=(const sink_shard&) = delete;
    ~sink_shard();

    // On the shard's thread, before its loop runs: starts accepting.
    void start(runtime::reactor& r);
    void on_wake() override;

    unsigned index() const { return _index; }
    const sink_options& options() const { return _options; }
    const smtp::server_settings& settings() const { return _settings; }
    reply_policy& policy() { return _policy; }
    shard_counters& counters() { return _counters; }
    std::uint64_t next_sequence() { return ++_sequence; }

    void attach(session_link* link);
    void detach(session_link* link);

private:
    static constexpr std::uint64_t stop_wait_ms = 5000;
    static constexpr std::uint64_t accept_retry_ms = 100;

    static runtime::task<void> accept_loop(sink_shard* self, runtime::acceptor* a);
    static runtime::task<void> supervise(sink_shard* self);
    bool quiet() const;

    unsigned _index;
    const sink_options& _options;
    smtp::server_settings _settings;
    reply_policy& _policy;
    std::vector<int> _listen_fds;
    const std::atomic<bool>& _stop;
    std::vector<std::unique_ptr<runtime::acceptor>> _acceptors;
    shard_counters _counters;
    runtime::notifier _stop_requested;
    bool _stopping = false;
    unsigned _accept_loops_live = 0;
    std::size_t _sessions_live = 0;
    session_link _sessions;  // list head; sessions link in after it
    std::uint64_t _sequence = 0;
};

}  // namespace ringmta::sink
