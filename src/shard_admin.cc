// The admin backend across shards (see shard_admin.h).
//
// A call posts one closure to every shard; each runs on its shard, asks the
// engine, and posts the answer back to the admin server's shard, where the
// asking coroutine polls until all have come (or the wait runs out). State
// shared by the two sides lives in a shared_ptr, so an answer that comes late
// finds it still there. Rings are small and never fill: each admin connection
// has at most one call out per shard (admin_options::connections_max of them).
#include "shard_admin.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>

#include "ringmta/config/units.h"
#include "ringmta/runtime/log.h"
#include "ringmta/runtime/ops.h"

namespace ringmta {

namespace {

using report_list = std::vector<delivery::engine::destination_report>;

// How often the asking coroutine looks for the answers.
constexpr std::uint64_t answer_poll_ms = 2;

template <typename R>
struct answers {
    std::vector<std::optional<R>> by_shard;
    unsigned pending = 0;
};

// Sends `f` to run on shard `to` (at once when that is this shard).
bool run_on(runtime::shard_calls& calls, unsigned from, unsigned to, runtime::shard_calls::call f) {
    if (from == to) {
        f();
        return true;
    }
    if (calls.post(from, to, std::move(f))) return true;
    log_error("admin: the call ring to shard %u is full; that shard's answer is missing", to);
    return false;
}

template <typename R>
void answer(runtime::shard_calls& calls, unsigned shard, unsigned home,
            std::shared_ptr<answers<R>> state, R value) {
    run_on(calls, shard, home, [state, shard, value = std::move(value)]() {
        state->by_shard[shard] = value;
        --state->pending;
    });
}

template <typename R>
runtime::task<void> wait_for(std::shared_ptr<answers<R>> state) {
    std::uint64_t deadline = runtime::monotonic_ms() + shard_admin::answer_wait_ms;
    while (state->pending > 0 && runtime::monotonic_ms() < deadline) {
        runtime::io::sleep_for pause(answer_poll_ms);
        co_await pause;
    }
}

// Posts start(engine, shard, state) to every shard, to run there; it must answer
// (answer<R>) when its work is done. A shard without an engine answers nothing
// at once; a call that cannot be posted is counted as answered (missing).
template <typename R>
std::shared_ptr<answers<R>> start_on_every_shard(
    runtime::shard_calls* calls, unsigned home,
    const std::function<delivery::engine*(unsigned)>& engine_of,
    std::function<void(delivery::engine&, unsigned, std::shared_ptr<answers<R>>)> start) {
    auto state = std::make_shared<answers<R>>();
    unsigned shards = static_cast<unsigned>(calls->shards());
    state->by_shard.resize(shards);
    state->pending = shards;
    for (unsigned i = 0; i < shards; ++i) {
        bool sent = run_on(*calls, home, i, [calls, i, home, state, engine_of, start]() {
            delivery::engine* e = engine_of(i);
            if (e == nullptr) {
                run_on(*calls, i, home, [state]() { --state->pending; });
                return;
            }
            start(*e, i, state);
        });
        if (!sent) --state->pending;
    }
    return state;
}

// Runs ask(engine) on every shard that has an engine; the answers by shard
// (missing: no engine, or no answer in time).
template <typename R>
runtime::task<std::vector<std::optional<R>>> ask_every_shard(
    runtime::shard_calls* calls, unsigned home,
    std::function<delivery::engine*(unsigned)> engine_of,
    std::function<R(delivery::engine&)> ask) {
    std::shared_ptr<answers<R>> state = start_on_every_shard<R>(
        calls, home, engine_of,
        [calls, home, ask](delivery::engine& e, unsigned shard, std::shared_ptr<answers<R>> to) {
            answer<R>(*calls, shard, home, std::move(to), ask(e));
        });
    runtime::task<void> wait = wait_for<R>(state);
    co_await std::move(wait);
    co_return state->by_shard;
}

// A bounce or delete on one shard: a pass that reads messages back, so the
// closure starts it and it answers when done.
runtime::task<void> drop_on_shard(runtime::shard_calls* calls, unsigned shard, unsigned home,
                                  std::shared_ptr<answers<observe::admin_result>> state,
                                  delivery::engine* e, observe::message_filter filter,
                                  bool bounce) {
    runtime::task<observe::admin_result> pass = e->drop(std::move(filter), bounce);
    observe::admin_result result = co_await std::move(pass);
    answer<observe::admin_result>(*calls, shard, home, state, std::move(result));
}

observe::admin_result no_answer() {
    return observe::admin_result{503, 0, "not every shard answered in time; try again"};
}

template <typename R>
bool complete(const std::vector<std::optional<R>>& answers) {
    return std::all_of(answers.begin(), answers.end(), [](const auto& a) { return a.has_value(); });
}

// ask(engine) on every shard, the answers added up; nothing when one is missing.
runtime::task<std::optional<std::uint64_t>> sum_every_shard(
    runtime::shard_calls* calls, unsigned home,
    std::function<delivery::engine*(unsigned)> engine_of,
    std::function<std::uint64_t(delivery::engine&)> ask) {
    runtime::task<std::vector<std::optional<std::uint64_t>>> call =
        ask_every_shard<std::uint64_t>(calls, home, std::move(engine_of), std::move(ask));
    std::vector<std::optional<std::uint64_t>> got = co_await std::move(call);
    if (!complete(got)) co_return std::nullopt;
    std::uint64_t total = 0;
    for (auto& n : got) total += *n;
    co_return total;
}

}  // namespace

observe::queue_summary merge_reports(const std::vector<report_list>& shards) {
    std::map<std::string, delivery::engine::destination_report> by_domain;
    for (const report_list& reports : shards) {
        for (const delivery::engine::destination_report& r : reports) {
            delivery::engine::destination_report& m = by_domain[r.summary.domain];
            observe::domain_summary& to = m.summary;
            const observe::domain_summary& from = r.summary;
            to.domain = from.domain;
            to.queued += from.queued;
            to.in_flight += from.in_flight;
            to.deferred += from.deferred;
            to.connections += from.connections;
            to.connections_allowed += from.connections_allowed;
            to.connections_max += from.connections_max;
            to.rate_allowed_per_second += from.rate_allowed_per_second;
            if (to.rate_limit.empty()) to.rate_limit = from.rate_limit;   // the owner's
            to.deliveries_today += from.deliveries_today;
            to.daily_cap = std::max(to.daily_cap, from.daily_cap);
            if (from.suspended) {
                // Until resumed (0) wins over any time; else the latest time.
                bool forever = (to.suspended && to.suspended_until_unix_ms == 0) ||
                               from.suspended_until_unix_ms == 0;
                to.suspended_until_unix_ms =
                    forever ? 0 : std::max(to.suspended_until_unix_ms, from.suspended_until_unix_ms);
                to.suspended = true;
            }
            if (r.last_error_unix_ms > m.last_error_unix_ms) {
                m.last_error_unix_ms = r.last_error_unix_ms;
                to.last_error = from.last_error;
            }
        }
    }
    observe::queue_summary out;
    out.domains.reserve(by_domain.size());
    for (auto& [domain, r] : by_domain) {
        // No owner reported one: no configured rate.
        if (r.summary.rate_limit.empty()) r.summary.rate_limit = config::format_rate({});
        out.domains.push_back(std::move(r.summary));
    }
    return out;
}

shard_admin::shard_admin(runtime::shard_calls& calls, unsigned home,
                         std::function<delivery::engine*(unsigned)> engine_of)
    : _calls(calls), _home(home), _engine_of(std::move(engine_of)) {}

runtime::task<std::string> shard_admin::metrics_text() {
    std::function<observe::metrics_snapshot(delivery::engine&)> ask =
        [](delivery::engine& e) { return e.snapshot_metrics(); };
    runtime::task<std::vector<std::optional<observe::metrics_snapshot>>> call =
        ask_every_shard<observe::metrics_snapshot>(&_calls, _home, _engine_of, ask);
    std::vector<std::optional<observe::metrics_snapshot>> got = co_await std::move(call);
    std::vector<observe::metrics_snapshot> snapshots;
    for (auto& s : got) {
        if (s) snapshots.push_back(std::move(*s));
    }
    co_return observe::format_prometheus(observe::merge(snapshots));
}

runtime::task<observe::queue_summary> shard_admin::queue() {
    std::function<report_list(delivery::engine&)> ask =
        [](delivery::engine& e) { return e.report_destinations(); };
    runtime::task<std::vector<std::optional<report_list>>> call =
        ask_every_shard<report_list>(&_calls, _home, _engine_of, ask);
    std::vector<std::optional<report_list>> got = co_await std::move(call);
    std::vector<report_list> reports;
    for (auto& r : got) {
        if (r) reports.push_back(std::move(*r));
    }
    co_return merge_reports(reports);
}

runtime::task<observe::admin_result> shard_admin::suspend(std::string domain,
                                                          std::uint64_t duration_ms) {
    std::uint64_t until = duration_ms == 0 ? 0 : runtime::unix_ms() + duration_ms;
    std::function<std::uint64_t(delivery::engine&)> ask =
        [domain, until](delivery::engine& e) { return e.suspend(domain, until); };
    runtime::task<std::optional<std::uint64_t>> call =
        sum_every_shard(&_calls, _home, _engine_of, ask);
    std::optional<std::uint64_t> recipients = co_await std::move(call);
    if (!recipients) co_return no_answer();
    co_return observe::admin_result{200, *recipients, "suspended: " + domain};
}

runtime::task<observe::admin_result> shard_admin::resume(std::string domain) {
    std::function<std::uint64_t(delivery::engine&)> ask =
        [domain](delivery::engine& e) { return std::uint64_t{e.resume(domain)}; };
    runtime::task<std::optional<std::uint64_t>> call =
        sum_every_shard(&_calls, _home, _engine_of, ask);
    std::optional<std::uint64_t> ended = co_await std::move(call);
    if (!ended) co_return no_answer();
    if (*ended == 0) co_return observe::admin_result{404, 0, domain + " is not suspended"};
    co_return observe::admin_result{200, 0, "resumed: " + domain};
}

runtime::task<observe::admin_result> shard_admin::retry(std::string domain) {
    std::function<std::int64_t(delivery::engine&)> ask =
        [domain](delivery::engine& e) { return e.retry_now(domain); };
    runtime::task<std::vector<std::optional<std::int64_t>>> call =
        ask_every_shard<std::int64_t>(&_calls, _home, _engine_of, ask);
    std::vector<std::optional<std::int64_t>> got = co_await std::move(call);
    if (!complete(got)) co_return no_answer();
    bool known = false;
    std::uint64_t recipients = 0;
    for (auto& n : got) {
        if (*n < 0) continue;
        known = true;
        recipients += static_cast<std::uint64_t>(*n);
    }
    if (!known) co_return observe::admin_result{404, 0, "no mail queued for " + domain};
    co_return observe::admin_result{200, recipients, "due now: " + domain};
}

runtime::task<observe::admin_result> shard_admin::drop(observe::message_filter filter,
                                                       bool bounce) {
    runtime::shard_calls* calls = &_calls;
    unsigned home = _home;
    std::shared_ptr<answers<observe::admin_result>> state =
        start_on_every_shard<observe::admin_result>(
            calls, home, _engine_of,
            [calls, home, filter, bounce](delivery::engine& e, unsigned shard,
                                          std::shared_ptr<answers<observe::admin_result>> to) {
                runtime::spawn(drop_on_shard(calls, shard, home, std::move(to), &e, filter,
                                             bounce));
            });
    runtime::task<void> wait = wait_for<observe::admin_result>(state);
    co_await std::move(wait);
    if (!complete(state->by_shard)) co_return no_answer();
    observe::admin_result out{200, 0, {}};
    for (auto& r : state->by_shard) {
        if (r->status != 200) co_return *r;
        out.affected += r->affected;
    }
    // Appended, not "literal" + string: g++ 12 warns falsely (-Wrestrict) on that.
    std::string what = filter.domain.empty() ? "sender " : "domain ";
    what += filter.domain.empty() ? filter.sender : filter.domain;
    if (out.affected == 0) {
        co_return observe::admin_result{404, 0, "no queued recipient of " + what};
    }
    out.message = std::to_string(out.affected) + " recipients " + (bounce ? "bounced" : "deleted");
    co_return out;
}

runtime::task<observe::admin_result> shard_admin::bounce(observe::message_filter filter) {
    runtime::task<observe::admin_result> call = drop(std::move(filter), true);
    co_return co_await std::move(call);
}

runtime::task<observe::admin_result> shard_admin::remove(observe::message_filter filter) {
    runtime::task<observe::admin_result> call = drop(std::move(filter), false);
    co_return co_await std::move(call);
}

}  // namespace ringmta
