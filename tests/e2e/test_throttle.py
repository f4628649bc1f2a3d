#!/usr/bin/env python3
"""End-to-end tests of per-domain throttles held across shards (issue 6).

ringmta runs with 2 shards; ringmta-blast injects mail over many client
connections, which the kernel spreads over both shards' listeners, so both
shards queue mail for the same domain and must share its budget through the
lease protocol. The receiver is a counting SMTP sink (tests/lib/smtp_receiver.py)
that records the connections open at once (from the accept until QUIT or the
close) and each message's arrival time. Checks: a [domains] max_connections of
3 is never exceeded by both shards together, also while slots move between
them, and every message arrives once; a domain without limits still uses more
(delivery.max_connections split over the shards), so the count can see it; a
message_rate of 50/s holds within 5% over a 20 s window; 421s from the receiver
are logged as a decrease with the reason, successes grow the budget back, and
the mail arrives; while a receiver answers 421 to everything the attempts fall
well below a message_rate of 100/s, and once it stops the rate comes back to
within 10% of 100/s (measured over 5 s, from 2 s after the last 421).
Prints "ok - name" / "not ok - name: reason"; the last line is
"N passed, N failed". Every wait is bounded; loopback only.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from peers import expect, run_checks  # noqa: E402
from relay_context import (background_blast, blast, relay_context,  # noqa: E402
                           wait_received)

# Messages at the start of a rate measurement left out: the first grant and the
# shares' bursts (a tenth of a second's worth each) come before the steady rate.
RATE_WARMUP_MESSAGES = 50
# The recovery check: 421s for REFUSE_S, then RECOVER_S for the budget to climb
# back, then the rate is measured over WINDOW_S.
RECOVERY_RATE = 100
REFUSE_S = 3.0
RECOVER_S = 2.0
WINDOW_S = 5.0


def expect_all_once(messages, count, domain):
    recipients = sorted(r for m in messages for r in m.rcpt_to)
    want = sorted("user%d@%s" % (i, domain) for i in range(count))
    expect(recipients == want, "%d recipients arrived, %d distinct, want %d"
           % (len(recipients), len(set(recipients)), count))


def shards_accepted(relay):
    """Messages each shard accepted, from the shutdown lines of the log."""
    found = re.findall(r"shard (\d+) stopped: (\d+) messages accepted", relay.log())
    return {int(shard): int(n) for shard, n in found}


def expect_both_shards(relay):
    expect(relay.stop() == 0, "ringmta did not exit 0 on SIGTERM")
    accepted = shards_accepted(relay)
    expect(len(accepted) == 2 and min(accepted.values()) > 0,
           "not every shard queued mail for the domain: %r" % accepted)
    return accepted


def check_connection_limit_across_shards(ctx):
    # A slow receiver (5 ms a message): delivery takes seconds, so the slots move
    # between the shards while connections are open.
    sink = ctx.receiver(data_delay_s=0.005)
    relay = ctx.relay({"limited0.example": "127.0.0.1:%d" % sink.port},
                      '[domains."limited0.example"]\nmax_connections = 3\n')
    count = 2000
    blast(ctx, relay, count, "limited%u.example")
    messages = wait_received(sink, count)
    expect_all_once(messages, count, "limited0.example")
    expect(sink.peak <= 3, "%d connections at once for max_connections = 3" % sink.peak)
    # The budget is used, not just respected: more than one shard's share at once.
    expect(sink.peak >= 2, "at most %d connection at once" % sink.peak)
    accepted = expect_both_shards(relay)
    times = sorted(m.arrived for m in messages)
    print("# max_connections 3: peak %d connections, %d connections for %d messages in "
          "%.2f s, accepted per shard %r" % (sink.peak, sink.connections, count,
                                            times[-1] - times[0], accepted))


def check_unlimited_domain_keeps_split(ctx):
    # Proves the counting sink sees concurrency: without [domains] limits a
    # domain gets delivery.max_connections (20) split over the 2 shards.
    sink = ctx.receiver()
    relay = ctx.relay({"free0.example": "127.0.0.1:%d" % sink.port})
    count = 600
    blast(ctx, relay, count, "free%u.example")
    messages = wait_received(sink, count)
    expect_all_once(messages, count, "free0.example")
    expect(3 < sink.peak <= 20, "%d connections at once for a domain without limits"
           % sink.peak)
    expect_both_shards(relay)
    print("# no limits: peak %d connections" % sink.peak)


def check_message_rate_across_shards(ctx):
    sink = ctx.receiver()
    relay = ctx.relay({"rated0.example": "127.0.0.1:%d" % sink.port},
                      '[domains."rated0.example"]\nmax_connections = 3\n'
                      'message_rate = "50/s"\n')
    count = 1050   # a 20 s window at 50/s after the warm-up
    blast(ctx, relay, count, "rated%u.example")
    messages = wait_received(sink, count)
    expect_all_once(messages, count, "rated0.example")
    times = sorted(m.arrived for m in messages)
    if os.environ.get("THROTTLE_DEBUG"):
        print("# per 0.5 s: %r" % [sum(1 for t in times if int((t - times[0]) * 2) == k)
                                  for k in range(int((times[-1] - times[0]) * 2) + 1)])
    window_s = times[-1] - times[RATE_WARMUP_MESSAGES]
    measured = (len(times) - 1 - RATE_WARMUP_MESSAGES) / window_s
    expect(window_s >= 15, "the window is only %.2f s" % window_s)
    expect(abs(measured - 50) <= 50 * 0.05, "%.2f messages/s over %.2f s for message_rate 50/s"
           % (measured, window_s))
    # No second of the window runs far ahead of the rate (bursts are a tenth of a second).
    start = times[RATE_WARMUP_MESSAGES]
    per_second = {}
    for t in times[RATE_WARMUP_MESSAGES:]:
        per_second[int(t - start)] = per_second.get(int(t - start), 0) + 1
    busiest = max(per_second.values())
    expect(busiest <= 50 * 1.2, "%d messages in one second for message_rate 50/s" % busiest)
    expect(sink.peak <= 3, "%d connections at once for max_connections = 3" % sink.peak)
    expect_both_shards(relay)
    print("# message_rate 50/s: %.2f messages/s over %.2f s (messages %d..%d), busiest "
          "second %d, peak %d connections" % (measured, window_s, RATE_WARMUP_MESSAGES + 1,
                                              len(times), busiest, sink.peak))


def check_421_shrinks_the_budget(ctx):
    sink = ctx.sink("backoff", "--data-reply", "421 4.7.0 Try again later", "--reply-count", "3")
    relay = ctx.relay({"busy0.example": "127.0.0.1:%d" % sink.port},
                      '[domains."busy0.example"]\nmax_connections = 4\n'
                      '[delivery]\nretry_min = "1s"\n')
    count = 100
    blast(ctx, relay, count, "busy%u.example")
    stats = sink.wait_stats(lambda s: s["messages"] >= count)
    expect(stats["messages"] == count and stats["rejected"] == 3, "sink stats %r" % stats)
    expect(stats["connections_peak"] <= 4, "%d connections at once for max_connections = 4"
           % stats["connections_peak"])
    log = relay.log()
    changes = re.findall(r"throttle busy0\.example: (decrease|increase): (.*)", log)
    expect(changes and changes[0][0] == "decrease", "no decrease logged first: %s"
           % log[-1500:])
    expect(changes[0][1].startswith("421"), "the decrease gives no reason: %r"
           % (changes[0],))
    # Successes after the 421s grow the budget back.
    expect(any(kind == "increase" for kind, _ in changes[1:]), "no increase after the "
           "decrease: %r" % changes)
    expect(relay.stop() == 0, "ringmta did not exit 0 on SIGTERM")
    print("# after 421: %s; then %d change(s), the last: %s"
          % (changes[0][1], len(changes) - 1, changes[-1][1]))


def wait_until(moment):
    time.sleep(max(0.0, moment - time.monotonic()))


def check_rate_recovers_after_421s_stop(ctx):
    sink = ctx.receiver()
    sink.refuse_data(b"421 4.7.0 Try again later")
    # backoff_suspend_after = 0: 421s in a row cut the rate but never suspend
    # (a suspension lasts backoff_suspend_time: not what this measures).
    relay = ctx.relay({"recover0.example": "127.0.0.1:%d" % sink.port},
                      '[domains."recover0.example"]\nmax_connections = 4\n'
                      'message_rate = "%d/s"\nbackoff_suspend_after = 0\n'
                      '[delivery]\nretry_min = "1s"\n' % RECOVERY_RATE)
    count = 1500   # more than the 10 s of the check can deliver: the queue never runs dry
    with background_blast(ctx, relay, count, "recover%u.example") as injector:
        deadline = time.monotonic() + 30
        while not sink.refusals() and time.monotonic() < deadline:
            time.sleep(0.01)
        expect(sink.refusals(), "no message reached the receiver in 30 s")
        first_refusal = sink.refusals()[0]
        wait_until(first_refusal + REFUSE_S)
        sink.refuse_data(None)
        stopped = time.monotonic()
        injector.finish()
    # While the 421s came: attempts a second after the first second (the backoff
    # halves the rate at most once a second).
    refused = [t for t in sink.refusals() if t >= first_refusal + 1.0]
    refused_rate = len(refused) / (stopped - first_refusal - 1.0)
    expect(refused_rate < RECOVERY_RATE / 2, "%.1f attempts/s while every one got 421, "
           "for message_rate %d/s" % (refused_rate, RECOVERY_RATE))
    window_start = stopped + RECOVER_S
    wait_until(window_start + WINDOW_S + 0.2)
    arrived = [m.arrived for m in sink.received()]
    in_window = [t for t in arrived if window_start <= t < window_start + WINDOW_S]
    recovered_rate = len(in_window) / WINDOW_S
    expect(abs(recovered_rate - RECOVERY_RATE) <= RECOVERY_RATE * 0.1,
           "%.1f messages/s in the %.0f s from %.0f s after the 421s stopped, for "
           "message_rate %d/s" % (recovered_rate, WINDOW_S, RECOVER_S, RECOVERY_RATE))
    expect(len(arrived) < count, "the queue ran dry (%d of %d arrived)" % (len(arrived), count))
    changes = re.findall(r"throttle recover0\.example: (decrease|increase): (.*)", relay.log())
    expect(changes and changes[0][0] == "decrease" and changes[0][1].startswith("421"),
           "the first change logged is not a decrease for 421: %r" % changes[:3])
    decreases = [reason for kind, reason in changes if kind == "decrease"]
    expect(changes[-1][0] == "increase" and "rate 100%" in changes[-1][1],
           "the rate did not climb back to 100%%: %r" % changes[-3:])
    # For the record: how fast it climbs back, per half second after the 421s stopped.
    climb = [sum(1 for t in arrived if stopped + k / 2 <= t < stopped + (k + 1) / 2)
             for k in range(int(RECOVER_S * 2))]
    expect(relay.stop() == 0, "ringmta did not exit 0 on SIGTERM")
    print("# 421s for %.0f s: %.1f attempts/s after the first second, %d decreases (the "
          "last: %s); after they stopped: %r messages per 0.5 s, then %.1f "
          "messages/s over %.0f s from %.0f s on (message_rate %d/s), %d increases"
          % (REFUSE_S, refused_rate, len(decreases), decreases[-1], climb,
             recovered_rate, WINDOW_S, RECOVER_S, RECOVERY_RATE,
             sum(1 for kind, _ in changes if kind == "increase")))


CHECKS = [check_connection_limit_across_shards, check_unlimited_domain_keeps_split,
          check_message_rate_across_shards, check_421_shrinks_the_budget,
          check_rate_recovers_after_421s_stop]

if __name__ == "__main__":
    sys.exit(run_checks(CHECKS, relay_context, "ringmta-throttle-"))
