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
A message with 10 recipients at a domain with
max_recipients_per_message 3 arrives as 4 transactions (3, 3, 3, 1), each
recipient once, while its 4 recipients at another domain go in one.
A max_deliveries_per_day of 30 lets exactly 30 of 80 messages through from
both shards, logs the cap once and keeps the rest queued (a restart without the
cap delivers them, each once); a 25-recipient message under a cap of 10 goes
out cut to 10.
A connection_rate of 10/s with one message per connection holds within 5%
over a 12 s window, counted at the receiver's accepts.
With delivery.source_address 127.0.0.1, [sources."127.0.0.1"] max_connections
= 2 caps two domains without limits of their own together at 2 connections,
and a [domains."x".sources."127.0.0.1"] max_connections = 1 holds for x.
Two domains routed by MX through dnsmasq on loopback, whose exchangers match a
group's mx pattern, share its max_connections of 2 (each is logged joining it).
Prints "ok - name" / "not ok - name: reason"; the last line is
"N passed, N failed". Every wait is bounded; loopback only.
"""

import os
import re
import smtplib
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from dns_server import dnsmasq  # noqa: E402
from peers import check_failed, expect, run_checks  # noqa: E402
from relay_context import (DELIVERY_TIMEOUT_S, background_blast, blast,  # noqa: E402
                           relay_context, wait_received)

# Client connections for checks that need both shards to queue mail: the kernel
# spreads them over the shards' SO_REUSEPORT listeners by a hash, and all 24 land
# on one shard once in 2^23 (ringmta-blast lets every connection send, even one
# a busy shard greets late).
SPREAD_CONNECTIONS = 24
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
    blast(ctx, relay, count, "limited%u.example", connections=SPREAD_CONNECTIONS)
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
    blast(ctx, relay, count, "free%u.example", connections=SPREAD_CONNECTIONS)
    messages = wait_received(sink, count)
    expect_all_once(messages, count, "free0.example")
    expect(3 < sink.peak <= 20, "%d connections at once for a domain without limits"
           % sink.peak)
    expect_both_shards(relay)
    print("# no limits: peak %d connections" % sink.peak)


def rate_over_window(times, warmup):
    """Events per second from times[warmup] to the last, the window's length in
    seconds, and the most events in one second of it."""
    window_s = times[-1] - times[warmup]
    per_second = {}
    for t in times[warmup:]:
        per_second[int(t - times[warmup])] = per_second.get(int(t - times[warmup]), 0) + 1
    return (len(times) - 1 - warmup) / window_s, window_s, max(per_second.values())


def blast_through(ctx, name, limits, count):
    """A relay routing <name>0.example to a new receiver, with `limits` in its
    [domains] entry; `count` messages blasted to it, all arrived, each once.
    Returns (receiver, relay, messages)."""
    sink = ctx.receiver()
    domain = name + "0.example"
    relay = ctx.relay({domain: "127.0.0.1:%d" % sink.port},
                      '[domains."%s"]\n%s' % (domain, limits))
    blast(ctx, relay, count, name + "%u.example", connections=SPREAD_CONNECTIONS)
    messages = wait_received(sink, count)
    expect_all_once(messages, count, domain)
    return sink, relay, messages


def check_message_rate_across_shards(ctx):
    count = 1050   # a 20 s window at 50/s after the warm-up
    sink, relay, messages = blast_through(ctx, "rated", 'max_connections = 3\n'
                                          'message_rate = "50/s"\n', count)
    times = sorted(m.arrived for m in messages)
    if os.environ.get("THROTTLE_DEBUG"):
        print("# per 0.5 s: %r" % [sum(1 for t in times if int((t - times[0]) * 2) == k)
                                  for k in range(int((times[-1] - times[0]) * 2) + 1)])
    measured, window_s, busiest = rate_over_window(times, RATE_WARMUP_MESSAGES)
    expect(window_s >= 15, "the window is only %.2f s" % window_s)
    expect(abs(measured - 50) <= 50 * 0.05, "%.2f messages/s over %.2f s for message_rate 50/s"
           % (measured, window_s))
    # No second of the window runs far ahead of the rate (bursts are a tenth of a second).
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


def check_recipients_per_message(ctx):
    # One message, 10 recipients at a domain taking 3 per transaction and 4 at one
    # without a limit: 4 + 1 transactions, every recipient once.
    sink = ctx.receiver()
    relay = ctx.relay({"few0.example": "127.0.0.1:%d" % sink.port,
                       "many0.example": "127.0.0.1:%d" % sink.port},
                      '[domains."few0.example"]\nmax_recipients_per_message = 3\n')
    few = ["user%d@few0.example" % i for i in range(10)]
    many = ["user%d@many0.example" % i for i in range(4)]
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.sendmail("sender@client.test", few[:5] + many + few[5:],
                   b"Subject: split\r\n\r\nten and four\r\n")
    wait_received(sink, 5)
    time.sleep(0.5)   # a duplicate or a sixth transaction would arrive by now
    messages = sink.received()
    by_domain = {}
    for m in messages:
        domains = {r.split("@")[1] for r in m.rcpt_to}
        expect(len(domains) == 1, "one transaction for two domains: %r" % m.rcpt_to)
        by_domain.setdefault(domains.pop(), []).append(len(m.rcpt_to))
    expect(sorted(by_domain.get("few0.example", [])) == [1, 3, 3, 3],
           "transactions to few0.example carried %r recipients" % by_domain)
    expect(by_domain.get("many0.example") == [4], "transactions to many0.example carried %r"
           % by_domain)
    arrived = sorted(r for m in messages for r in m.rcpt_to)
    expect(arrived == sorted(few + many), "recipients arrived: %r" % arrived)
    expect(relay.stop() == 0, "ringmta did not exit 0 on SIGTERM")
    print("# max_recipients_per_message 3: 10 recipients in transactions of %r"
          % by_domain["few0.example"])


def wait_log(relay, pattern, timeout_s=DELIVERY_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.findall(pattern, relay.log())
        if found:
            return found
        time.sleep(0.05)
    raise check_failed("the log never said %r: %s" % (pattern, relay.log()[-1500:]))


def check_daily_cap_across_shards(ctx):
    # Both shards queue mail for a domain with a daily cap of 30: exactly 30
    # arrive, the rest waits for the next UTC day (logged once), and nothing is
    # lost: restarted without the cap, the rest arrives, every recipient once.
    # One message with 25 recipients for a domain capped at 10 goes out cut to
    # the 10 the day allows.
    sink = ctx.receiver()
    relay = ctx.relay({"capped0.example": "127.0.0.1:%d" % sink.port,
                       "cut.example": "127.0.0.1:%d" % sink.port},
                      '[domains."capped0.example"]\nmax_deliveries_per_day = 30\n'
                      '[domains."cut.example"]\nmax_deliveries_per_day = 10\n')
    count, cap = 80, 30
    cut = ["user%d@cut.example" % i for i in range(25)]
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.sendmail("sender@client.test", cut, b"Subject: cut\r\n\r\n25 recipients\r\n")
    blast(ctx, relay, count, "capped%u.example", connections=SPREAD_CONNECTIONS)
    wait_received(sink, cap + 1)
    for domain, limit in (("capped0", 30), ("cut", 10)):
        wait_log(relay, r"throttle %s\.example: daily cap of %d deliveries reached"
                 % (domain, limit))
    time.sleep(1.5)   # more than the caps would have arrived by now
    arrived = [r for m in sink.received() for r in m.rcpt_to]
    for domain, limit in (("capped0", 30), ("cut", 10)):
        day = [r for r in arrived if r.endswith("@%s.example" % domain)]
        expect(len(day) == limit and len(set(day)) == limit,
               "%d recipients (%d distinct) at %s.example for a daily cap of %d"
               % (len(day), len(set(day)), domain, limit))
        expect(len(re.findall(r"%s\.example: daily cap of \d+ deliveries reached" % domain,
                              relay.log())) == 1, "the cap was not logged once")
    accepted = expect_both_shards(relay)
    with open(relay.config_path) as f:
        text = f.read()
    with open(relay.config_path, "w") as f:
        f.write(re.sub(r"max_deliveries_per_day = \d+", "max_deliveries_per_day = 0", text))
    relay.start()
    messages = [m for m in wait_received(sink, count + 2)
                if m.rcpt_to[0].endswith("@capped0.example")]
    expect_all_once(messages, count, "capped0.example")
    arrived = sorted(r for m in sink.received() for r in m.rcpt_to if r.endswith("@cut.example"))
    expect(arrived == sorted(cut), "%d recipients at cut.example in all" % len(arrived))
    expect(relay.stop() == 0, "ringmta did not exit 0 on SIGTERM")
    print("# max_deliveries_per_day 30: %d of %d delivered on the day (accepted per shard "
          "%r); 10 of 25 recipients of one message; the rest after a restart without the cap"
          % (cap, count, accepted))


def check_connection_rate_across_shards(ctx):
    # One message per connection: a connection_rate of 10/s paces the
    # connections both shards open together, counted where they are accepted.
    count = 130   # a 12 s window at 10/s after the warm-up
    sink, relay, _ = blast_through(ctx, "dialed", 'connection_rate = "10/s"\n'
                                   'max_messages_per_connection = 1\n', count)
    with sink.lock:
        opened = sorted(sink.accepted)
    expect(len(opened) == count, "%d connections for %d messages, one each"
           % (len(opened), count))
    # The first 10 left out: the first grant and the shares' bursts.
    measured, window_s, busiest = rate_over_window(opened, 10)
    expect(window_s >= 10, "the window is only %.2f s" % window_s)
    expect(abs(measured - 10) <= 10 * 0.05, "%.2f connections/s over %.2f s for "
           "connection_rate 10/s" % (measured, window_s))
    expect(busiest <= 13, "%d connections in one second for connection_rate 10/s" % busiest)
    accepted = expect_both_shards(relay)
    print("# connection_rate 10/s: %.2f connections/s over %.2f s, busiest second %d, "
          "accepted per shard %r" % (measured, window_s, busiest, accepted))


def check_source_limits_across_domains(ctx):
    # delivery.source_address with [sources."127.0.0.1"] max_connections = 2:
    # src0 and src1, without limits of their own, share 2 connections (one
    # receiver counts them together); src2 from that address also has
    # [domains."src2.example".sources."127.0.0.1"] max_connections = 1 (another
    # receiver counts it). Slow receivers, so that connections pile up.
    shared = ctx.receiver(data_delay_s=0.005)
    paired = ctx.receiver(data_delay_s=0.005)
    relay = ctx.relay({"src0.example": "127.0.0.1:%d" % shared.port,
                       "src1.example": "127.0.0.1:%d" % shared.port,
                       "src2.example": "127.0.0.1:%d" % paired.port},
                      '[delivery]\nsource_address = "127.0.0.1"\n'
                      '[sources."127.0.0.1"]\nmax_connections = 2\n'
                      '[domains."src2.example".sources."127.0.0.1"]\nmax_connections = 1\n')
    count = 900
    blast(ctx, relay, count, "src%u.example", domains=3, connections=SPREAD_CONNECTIONS)
    wait_received(shared, count * 2 // 3)
    messages = wait_received(paired, count // 3)
    recipients = sorted(r for m in shared.received() + messages for r in m.rcpt_to)
    expect(len(recipients) == count and len(set(recipients)) == count,
           "%d recipients arrived, %d distinct, want %d" % (len(recipients),
                                                            len(set(recipients)), count))
    expect(shared.peak <= 2, "%d connections at once from a source with max_connections = 2"
           % shared.peak)
    expect(shared.peak == 2, "the two domains never had 2 connections at once: %d"
           % shared.peak)
    expect(paired.peak == 1, "%d connections at once to src2.example from the source, "
           "max_connections = 1" % paired.peak)
    accepted = expect_both_shards(relay)
    print("# [sources] max_connections 2: peak %d for two domains; src2 from the source: "
          "peak %d; accepted per shard %r" % (shared.peak, paired.peak, accepted))


def check_group_by_mx_pattern(ctx):
    # grp0.test and grp1.test are routed by MX (dnsmasq on loopback): their
    # exchangers mx0/mx1.mail.grp.test match [groups."grp"] mx = "*.mail.grp.test",
    # so both draw on the group's max_connections of 2, found once the MX
    # lookup answered. One slow receiver is both exchangers.
    sink = ctx.receiver(data_delay_s=0.005)
    records = []
    for i in range(2):
        records += ["--mx-host=grp%d.test,mx%d.mail.grp.test,10" % (i, i),
                    "--host-record=mx%d.mail.grp.test,127.0.0.1" % i]
    dns = dnsmasq(ctx.workdir, records)
    ctx.cleanup.append(dns.stop)
    relay = ctx.relay({}, '[delivery]\nport = %d\n[groups."grp"]\nmx = ["*.mail.grp.test"]\n'
                      'max_connections = 2\n' % sink.port, dns=dns.address)
    count = 600
    blast(ctx, relay, count, "grp%u.test", domains=2, connections=SPREAD_CONNECTIONS)
    messages = wait_received(sink, count)
    recipients = sorted(r for m in messages for r in m.rcpt_to)
    expect(len(recipients) == count and len(set(recipients)) == count,
           "%d recipients arrived, %d distinct, want %d" % (len(recipients),
                                                            len(set(recipients)), count))
    expect(sink.peak == 2, "%d connections at once for two domains in a group by MX with "
           "max_connections = 2" % sink.peak)
    joined = set(re.findall(r"delivery: (grp\d\.test) joins group:grp", relay.log()))
    expect(joined == {"grp0.test", "grp1.test"}, "domains that joined the group: %r" % joined)
    accepted = expect_both_shards(relay)
    print("# group by MX pattern, max_connections 2: peak %d for two domains, accepted per "
          "shard %r" % (sink.peak, accepted))


CHECKS = [check_connection_limit_across_shards, check_unlimited_domain_keeps_split,
          check_message_rate_across_shards, check_421_shrinks_the_budget,
          check_rate_recovers_after_421s_stop, check_recipients_per_message,
          check_daily_cap_across_shards, check_connection_rate_across_shards,
          check_source_limits_across_domains, check_group_by_mx_pattern]

if __name__ == "__main__":
    sys.exit(run_checks(CHECKS, relay_context, "ringmta-throttle-"))
