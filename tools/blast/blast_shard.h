// blast_shard: one shard of ringmta-blast. Owns a contiguous range of message
// numbers, the connections that send them (each takes the next number from the
// shard's counter, so no cross-thread traffic) and the results they record.
// Runs on its shard thread; main reads results() only after the shards joined.
// The connections start sending together: each waits at the shard's start line
// until every connection has opened (or failed to), so a receiver that greets
// some connections late still gets their share and the offered concurrency is
// the asked one from the first message.
#pragma once

#include <coroutine>
#include <cstdint>
#include <string>
#include <vector>

#include "blast_options.h"
#include "message_builder.h"
#include "ringmta/runtime/notifier.h"
#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"

namespace ringmta::blast {

struct shard_results {
    static constexpr std::size_t failure_replies_max = 5;

    std::uint64_t attempted = 0;  // messages taken by a connection
    std::uint64_t accepted = 0;
    std::uint64_t failed = 0;
    std::uint64_t sent_bytes = 0;  // content bytes of messages whose DATA was sent
    std::vector<std::uint32_t> latency_us;
    std::vector<std::string> failure_replies;  // the first few distinct ones
    std::vector<std::uint64_t> accepted_messages;  // only with --accepted-log

    void note_failure(const std::string& text);
};

class blast_shard {
public:
    blast_shard(const blast_options& options, const message_builder& builder,
                std::uint64_t first_message, std::uint64_t end_message, unsigned connections,
                std::uint64_t deadline_ms);
    blast_shard(const blast_shard&) = delete;
    blast_shard& operator=(const blast_shard&) = delete;

    // On the shard's thread: spawns the connections; the loop ends after the last.
    void start();

    // A connection's first open attempt is over (opened or failed): counts it at
    // the start line. The last one to arrive lets every waiting one go.
    void arrive();
    // Waits until every connection has arrived (at once when all have).
    auto start_line() {
        struct awaiter {
            blast_shard& _s;
            bool await_ready() const noexcept { return _s._arrived == _s._connections; }
            void await_suspend(std::coroutine_handle<> h) { _s._at_start_line.push_back(h); }
            void await_resume() const noexcept {}
        };
        return awaiter{*this};
    }

    // The next message to send; false when none is left or the deadline passed.
    bool take_message(std::uint64_t& message);
    bool work_left() const;
    // A per-operation timeout that never runs past the deadline.
    std::uint64_t op_timeout_ms() const;

    const blast_options& options() const { return _options; }
    const message_builder& builder() const { return _builder; }
    shard_results& results() { return _results; }

private:
    static runtime::task<void> run_one(blast_shard* self);
    static runtime::task<void> wait_all(blast_shard* self);

    const blast_options& _options;
    const message_builder& _builder;
    std::uint64_t _next_message;
    std::uint64_t _end_message;
    unsigned _connections;
    unsigned _connections_live = 0;
    unsigned _arrived = 0;   // connections past their first open attempt
    std::vector<std::coroutine_handle<>> _at_start_line;
    std::uint64_t _deadline_ms;
    runtime::notifier _all_done;
    shard_results _results;
};

}  // namespace ringmta::blast
