// AIMD adaptive backoff. See include/ringmta/queue/throttle_controller.h.
#include "ringmta/queue/throttle_controller.h"

#include <algorithm>

namespace ringmta::queue {

namespace {

constexpr unsigned permille_full = 1000;
constexpr unsigned permille_step = 100;   // additive increase: a tenth of the rate a round

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// `pattern` (lower case) occurs in `text`, ignoring case in text.
bool contains_lower(std::string_view text, std::string_view pattern) {
    if (pattern.empty() || pattern.size() > text.size()) return pattern.empty();
    for (std::size_t at = 0; at + pattern.size() <= text.size(); ++at) {
        std::size_t i = 0;
        while (i < pattern.size() && lower(text[at + i]) == pattern[i]) ++i;
        if (i == pattern.size()) return true;
    }
    return false;
}

std::string values_text(unsigned connections, unsigned permille) {
    return "connections " + std::to_string(connections) + ", rate " +
           std::to_string(permille / 10) + "%";
}

}  // namespace

const char* throttle_signal_name(throttle_signal signal) {
    switch (signal) {
        case throttle_signal::success: return "success";
        case throttle_signal::reply_421: return "421";
        case throttle_signal::refused: return "connection refused";
        case throttle_signal::timeout: return "timeout";
        case throttle_signal::pattern: return "throttling reply";
        case throttle_signal::neutral: return "other failure";
    }
    return "?";
}

const char* change_kind_name(change_kind kind) {
    switch (kind) {
        case change_kind::none: return "none";
        case change_kind::decrease: return "decrease";
        case change_kind::increase: return "increase";
        case change_kind::suspend: return "suspend";
        case change_kind::resume: return "resume";
    }
    return "?";
}

throttle_signal classify_reply(int code, std::string_view text,
                               std::span<const std::string> patterns) {
    if (code >= 200 && code < 300) return throttle_signal::success;
    if (code == 421) return throttle_signal::reply_421;
    for (const std::string& pattern : patterns) {
        if (contains_lower(text, pattern)) return throttle_signal::pattern;
    }
    return throttle_signal::neutral;
}

throttle_controller::throttle_controller(const controller_settings& settings)
    : _settings(settings), _connections(std::max(1u, settings.connections_max)) {
    _settings.connections_max = _connections;
    _settings.floor_percent = std::clamp(settings.floor_percent, 1u, 100u);
}

void throttle_controller::reconfigure(const controller_settings& settings) {
    _settings = settings;
    _settings.connections_max = std::max(1u, settings.connections_max);
    _settings.floor_percent = std::clamp(settings.floor_percent, 1u, 100u);
    _connections = std::clamp(_connections, floor_connections(), _settings.connections_max);
    _rate_permille = std::clamp(_rate_permille, floor_permille(), permille_full);
}

unsigned throttle_controller::floor_connections() const {
    return std::max(1u, _settings.connections_max * _settings.floor_percent / 100);
}

unsigned throttle_controller::floor_permille() const {
    return _settings.floor_percent * 10;
}

std::uint64_t throttle_controller::rate_allowed() const {
    if (_settings.rate_count == 0) return 0;
    return std::max<std::uint64_t>(1, _settings.rate_count * _rate_permille / permille_full);
}

throttle_change throttle_controller::make_change(change_kind kind, unsigned connections_before,
                                                 unsigned permille_before, std::string reason) {
    throttle_change change;
    change.kind = kind;
    change.connections_before = connections_before;
    change.connections_after = connections_allowed();
    change.rate_permille_before = permille_before;
    change.rate_permille_after = _rate_permille;
    change.reason = std::move(reason);
    return change;
}

throttle_change throttle_controller::report(throttle_signal signal, std::uint64_t now_ms) {
    if (throttle_change ended = tick(now_ms); ended.changed()) {
        // The report came after the suspension ended; it counts from the floor.
        throttle_change next = report(signal, now_ms);
        return next.changed() ? next : ended;
    }
    if (suspended()) return {};   // late results of attempts started before it
    switch (signal) {
        case throttle_signal::success:
            ++_counts.successes;
            _consecutive_failures = 0;
            return increase();
        case throttle_signal::neutral: return {};
        default: return decrease(signal, now_ms);
    }
}

throttle_change throttle_controller::increase() {
    if (++_successes_in_round < _connections) return {};
    _successes_in_round = 0;
    if (_connections >= _settings.connections_max && _rate_permille >= permille_full) return {};
    const unsigned connections_before = _connections, permille_before = _rate_permille;
    _connections = std::min(_connections + 1, _settings.connections_max);
    _rate_permille = std::min(_rate_permille + permille_step, permille_full);
    ++_counts.increases;
    return make_change(change_kind::increase, connections_before, permille_before,
                       "a round of successes: " + values_text(_connections, _rate_permille));
}

throttle_change throttle_controller::decrease(throttle_signal signal, std::uint64_t now_ms) {
    ++_counts.throttles;
    ++_consecutive_failures;
    _successes_in_round = 0;
    const unsigned connections_before = connections_allowed();
    const unsigned permille_before = _rate_permille;
    if (_settings.suspend_after != 0 && _consecutive_failures >= _settings.suspend_after) {
        _suspended_until_ms = now_ms + std::max<std::uint64_t>(1, _settings.suspend_ms);
        _consecutive_failures = 0;
        ++_counts.suspensions;
        return make_change(change_kind::suspend, connections_before, permille_before,
                           std::to_string(_settings.suspend_after) +
                               " throttling failures in a row (last: " +
                               throttle_signal_name(signal) + "): suspended for " +
                               std::to_string(_settings.suspend_ms / 1000) + "s");
    }
    // One overload shows as several signals at once: one decrease per holdoff.
    if (_decreased_once && now_ms < _last_decrease_ms + _settings.decrease_holdoff_ms) return {};
    const unsigned low_connections = floor_connections(), low_permille = floor_permille();
    if (_connections <= low_connections && _rate_permille <= low_permille) return {};
    _decreased_once = true;
    _last_decrease_ms = now_ms;
    _connections = std::max(low_connections, _connections / 2);
    _rate_permille = std::max(low_permille, _rate_permille / 2);
    ++_counts.decreases;
    return make_change(change_kind::decrease, connections_before, permille_before,
                       std::string(throttle_signal_name(signal)) + " from the receiver: " +
                           values_text(_connections, _rate_permille));
}

throttle_change throttle_controller::suspend(std::uint64_t now_ms, std::uint64_t duration_ms,
                                             std::string_view why) {
    const unsigned connections_before = connections_allowed();
    _suspended_until_ms = now_ms + std::max<std::uint64_t>(1, duration_ms);
    ++_counts.suspensions;
    return make_change(change_kind::suspend, connections_before, _rate_permille,
                       std::string(why) + ": suspended for " +
                           std::to_string(duration_ms / 1000) + "s");
}

throttle_change throttle_controller::resume(std::uint64_t, std::string_view why) {
    if (!suspended()) return {};
    _suspended_until_ms = 0;
    _consecutive_failures = 0;
    _successes_in_round = 0;
    ++_counts.resumptions;
    return make_change(change_kind::resume, 0, _rate_permille,
                       std::string(why) + ": resumed at " +
                           values_text(_connections, _rate_permille));
}

throttle_change throttle_controller::tick(std::uint64_t now_ms) {
    if (!suspended() || now_ms < _suspended_until_ms) return {};
    // After a suspension the receiver is probed gently: from the floor.
    _connections = floor_connections();
    _rate_permille = floor_permille();
    return resume(now_ms, "suspension over");
}

}  // namespace ringmta::queue
