#!/usr/bin/env python3
"""ringmta-ctl against the admin endpoint.

Runs admin_test_server (the real admin_server; its backend records each call)
and ringmta-ctl as an operator would: every command, the arguments that reach
the backend, the table and messages printed, and the exit status for each kind
of failure: 1 refused by the daemon, 2 bad arguments (nothing sent), 3 daemon
unreachable or not speaking HTTP. Prints "ok - name" / "not ok - name: why",
then "N passed, N failed".
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from admin_harness import admin_server, run_checks  # noqa: E402
from peers import check_failed, expect, free_port  # noqa: E402

RUN_TIMEOUT_S = 20


class context:
    def __init__(self, ctl, server):
        self.ctl = ctl
        self.server = server

    def run(self, *args, admin=True, env=None):
        cmd = [self.ctl] + (["--admin", self.server.address] if admin else []) + list(args)
        p = subprocess.run(cmd, capture_output=True, timeout=RUN_TIMEOUT_S, env=env)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def run_and_calls(self, *args):
        before = len(self.server.calls())
        rc, out, err = self.run(*args)
        return rc, out, err, self.server.calls()[before:]


def check_queue_table(ctx):
    rc, out, err = ctx.run("queue")
    expect(rc == 0, "rc %d: %s" % (rc, err))
    lines = out.splitlines()
    expect(lines[0].split()[:4] == ["DOMAIN", "QUEUED", "IN-FLIGHT", "DEFERRED"], lines[0])
    expect(lines[1].split()[:4] == ["group:google", "1200", "40", "300"], lines[1])
    expect("8/8 of 40" in lines[1] and "62.5 (5000/h)" in lines[1], lines[1])
    expect('last error: 421 4.7.0 Try again later, "closing"' in lines[2], lines[2])
    expect(lines[3].startswith("yahoo.com") and
           "suspended until 2026-11-18T11:06:40.000Z" in lines[3], lines[3])


def check_queue_json_and_metrics(ctx):
    rc, out, _ = ctx.run("queue", "--json")
    expect(rc == 0 and json.loads(out)["domains"][0]["queued"] == 1200, out[:200])
    rc, out, _ = ctx.run("metrics")
    expect(rc == 0 and 'ringmta_delivered_total{domain="gmail.com"} 42\n' in out, out[:200])


def check_actions(ctx):
    cases = [(["suspend", "gmail.com", "--for", "1h"], "suspend gmail.com 3600000",
              "suspended: gmail.com (1 recipients affected)"),
             (["suspend", "group:google"], "suspend group:google 0", "suspended: group:google"),
             (["resume", "gmail.com"], "resume gmail.com", "resumed: gmail.com"),
             (["retry", "x.example"], "retry x.example", "5 recipients due now: x.example (5 recipients affected)"),
             (["bounce", "--domain", "Example.org"], "bounce domain=example.org sender=",
              "3 recipients bounced"),
             (["delete", "--sender", "a b@c.example"], "delete domain= sender=a b@c.example",
              "2 recipients deleted")]
    for args, call, printed in cases:
        rc, out, err, calls = ctx.run_and_calls(*args)
        expect(rc == 0, "%r: rc %d %s" % (args, rc, err))
        expect(calls == [call], "%r: calls %r" % (args, calls))
        expect(printed in out, "%r: printed %r" % (args, out))


def check_refused(ctx):
    rc, out, err, calls = ctx.run_and_calls("resume", "unknown.example")
    expect(rc == 1, "rc %d" % rc)
    expect(err.strip() == "ringmta-ctl: the daemon answered 404: no mail queued for "
           "unknown.example", repr(err))
    expect(calls == ["resume unknown.example"], repr(calls))
    rc, _, err, calls = ctx.run_and_calls("retry", "bad/domain")
    expect(rc == 1 and "400: not a domain: bad/domain" in err, "rc %d %r" % (rc, err))
    expect(calls == [], repr(calls))


def check_bad_arguments(ctx):
    cases = [([], "no command given"), (["frobnicate"], "unknown command"),
             (["suspend"], "give one domain"), (["suspend", "a.example", "b.example"],
                                                "give one domain"),
             (["bounce"], "exactly one of --domain and --sender"),
             (["delete", "--domain", "a.example", "--sender", "b@c"], "exactly one"),
             (["suspend", "a.example", "--for", "5x"], "not a duration"),
             (["resume", "a.example", "--for", "1h"], "--for goes with suspend only"),
             (["queue", "--domain", "a.example"], "go with bounce and delete only"),
             (["metrics", "--json"], "--json goes with queue only"),
             (["queue", "--bogus"], "unknown option --bogus"),
             (["queue", "--admin"], "--admin needs a value"),
             (["queue", "--admin", "localhost"], "not an address:port")]
    before = len(ctx.server.calls())
    for args, why in cases:
        rc, out, err = ctx.run(*args, admin=False)
        expect(rc == 2, "%r: rc %d" % (args, rc))
        expect(why in err and "usage: ringmta-ctl" in err, "%r: %r" % (args, err))
    expect(ctx.server.calls()[before:] == [], "a bad command line reached the daemon")
    rc, out, _ = ctx.run("--help", admin=False)
    expect(rc == 0 and out.startswith("usage: ringmta-ctl"), "--help: rc %d" % rc)


def check_unreachable(ctx):
    port = free_port()
    rc, _, err = ctx.run("--admin", "127.0.0.1:%d" % port, "queue", admin=False)
    expect(rc == 3, "rc %d" % rc)
    expect("cannot connect to 127.0.0.1:%d: Connection refused" % port in err and
           "is ringmta running" in err, repr(err))
    env = dict(os.environ, RINGMTA_ADMIN=ctx.server.address)
    rc, out, _ = ctx.run("queue", admin=False, env=env)
    expect(rc == 0 and "group:google" in out, "$RINGMTA_ADMIN not used: rc %d" % rc)


def check_not_http(ctx):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(RUN_TIMEOUT_S)

    def answer_garbage():
        try:
            conn, _ = listener.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"hello, this is not HTTP\r\n")
        except OSError:
            pass

    thread = threading.Thread(target=answer_garbage)
    thread.start()
    try:
        address = "127.0.0.1:%d" % listener.getsockname()[1]
        rc, _, err = ctx.run("--admin", address, "queue", admin=False)
    finally:
        thread.join(RUN_TIMEOUT_S)
        listener.close()
    expect(rc == 3 and "did not answer in HTTP" in err, "rc %d %r" % (rc, err))


CHECKS = [check_queue_table, check_queue_json_and_metrics, check_actions, check_refused,
          check_bad_arguments, check_unreachable, check_not_http]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True, help="admin_test_server")
    parser.add_argument("--ctl", required=True, help="ringmta-ctl")
    args = parser.parse_args()
    server = admin_server(args.server)
    return run_checks(CHECKS, context(args.ctl, server), server,
                      (check_failed, OSError, ValueError, KeyError, IndexError,
                       subprocess.TimeoutExpired))

if __name__ == "__main__":
    sys.exit(main())
