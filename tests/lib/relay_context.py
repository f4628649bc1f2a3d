"""What the throttle and fairness e2e tests share: a check context that starts
ringmta processes (2 shards, tests/lib/peers.py) and in-process counting
receivers (tests/lib/smtp_receiver.py), campaigns injected with ringmta-blast,
and bounded waits for arrivals. Standard library only; loopback only."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import check_context, check_failed, expect, free_port, ringmta_process  # noqa: E402
from smtp_receiver import receiver  # noqa: E402

DELIVERY_TIMEOUT_S = 60


def blast(ctx, relay, messages, domain_format, connections=12, timeout_s=60, domains=1):
    """Injects `messages` to user<i>@<domain> over `connections` client connections,
    spread over `domains` domains; returns ringmta-blast's JSON report."""
    p = subprocess.run(blast_command(ctx, relay, messages, domain_format, connections,
                                     timeout_s, domains),
                       capture_output=True, timeout=timeout_s + 60)
    expect(p.returncode == 0, "blast: %s" % p.stderr.decode()[-300:])
    return p.stdout.decode()


def blast_command(ctx, relay, messages, domain_format, connections=12, timeout_s=60,
                  domains=1):
    return [ctx.blast_exe, "--server", "127.0.0.1:%d" % relay.port,
            "--messages", str(messages), "--size", "1500",
            "--connections", str(connections), "--domains", str(domains),
            "--domain-format", domain_format, "--json", "--timeout-s", str(timeout_s)]


class background_blast:
    """ringmta-blast injecting while the check goes on (`with`: killed if the
    check leaves early); finish() waits for it and expects it to succeed."""

    def __init__(self, ctx, relay, messages, domain_format, connections=12, timeout_s=60):
        self.timeout_s = timeout_s
        self.proc = subprocess.Popen(blast_command(ctx, relay, messages, domain_format,
                                                   connections, timeout_s),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def running(self):
        return self.proc.poll() is None

    def finish(self):
        _, err = self.proc.communicate(timeout=self.timeout_s + 60)
        expect(self.proc.returncode == 0, "blast: %s" % err.decode()[-300:])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        return False


def wait_received(sink, count, timeout_s=DELIVERY_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = sink.received()
        if len(got) >= count:
            return got
        time.sleep(0.05)
    raise check_failed("%d of %d messages arrived in %d s" % (len(sink.received()), count,
                                                              timeout_s))


class relay_context(check_context):
    def __init__(self, build_root, workdir):
        super().__init__(build_root, workdir)
        self.receivers = []

    def receiver(self, data_delay_s=0):
        r = receiver("127.0.0.1", free_port(), data_delay_s=data_delay_s)
        self.receivers.append(r)
        return r

    def relay(self, routes, extra="", name=None, start=True, dns=None):
        """A ringmta (2 shards) routing `routes`; `name` reuses a folder (and so
        its spool) for a restart with another configuration; `dns`: the resolver
        ("127.0.0.1:port", a test DNS server)."""
        r = ringmta_process(self.ringmta, self.workdir, routes, extra,
                            name=name or "ringmta%d" % (len(self.processes) + 1), dns=dns)
        self.processes.append(r)
        return r.start() if start else r

    def close(self):
        super().close()
        for r in self.receivers:
            r.stop()
        self.receivers = []
