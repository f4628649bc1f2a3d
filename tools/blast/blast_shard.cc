// One shard of the load generator (see blast_shard.h).
#include "blast_shard.h"

#include <algorithm>

#include "blast_connection.h"

namespace ringmta::blast {

namespace {

constexpr std::uint64_t op_timeout_max_ms = 60'000;

}  // namespace

void shard_results::note_failure(const std::string& text) {
    if (failure_replies.size() >= failure_replies_max) return;
    if (std::find(failure_replies.begin(), failure_replies.end(), text) !=
        failure_replies.end()) {
        return;
    }
    failure_replies.push_back(text);
}

blast_shard::blast_shard(const blast_options& options, const message_builder& builder,
                         std::uint64_t first_message, std::uint64_t end_message,
                         unsigned connections, std::uint64_t deadline_ms)
    : _options(options),
      _builder(builder),
      _next_message(first_message),
      _end_message(end_message),
      _connections(connections),
      _deadline_ms(deadline_ms) {
    _results.latency_us.reserve(std::size_t(end_message - first_message));
}

void blast_shard::start() {
    runtime::spawn(wait_all(this));
    for (unsigned i = 0; i < _connections; ++i) {
        ++_connections_live;
        runtime::spawn(run_one(this));
    }
    if (_connections_live == 0) _all_done.notify();
}

void blast_shard::arrive() {
    if (++_arrived < _connections) return;
    for (std::coroutine_handle<> h : _at_start_line) runtime::reactor::current().schedule(h);
    _at_start_line.clear();
}

bool blast_shard::work_left() const {
    return _next_message < _end_message && runtime::monotonic_ms() < _deadline_ms;
}

bool blast_shard::take_message(std::uint64_t& message) {
    if (!work_left()) return false;
    message = _next_message++;
    ++_results.attempted;
    return true;
}

std::uint64_t blast_shard::op_timeout_ms() const {
    const std::uint64_t now = runtime::monotonic_ms();
    if (now >= _deadline_ms) return 1;
    return std::min(op_timeout_max_ms, _deadline_ms - now);
}

runtime::task<void> blast_shard::run_one(blast_shard* self) {
    co_await run_connection(self);
    if (--self->_connections_live == 0) self->_all_done.notify();
}

runtime::task<void> blast_shard::wait_all(blast_shard* self) {
    co_await self->_all_done.wait();
    runtime::reactor::current().request_exit();
}

}  // namespace ringmta::blast
