// scheduler (see scheduler.h).
#include "ringmta/queue/scheduler.h"

#include <algorithm>

#include "ringmta/journal/record.h"
#include "ringmta/runtime/assert.h"

namespace ringmta::queue {

bool high_priority(const job& j) {
    return j.msg && (j.msg->flags & journal::message_flag_priority_high) != 0;
}

void ready_jobs::push_back(job j) {
    if (!high_priority(j)) {
        _normal.push_back(std::move(j));
        return;
    }
    if (!_high) _high = std::make_unique<std::deque<job>>();
    _high->push_back(std::move(j));
}

job& ready_jobs::front() {
    return high() > 0 ? _high->front() : _normal.front();
}

bool ready_jobs::pop_front(job& out) {
    std::deque<job>* from = high() > 0 ? _high.get() : &_normal;
    if (from->empty()) return false;
    out = std::move(from->front());
    from->pop_front();
    return true;
}

void ready_jobs::for_each(const std::function<void(const job&)>& f) const {
    if (_high) {
        for (const job& j : *_high) f(j);
    }
    for (const job& j : _normal) f(j);
}

scheduler::scheduler(const retry_policy& policy, std::size_t recipients_per_job)
    : _policy(policy), _recipients_per_job(std::max<std::size_t>(1, recipients_per_job)) {
    RINGMTA_ASSERT(policy.retry_min_ms > 0 && policy.retry_min_ms <= policy.retry_max_ms,
                   "retry_min must be positive and at most retry_max");
}

destination& scheduler::get(std::string_view key) {
    auto it = _destinations.find(std::string(key));
    if (it != _destinations.end()) return *it->second;
    auto d = std::make_unique<destination>();
    d->key = std::string(key);
    destination& ref = *d;
    _destinations.emplace(ref.key, std::move(d));
    return ref;
}

destination* scheduler::find(std::string_view key) {
    auto it = _destinations.find(std::string(key));
    return it == _destinations.end() ? nullptr : it->second.get();
}

void scheduler::make_ready(destination& d, job j) {
    if (d.ready.empty()) _activated.push_back(&d);
    d.ready_recipients += j.recipients.size();
    d.ready.push_back(std::move(j));
    ++_ready_jobs;
}

void scheduler::wait_until(destination& d, job j, std::uint64_t due_ms) {
    _deferred.push(deferred{due_ms, _order++, &d, std::move(j)});
}

void scheduler::enqueue(std::string_view destination_key, const message_ptr& m,
                        std::span<const std::uint32_t> recipients, std::uint32_t attempts,
                        std::uint64_t due_ms) {
    destination& d = get(destination_key);
    for (std::size_t from = 0; from < recipients.size(); from += _recipients_per_job) {
        std::size_t to = std::min(recipients.size(), from + _recipients_per_job);
        job j;
        j.msg = m;
        j.recipients.assign(recipients.subspan(from, to - from));
        j.attempts = attempts;
        d.queued_recipients += j.recipients.size();
        if (due_ms > 0) {
            wait_until(d, std::move(j), due_ms);
        } else {
            make_ready(d, std::move(j));
        }
    }
}

std::uint64_t scheduler::backoff_ms(std::uint32_t attempts) const {
    std::uint64_t delay = _policy.retry_min_ms;
    for (std::uint32_t i = 1; i < attempts && delay < _policy.retry_max_ms; ++i) delay *= 2;
    return std::min(delay, _policy.retry_max_ms);
}

bool scheduler::defer(std::string_view destination_key, job j, std::uint64_t now_ms,
                      std::uint64_t now_unix_ms) {
    destination& d = get(destination_key);
    std::uint64_t delay = backoff_ms(j.attempts);
    std::uint64_t age_at_retry = now_unix_ms + delay - std::min(now_unix_ms, j.msg->arrival_unix_ms);
    // take() counted the job out of queued_recipients; it counts again from here.
    if (age_at_retry > _policy.max_age_ms) return false;
    d.queued_recipients += j.recipients.size();
    wait_until(d, std::move(j), now_ms + delay);
    return true;
}

void scheduler::promote_due(std::uint64_t now_ms) {
    while (!_deferred.empty() && _deferred.top().due_ms <= now_ms) {
        // priority_queue::top() is const; the job is moved out just before pop().
        deferred& top = const_cast<deferred&>(_deferred.top());
        destination* d = top.dest;
        job j = std::move(top.j);
        _deferred.pop();
        make_ready(*d, std::move(j));
    }
}

std::uint64_t scheduler::next_due_ms() const {
    return _deferred.empty() ? 0 : _deferred.top().due_ms;
}

void scheduler::for_each_job(
    const std::function<void(const job&, std::uint64_t due_ms)>& f) const {
    for (const auto& [key, d] : _destinations) {
        d->ready.for_each([&f](const job& j) { f(j, 0); });
    }
    for (const deferred& d : _deferred.items()) f(d.j, d.due_ms);
}

std::vector<scheduler::queued_job> scheduler::extract(
    const std::function<bool(const destination&)>& which, bool ready, bool deferred_too) {
    std::vector<queued_job> out;
    if (ready) {
        for (auto& [key, d] : _destinations) {
            if (d->ready.empty() || !which(*d)) continue;
            job j;
            while (d->ready.pop_front(j)) {
                d->queued_recipients -= std::min<std::uint64_t>(d->queued_recipients,
                                                                j.recipients.size());
                --_ready_jobs;
                d->ready_recipients -= j.recipients.size();
                out.push_back(queued_job{d.get(), std::move(j), 0});
            }
        }
    }
    if (deferred_too && !_deferred.empty()) {
        std::vector<deferred> taken;
        _deferred.take_if([&](const deferred& e) { return which(*e.dest); }, taken);
        for (deferred& e : taken) {
            e.dest->queued_recipients -= std::min<std::uint64_t>(e.dest->queued_recipients,
                                                                 e.j.recipients.size());
            out.push_back(queued_job{e.dest, std::move(e.j), e.due_ms});
        }
    }
    return out;
}

std::vector<destination*> scheduler::take_activated() {
    std::vector<destination*> out;
    out.swap(_activated);
    return out;
}

bool scheduler::take(destination& d, job& out, std::size_t recipients_max) {
    if (d.ready.empty()) return false;
    job& first = d.ready.front();
    if (recipients_max > 0 && first.recipients.size() > recipients_max) {
        // A destination that takes fewer recipients per transaction than the job
        // has: the head goes, the tail stays first in line.
        std::span<const std::uint32_t> all = first.recipients.span();
        out.msg = first.msg;
        out.attempts = first.attempts;
        out.recipients.assign(all.first(recipients_max));
        first.recipients.assign(std::vector<std::uint32_t>(all.begin() + recipients_max,
                                                           all.end()));
        d.queued_recipients -= std::min<std::uint64_t>(d.queued_recipients, recipients_max);
        d.ready_recipients -= recipients_max;
        return true;
    }
    d.ready.pop_front(out);
    --_ready_jobs;
    d.ready_recipients -= out.recipients.size();
    d.queued_recipients -= std::min<std::uint64_t>(d.queued_recipients, out.recipients.size());
    return true;
}

}  // namespace ringmta::queue
