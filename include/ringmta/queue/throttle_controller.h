// Adaptive backoff for one destination budget (a domain or a group), AIMD as TCP
// does it: a throttling signal (421, a refused or timed-out connection, a reply
// matching a configured pattern) halves the allowed concurrency and rate, at most
// once per decrease_holdoff_ms (a burst of 421s from one overload is one signal),
// never below the floor; a round of successes (as many as connections are
// allowed) adds back one connection and a tenth of the rate, up to the
// configured limits. suspend_after throttling signals in a row suspend the
// destination for suspend_time; it comes back at the floor and climbs again.
//
// Pure: no I/O, time passed in, nothing allocated unless a change happens (the
// reason string). Lives with the budget's owner (lease.h), which turns the
// allowed values into the budget it lends; borrowers report outcomes to it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringmta::queue {

// What one attempt's result says about the receiver's appetite.
enum class throttle_signal : std::uint8_t {
    success,     // a 2xx to a transaction (or a clean connection set-up)
    reply_421,   // 421: the receiver is closing on us
    refused,     // connection refused or reset before the greeting
    timeout,     // connect, greeting or reply timeout
    pattern,     // a non-2xx reply containing a configured pattern
    neutral,     // any other failure (5xx, a 4xx without a pattern): no change
};
const char* throttle_signal_name(throttle_signal signal);

// The signal of an SMTP reply: success for 2xx, reply_421 for 421, pattern when
// the text contains one of `patterns` (lower case; text matched ignoring case),
// else neutral. Allocates nothing.
throttle_signal classify_reply(int code, std::string_view text,
                               std::span<const std::string> patterns);

struct controller_settings {
    unsigned connections_max = 1;            // configured max_connections, >= 1
    std::uint64_t rate_count = 0;            // configured message_rate; 0: unlimited
    std::uint64_t rate_period_ms = 0;
    unsigned floor_percent = 10;             // 1..100
    unsigned suspend_after = 10;             // 0: never
    std::uint64_t suspend_ms = 600'000;
    std::uint64_t decrease_holdoff_ms = 1000;
};

enum class change_kind : std::uint8_t { none, decrease, increase, suspend, resume };
const char* change_kind_name(change_kind kind);

// One change of the allowed values, for the log line and the metrics.
struct throttle_change {
    change_kind kind = change_kind::none;
    unsigned connections_before = 0, connections_after = 0;
    unsigned rate_permille_before = 0, rate_permille_after = 0;  // of the configured rate
    std::string reason;                      // "421 from the receiver: connections 8 -> 4"
    bool changed() const { return kind != change_kind::none; }
};

struct controller_counts {
    std::uint64_t successes = 0, throttles = 0, decreases = 0, increases = 0;
    std::uint64_t suspensions = 0, resumptions = 0;
};

class throttle_controller {
public:
    explicit throttle_controller(const controller_settings& settings);

    // The outcome of one attempt at now_ms (monotonic).
    throttle_change report(throttle_signal signal, std::uint64_t now_ms);
    // Operator control: suspend until now + duration_ms, or resume at once.
    throttle_change suspend(std::uint64_t now_ms, std::uint64_t duration_ms,
                            std::string_view why);
    throttle_change resume(std::uint64_t now_ms, std::string_view why);
    // Ends a suspension whose time has come (call before using the values).
    throttle_change tick(std::uint64_t now_ms);

    bool suspended() const { return _suspended_until_ms != 0; }
    std::uint64_t suspended_until_ms() const { return _suspended_until_ms; }
    // 0 while suspended.
    unsigned connections_allowed() const { return suspended() ? 0 : _connections; }
    // The allowed message rate as count per the configured period; 0 with an
    // unlimited configured rate (and while suspended: check suspended()).
    std::uint64_t rate_allowed() const;
    unsigned rate_permille() const { return _rate_permille; }
    unsigned consecutive_failures() const { return _consecutive_failures; }
    const controller_counts& counts() const { return _counts; }
    const controller_settings& settings() const { return _settings; }
    // New configured limits (a reload); the current values are clamped to them.
    void reconfigure(const controller_settings& settings);

private:
    throttle_change decrease(throttle_signal signal, std::uint64_t now_ms);
    throttle_change increase();
    throttle_change make_change(change_kind kind, unsigned connections_before,
                                unsigned permille_before, std::string reason);
    unsigned floor_connections() const;
    unsigned floor_permille() const;

    controller_settings _settings;
    unsigned _connections;
    unsigned _rate_permille = 1000;
    unsigned _consecutive_failures = 0;
    unsigned _successes_in_round = 0;
    std::uint64_t _last_decrease_ms = 0;
    bool _decreased_once = false;
    std::uint64_t _suspended_until_ms = 0;
    controller_counts _counts;
};

}  // namespace ringmta::queue
