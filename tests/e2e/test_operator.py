#!/usr/bin/env python3
"""Operator control of a running ringmta (issue 6): ringmta-ctl and curl against
the daemon's admin endpoint ([admin] listen), with 2 shards and a counting
receiver (tests/lib/smtp_receiver.py) on loopback.

Checks: a suspended domain receives nothing until it is resumed, then all of its
mail, once, while other domains flow; a suspension --for a time ends by itself;
`queue` shows the queued, suspended domain and the last error of a deferring
one; `retry` makes deferred mail due now; `delete --sender` drops queued mail
without DSNs and `bounce --domain` fails it with DSNs to the sender; `metrics`
and `curl /metrics` parse as Prometheus text (prometheus_client's parser) and
count what was delivered; a bad command and an unknown domain fail as the
manual says. Prints "ok - name" / "not ok - name: reason"; the last line is
"N passed, N failed". Every wait is bounded; loopback only.
"""

import json
import os
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from peers import check_failed, expect, free_port, run_checks  # noqa: E402
from relay_context import relay_context  # noqa: E402

ARRIVAL_TIMEOUT_S = 30
CTL_TIMEOUT_S = 30
# How long a suspended domain is watched for mail that should not come.
QUIET_WATCH_S = 2.5


def submit(relay, sender, recipients, subject):
    """One message over its own connection (so the kernel spreads them over
    both shards' listeners)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg.set_content("operator test: %s\n" % subject)
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as s:
        refused = s.send_message(msg, from_addr=sender, to_addrs=recipients)
        expect(not refused, "refused: %r" % refused)


def arrived_for(sink, domain):
    return [m for m in sink.received() if any(r.endswith("@" + domain) for r in m.rcpt_to)]


def wait_arrived(sink, domain, count, timeout_s=ARRIVAL_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = arrived_for(sink, domain)
        if len(got) >= count:
            return got
        time.sleep(0.05)
    raise check_failed("%d of %d messages for %s arrived in %d s"
                       % (len(arrived_for(sink, domain)), count, domain, timeout_s))


def expect_none_for(sink, domain, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = arrived_for(sink, domain)
        expect(not got, "%d message(s) for suspended %s arrived" % (len(got), domain))
        time.sleep(0.05)


class context(relay_context):
    """relay_context whose ringmta serves [admin] listen, and ringmta-ctl for it."""

    def __init__(self, build_root, workdir):
        super().__init__(build_root, workdir)
        self.ctl_exe = os.path.join(build_root, "tools", "ctl", "ringmta-ctl")
        self.admin = None

    def relay(self, routes, extra=""):
        self.admin = "127.0.0.1:%d" % free_port()
        r = super().relay(routes, '[admin]\nlisten = "%s"\n' % self.admin + extra)
        self.wait_admin()
        return r

    def wait_admin(self):
        # The endpoint opens once every shard has started (a moment after SMTP).
        deadline = time.monotonic() + CTL_TIMEOUT_S
        while time.monotonic() < deadline:
            rc, _, _ = self.ctl("queue", check=False)
            if rc != 3:
                return
            time.sleep(0.05)
        raise check_failed("the admin endpoint %s never answered" % self.admin)

    def ctl(self, *args, check=True):
        p = subprocess.run([self.ctl_exe, "--admin", self.admin] + list(args),
                           capture_output=True, timeout=CTL_TIMEOUT_S)
        out, err = p.stdout.decode(), p.stderr.decode()
        if check:
            expect(p.returncode == 0, "ringmta-ctl %s: exit %d: %s%s"
                   % (" ".join(args), p.returncode, out, err))
        return p.returncode, out, err

    def queue(self):
        _, out, _ = self.ctl("queue", "--json")
        return {d["domain"]: d for d in json.loads(out)["domains"]}


def parse_metrics(text):
    """Samples by (name, sorted labels); raises ValueError on text that is not
    Prometheus text format."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        # A python3 other than Debian's first on PATH (pyenv, a venv): the
        # package is pure Python, so Debian's copy (tools/dev installs it) serves.
        sys.path.append("/usr/lib/python3/dist-packages")
        from prometheus_client.parser import text_string_to_metric_families
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def check_suspend_holds_mail_until_resumed(ctx):
    sink = ctx.receiver()
    hop = "127.0.0.1:%d" % sink.port
    # held.example has a budget (the throttles' path); plain.example a route of
    # its own without limits (the pools' path): a suspension holds both.
    relay = ctx.relay({"held.example": hop, "plain.example": hop, "free.example": hop},
                      '[domains."held.example"]\nmax_connections = 2\n')
    for domain in ("held.example", "plain.example"):
        _, out, _ = ctx.ctl("suspend", domain)
        expect(out.startswith("suspended: " + domain), out)
    count = 12
    for i in range(count):
        submit(relay, "sender@src.example", ["user%d@held.example" % i], "held %d" % i)
        submit(relay, "sender@src.example", ["user%d@plain.example" % i], "plain %d" % i)
    submit(relay, "sender@src.example", ["someone@free.example"], "free")
    wait_arrived(sink, "free.example", 1)
    expect_none_for(sink, "held.example", QUIET_WATCH_S)
    expect(not arrived_for(sink, "plain.example"), "mail for suspended plain.example arrived")
    q = ctx.queue()
    for domain in ("held.example", "plain.example"):
        d = q.get(domain)
        expect(d is not None and d["queued"] == count and d["suspended"],
               "queue for %s: %r" % (domain, d))
    expect(q["held.example"]["connections_max"] == 2, "held.example: %r" % q["held.example"])
    _, table, _ = ctx.ctl("queue")
    expect(any(line.startswith("held.example") and "suspended" in line
               for line in table.splitlines()), table)
    for domain in ("held.example", "plain.example"):
        _, out, _ = ctx.ctl("resume", domain)
        expect(out.startswith("resumed: " + domain), out)
        got = wait_arrived(sink, domain, count)
        recipients = sorted(r for m in got for r in m.rcpt_to)
        expect(recipients == sorted("user%d@%s" % (i, domain) for i in range(count)),
               "%s: %r" % (domain, recipients))
    rc, _, err = ctx.ctl("resume", "held.example", check=False)
    expect(rc == 1 and "not suspended" in err, "resume again: %d %s" % (rc, err))
    expect(relay.stop() == 0, "ringmta did not exit 0 on SIGTERM")


def check_timed_suspension_ends(ctx):
    sink = ctx.receiver()
    relay = ctx.relay({"later.example": "127.0.0.1:%d" % sink.port})
    ctx.ctl("suspend", "later.example", "--for", "3s")
    started = time.monotonic()
    for i in range(3):
        submit(relay, "sender@src.example", ["user%d@later.example" % i], "later %d" % i)
    expect_none_for(sink, "later.example", 1.5)
    wait_arrived(sink, "later.example", 3, timeout_s=15)
    waited = time.monotonic() - started
    expect(2.5 <= waited <= 10, "mail arrived %.2f s after a 3 s suspension" % waited)
    expect(relay.stop() == 0, "ringmta did not exit 0 on SIGTERM")
    print("# suspended --for 3s: the mail arrived after %.2f s" % waited)


def check_retry_and_last_error(ctx):
    sink = ctx.sink("deferring", "--data-reply", "451 4.3.0 Try later please",
                    "--reply-count", "4")
    relay = ctx.relay({"slow.example": "127.0.0.1:%d" % sink.port},
                      '[delivery]\nretry_min = "1h"\nretry_max = "2h"\n')
    for i in range(4):
        submit(relay, "sender@src.example", ["user%d@slow.example" % i], "slow %d" % i)
    sink.wait_stats(lambda s: s["rejected"] >= 4)
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    d = {}
    while time.monotonic() < deadline:
        d = ctx.queue().get("slow.example", {})
        if d.get("deferred") == 4:
            break
        time.sleep(0.05)
    expect(d.get("deferred") == 4 and d.get("queued") == 4, "queue: %r %s" % (d, ctx.ctl("queue", "--json")[1]))
    expect("451 4.3.0 Try later please" in d.get("last_error", ""), "last error: %r" % d)
    _, out, _ = ctx.ctl("retry", "slow.example")
    expect("(4 recipients affected)" in out, out)
    stats = sink.wait_stats(lambda s: s["messages"] >= 4)
    expect(stats["messages"] == 4, "sink: %r" % stats)
    rc, _, err = ctx.ctl("retry", "nothing-here.example", check=False)
    expect(rc == 1 and "no mail queued" in err, "retry unknown: %d %s" % (rc, err))
    expect(relay.stop() == 0, "ringmta did not exit 0 on SIGTERM")


def check_delete_and_bounce(ctx):
    sink = ctx.receiver()
    hop = "127.0.0.1:%d" % sink.port
    relay = ctx.relay({"doomed.example": hop, "src.example": hop})
    ctx.ctl("suspend", "doomed.example")
    for i in range(3):
        submit(relay, "keep@src.example", ["a%d@doomed.example" % i], "bounce me %d" % i)
    for i in range(2):
        submit(relay, "drop@src.example", ["b%d@doomed.example" % i, "b%d@src.example" % i],
               "delete me %d" % i)
    # The copies for src.example (not suspended) arrive; doomed.example's wait.
    wait_arrived(sink, "src.example", 2)
    expect(ctx.queue()["doomed.example"]["queued"] == 5, "queue: %r" % ctx.queue())
    _, out, _ = ctx.ctl("delete", "--sender", "drop@src.example")
    expect("(2 recipients affected)" in out, out)
    _, out, _ = ctx.ctl("bounce", "--domain", "doomed.example")
    expect("(3 recipients affected)" in out, out)
    # One DSN per bounced message, to keep@src.example; none for the deleted ones.
    dsns = wait_arrived(sink, "src.example", 2 + 3)
    reports = [m for m in dsns if m.rcpt_to == ["keep@src.example"]]
    expect(len(reports) == 3, "%d DSNs to the sender of the bounced mail" % len(reports))
    expect(all(b"bounced by the operator" in m.data for m in reports), reports[0].data[:2000])
    expect(not [m for m in sink.received() if m.rcpt_to == ["drop@src.example"]],
           "a DSN for deleted mail")
    expect(ctx.queue().get("doomed.example", {}).get("queued", 0) == 0, "%r" % ctx.queue())
    lines = relay.wait_accounting(
        lambda ls: sum(1 for l in ls if l["status"] == "failed") >= 5, "5 failed outcomes")
    replies = sorted(l["reply"] for l in lines if l["status"] == "failed")
    expect(replies == ["bounced by the operator"] * 3 + ["deleted by the operator"] * 2,
           "accounting replies: %r" % replies)
    ctx.ctl("resume", "doomed.example")
    expect_none_for(sink, "doomed.example", 1.0)
    rc, _, err = ctx.ctl("bounce", "--sender", "nobody@src.example", check=False)
    expect(rc == 1, "bounce with no match: %d %s" % (rc, err))
    expect(relay.stop() == 0, "ringmta did not exit 0 on SIGTERM")


def check_metrics_parse_and_count(ctx):
    sink = ctx.receiver()
    relay = ctx.relay({"counted.example": "127.0.0.1:%d" % sink.port},
                      '[domains."counted.example"]\nmax_connections = 3\n'
                      'message_rate = "1000/s"\nmax_deliveries_per_day = 5000\n')
    count = 7
    for i in range(count):
        submit(relay, "sender@src.example", ["user%d@counted.example" % i], "count %d" % i)
    wait_arrived(sink, "counted.example", count)
    url = "http://%s/metrics" % ctx.admin
    p = subprocess.run(["curl", "-sS", "--max-time", "20", "-D", "-", url],
                       capture_output=True, timeout=CTL_TIMEOUT_S)
    expect(p.returncode == 0, "curl: %s" % p.stderr.decode())
    head, _, body = p.stdout.decode().partition("\r\n\r\n")
    expect(head.startswith("HTTP/1.1 200") and "text/plain; version=0.0.4" in head, head)
    # The counters settle a moment after the receiver has the mail.
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    samples = parse_metrics(body)
    key = ("ringmta_delivered_total", (("domain", "counted.example"),))
    while samples.get(key) != count and time.monotonic() < deadline:
        time.sleep(0.1)
        _, body, _ = ctx.ctl("metrics")
        samples = parse_metrics(body)
    expect(samples.get(key) == count, "delivered_total %r, want %d" % (samples.get(key), count))
    expect(samples.get(("ringmta_connections_opened_total", (("domain", "counted.example"),)),
                       0) >= 1, "no connection counted")
    expect(samples.get(("ringmta_delivery_seconds_count", ())) == count,
           "delivery_seconds_count %r" % samples.get(("ringmta_delivery_seconds_count", ())))
    # The budget's owner reports what the adaptive backoff allows now.
    expect(samples.get(("ringmta_connections_allowed", (("domain", "counted.example"),))) == 3,
           "connections_allowed: %r" % {k: v for k, v in samples.items()
                                        if k[0] == "ringmta_connections_allowed"})
    expect(samples.get(("ringmta_message_rate_allowed_per_second",
                        (("domain", "counted.example"),))) == 1000, "rate_allowed")
    expect(samples.get(("ringmta_queued_recipients", (("domain", "counted.example"),))) == 0,
           "queued gauge")
    # /queue has the owner's limits: configured, allowed now, and the day's count.
    d = ctx.queue()["counted.example"]
    expect(d["connections_max"] == 3 and d["connections_allowed"] == 3 and
           d["rate_limit"] == "1000/s" and d["rate_allowed_per_second"] == 1000 and
           d["daily_cap"] == 5000 and count <= d["deliveries_today"] <= 5000 and
           d["queued"] == 0 and not d["suspended"], "queue: %r" % d)
    rc, _, err = ctx.ctl("frobnicate", check=False)
    expect(rc == 2, "unknown command: exit %d %s" % (rc, err))
    expect(relay.stop() == 0, "ringmta did not exit 0 on SIGTERM")


CHECKS = [check_suspend_holds_mail_until_resumed, check_timed_suspension_ends,
          check_retry_and_last_error, check_delete_and_bounce, check_metrics_parse_and_count]

if __name__ == "__main__":
    sys.exit(run_checks(CHECKS, context, "ringmta-operator-"))
