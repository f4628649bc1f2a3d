#!/usr/bin/env python3
"""End-to-end test of ringmta-sink and ringmta-blast against real peers.

Starts ringmta-sink on free loopback ports and talks to it with Python's smtplib,
swaks, a raw pipelining socket and ringmta-blast. Prints "ok - name" or
"not ok - name: reason" per check; the last line is "N passed, N failed".
Exit status 1 if any check failed. Standard library only; every wait is bounded
and every process started here is killed in the end.
"""

import argparse
import json
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from peers import (BLAST_TIMEOUT_S, check_failed, expect, free_port,  # noqa: E402
                   new_messages, read_replies, sink_process)
from smtp_receiver import receiver  # noqa: E402

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools")

def run_blast(ctx, sink, *args):
    cmd = [ctx.blast, "--server", "127.0.0.1:%d" % sink.port, "--json", "--timeout-s", "60"]
    cmd += [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, timeout=BLAST_TIMEOUT_S)
    out = p.stdout.decode("utf-8", "replace").strip()
    try:
        report = json.loads(out.splitlines()[-1])
    except (ValueError, IndexError):
        raise check_failed("blast printed no JSON (rc %d): %r %r" % (
            p.returncode, out, p.stderr.decode("utf-8", "replace")))
    return p.returncode, report, p.stderr.decode("utf-8", "replace")


def check_smtplib_exact_bytes(ctx):
    sink = ctx.sink
    body = (b"From: <a@x.example>\r\nTo: <b@y.example>\r\nSubject: dots and 8 bits\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n"
            b".leading dot\r\n..two leading dots\r\n.\r\nafter a lone dot\r\n"
            + "8-bit: caf\u00e9 \u00fcber \u65e5\u672c\r\n".encode("utf-8")
            + b"\xff\xfe raw high octets\r\n"
            + b"L" * 998 + b"\r\n"
            + b"last line\r\n")
    before = sink.stored()
    with smtplib.SMTP("127.0.0.1", sink.port, local_hostname="client.test", timeout=10) as s:
        refused = s.sendmail("a@x.example", ["b@y.example", "c@y.example"], body,
                             mail_options=["BODY=8BITMIME"])
    expect(refused == {}, "refused %r" % (refused,))
    [stem] = new_messages(sink, before, 1)
    envelope, stored = sink.load(stem)
    expect(stored == body, "stored %d bytes differ from the %d sent" % (len(stored), len(body)))
    expect(envelope["mail_from"] == "a@x.example", "mail_from %r" % envelope["mail_from"])
    expect(envelope["rcpt_to"] == ["b@y.example", "c@y.example"],
           "rcpt_to %r" % envelope["rcpt_to"])
    expect(envelope["helo"] == "client.test", "helo %r" % envelope["helo"])
    expect(envelope["bytes"] == len(body), "bytes %r" % envelope["bytes"])
    expect(envelope["client"].startswith("127.0.0.1:"), "client %r" % envelope["client"])


def check_swaks(ctx):
    swaks = shutil.which("swaks")
    if swaks is None:
        return "skip: swaks not installed"
    sink = ctx.sink
    before = sink.stored()
    p = subprocess.run([swaks, "--server", "127.0.0.1:%d" % sink.port, "--helo", "swaks.test",
                        "--from", "s@swaks.test", "--to", "r@swaks.test",
                        "--header", "Subject: swaks check", "--body", "hello from swaks",
                        "--timeout", "10", "--silent", "2"],
                       capture_output=True, timeout=60)
    expect(p.returncode == 0, "swaks rc %d: %s" % (p.returncode, p.stderr[-500:]))
    [stem] = new_messages(sink, before, 1)
    envelope, stored = sink.load(stem)
    expect(envelope["rcpt_to"] == ["r@swaks.test"], "rcpt_to %r" % envelope["rcpt_to"])
    expect(envelope["helo"] == "swaks.test", "helo %r" % envelope["helo"])
    expect(b"Subject: swaks check\r\n" in stored, "subject missing from %r" % stored[:300])
    expect(b"hello from swaks" in stored, "body missing")
    expect(len(stored) == envelope["bytes"], "bytes %d vs %d" % (len(stored),
                                                                 envelope["bytes"]))


def check_blast_bulk(ctx):
    sink = ctx.sink
    messages, size = 2000, 10 * 1024
    before = sink.stored()
    # The stats file lags by up to 100 ms: wait until it counts what is stored.
    start = sink.wait_stats(lambda s: s["messages"] == len(before))
    rc, report, err = run_blast(ctx, sink, "--messages", messages, "--size", size,
                                "--connections", 10, "--domains", 10)
    expect(rc == 0, "blast rc %d: %s" % (rc, err))
    expect(report["accepted"] == messages and report["failed"] == 0, "blast %r" % report)
    expect(report["messages"] == messages, "blast messages %r" % report["messages"])
    for key in ("p50", "p90", "p99", "p999", "max"):
        expect(report["latency_ms"][key] >= 0, "latency %r" % report["latency_ms"])
    stats = sink.wait_stats(lambda s: s["messages"] - start["messages"] >= messages)
    expect(stats["messages"] - start["messages"] == messages, "sink %r" % stats)
    expect(stats["bytes"] - start["bytes"] == messages * size,
           "sink bytes %d, want %d" % (stats["bytes"] - start["bytes"], messages * size))
    stems = new_messages(sink, before, messages)
    domains = set()
    dotted = 0
    for stem in stems[:200]:
        envelope, stored = sink.load(stem)
        expect(len(stored) == size, "stored %d bytes, want %d" % (len(stored), size))
        domains.add(envelope["rcpt_to"][0].split("@")[1])
        dotted += b"\r\n." in stored
    expect(len(domains) == 10, "recipient domains %r" % sorted(domains))
    expect(dotted == min(200, len(stems)), "messages without a leading-dot line")


def check_forced_data_reply(ctx):
    sink = ctx.start_sink("data-reply", "--data-reply", "451 4.3.0 Try later",
                          "--reply-count", "3")
    rc, report, err = run_blast(ctx, sink, "--messages", 10, "--size", 2000,
                                "--connections", 1)
    expect(rc != 0, "blast exited 0 although messages failed")
    expect(report["failed"] == 3 and report["accepted"] == 7, "blast %r" % report)
    expect("451 4.3.0 Try later" in err, "failure reply not reported: %r" % err)
    stats = sink.wait_stats(lambda s: s["messages"] + s["rejected"] >= 10)
    expect(stats["messages"] == 7 and stats["rejected"] == 3, "sink %r" % stats)


def check_forced_rcpt_reply(ctx):
    sink = ctx.start_sink("rcpt-reply", "--rcpt-reply", "550 5.1.1 No such user",
                          "--reply-match", "bad")
    message = b"Subject: rcpt\r\n\r\nhello\r\n"
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as s:
        refused = s.sendmail("a@x", ["bad@x", "good@x"], message)
        expect(set(refused) == {"bad@x"}, "refused %r" % (refused,))
        code, text = refused["bad@x"]
        expect(code == 550 and text.startswith(b"5.1.1"), "bad@x got %r %r" % (code, text))
        try:
            s.sendmail("a@x", ["bad@x"], message)
            raise check_failed("sending only to bad@x was accepted")
        except smtplib.SMTPRecipientsRefused as e:
            expect(e.recipients["bad@x"][0] == 550, "refusal %r" % (e.recipients,))
    stats = sink.wait_stats(lambda s: s["messages"] >= 1)
    expect(stats["messages"] == 1 and stats["recipients"] == 1, "sink %r" % stats)
    [stem] = sink.stored()
    envelope, _ = sink.load(stem)
    expect(envelope["rcpt_to"] == ["good@x"], "rcpt_to %r" % envelope["rcpt_to"])


def raw_session(sink, helo, pipelined, count):
    """Greeting and EHLO on a raw socket, then `pipelined` in one write; returns the
    codes of the next `count` replies."""
    with socket.create_connection(("127.0.0.1", sink.port), timeout=10) as sock:
        expect(read_replies(sock, 1) == [220], "no greeting")
        sock.sendall(b"EHLO %s\r\n" % helo)
        expect(read_replies(sock, 1) == [250], "EHLO refused")
        sock.sendall(pipelined)
        return read_replies(sock, count)


def check_pipelining(ctx):
    sink = ctx.sink
    before = sink.stored()
    codes = raw_session(sink, b"pipe.test",
                        b"MAIL FROM:<p@pipe.test>\r\nRCPT TO:<one@pipe.test>\r\nDATA\r\n"
                        b"Subject: one\r\n\r\n..dot one\r\nbody one\r\n.\r\n"
                        b"MAIL FROM:<p@pipe.test>\r\nRCPT TO:<two@pipe.test>\r\nDATA\r\n"
                        b"Subject: two\r\n\r\nbody two\r\n.\r\nQUIT\r\n", 9)
    expect(codes == [250, 250, 354, 250, 250, 250, 354, 250, 221], "replies %r" % codes)
    stems = new_messages(sink, before, 2)
    got = {}
    for stem in stems:
        envelope, stored = sink.load(stem)
        got[envelope["rcpt_to"][0]] = stored
    expect(got.get("one@pipe.test") == b"Subject: one\r\n\r\n.dot one\r\nbody one\r\n",
           "first message %r" % got.get("one@pipe.test"))
    expect(got.get("two@pipe.test") == b"Subject: two\r\n\r\nbody two\r\n",
           "second message %r" % got.get("two@pipe.test"))


def check_no_pipelining(ctx):
    sink = ctx.start_sink("no-pipelining", "--no-pipelining")
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as s:
        s.ehlo("np.test")
        expect(not s.has_extn("pipelining"), "PIPELINING still offered")
        expect(s.has_extn("size"), "SIZE missing: %r" % s.esmtp_features)
    rc, report, err = run_blast(ctx, sink, "--messages", 50, "--size", 3000,
                                "--connections", 2, "--recipients", 3)
    expect(rc == 0 and report["accepted"] == 50, "blast %r %s" % (report, err))
    stats = sink.wait_stats(lambda s: s["messages"] >= 50)
    expect(stats["recipients"] == 150, "sink %r" % stats)


def check_chunking(ctx):
    # CHUNKING is offered by default: BDAT content is stored as sent, dots and all
    # (no unstuffing), and --no-chunking takes the keyword out of the EHLO reply.
    sink = ctx.sink
    before = sink.stored()
    first, last = b"Subject: bdat\r\n\r\n.not stuffed\r\n", b"..two dots stay\r\n"
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as s:
        s.ehlo("chunk.test")
        expect(s.has_extn("chunking"), "CHUNKING not offered: %r" % s.esmtp_features)
    codes = raw_session(sink, b"chunk.test",
                        b"MAIL FROM:<c@chunk.test>\r\nRCPT TO:<r@chunk.test>\r\n"
                        b"BDAT %d\r\n%sBDAT %d LAST\r\n%sQUIT\r\n"
                        % (len(first), first, len(last), last), 5)
    expect(codes == [250, 250, 250, 250, 221], "replies %r" % codes)
    [stem] = new_messages(sink, before, 1)
    _, stored = sink.load(stem)
    expect(stored == first + last, "stored %r" % stored)
    plain = ctx.start_sink("no-chunking", "--no-chunking")
    with smtplib.SMTP("127.0.0.1", plain.port, timeout=10) as s:
        s.ehlo("nc.test")
        expect(not s.has_extn("chunking"), "CHUNKING still offered")
        expect(s.has_extn("pipelining"), "PIPELINING missing: %r" % s.esmtp_features)


def check_sigterm(ctx):
    sink = ctx.sink
    stored = len(sink.stored())
    stats = sink.wait_stats(lambda s: s["messages"] == stored)
    rc = sink.stop()
    expect(rc == 0, "exit status %r" % rc)
    lines = sink.stdout().strip().splitlines()
    expect(lines, "nothing on stdout")
    final = json.loads(lines[-1])
    expect(set(final) == {"connections", "messages", "recipients", "bytes", "rejected",
                          "connections_peak"}, "keys %r" % sorted(final))
    # The blast check held its 10 connections open at once; the other checks used one
    # at a time, so the peak counts concurrency (>= 10) and closed ones (< the total).
    expect(10 <= final["connections_peak"] < final["connections"],
           "peak %r of %r connections" % (final["connections_peak"], final["connections"]))
    expect(final["messages"] == stats["messages"], "final %r vs stats %r" % (final, stats))
    expect("listening on 127.0.0.1:%d (1 shards)" % sink.port in sink.stderr(),
           "no listening line: %r" % sink.stderr())


def check_blast_start_line(ctx):
    # The first connection is greeted a second late: without the start line the
    # three others take all eight messages before it is ready; with it, every
    # connection sends from the first message on.
    late = receiver("127.0.0.1", free_port(), first_greeting_delay_s=1.0)
    try:
        rc, report, err = run_blast(ctx, late, "--messages", 8, "--size", 500,
                                    "--connections", 4)
        expect(rc == 0 and report["accepted"] == 8, "blast rc %d %r: %s" % (rc, report, err))
        per_connection = {}
        for m in late.received():
            per_connection[m.connection] = per_connection.get(m.connection, 0) + 1
    finally:
        late.stop()
    expect(sum(per_connection.values()) == 8, "%r messages per connection" % per_connection)
    expect(sorted(per_connection) == [1, 2, 3, 4], "messages per connection (1 greeted "
           "late): %r" % per_connection)
    return "messages per connection %r" % dict(sorted(per_connection.items()))


def check_test_summary(ctx):
    # tools/test-summary over two builds' testlogs: a failed program's "not ok"
    # lines come under its line, tagged with its build; the last line adds up.
    entries = {
        "build-a": [{"name": "p:e2e / one", "result": "OK", "duration": 1.0,
                     "stdout": "ok - x\n3 passed, 0 failed\n"},
                    {"name": "p:e2e / two", "result": "FAIL", "duration": 2.0,
                     "stdout": "ok - x\nnot ok - y: 1 connection\n1 passed, 1 failed\n"}],
        "build-b": [{"name": "p:unit / three", "result": "FAIL", "duration": 0.5,
                     "stdout": "", "stderr": "boom\nSegmentation fault\n"}],
    }
    paths = []
    for build, lines in entries.items():
        logs = os.path.join(ctx.workdir, build, "meson-logs")
        os.makedirs(logs, exist_ok=True)
        paths.append(os.path.join(logs, "testlog.json"))
        with open(paths[-1], "w") as f:
            f.write("".join(json.dumps(e) + "\n" for e in lines))
    p = subprocess.run([sys.executable, os.path.join(TOOLS, "test-summary")] + paths,
                       capture_output=True, timeout=30)
    out = p.stdout.decode().splitlines()
    expect(out and out[-1] == "4 passed, 2 failed", "last line %r" % out[-1:])
    at = next((i for i, line in enumerate(out) if "FAIL  [build-a] p:e2e / two" in line), None)
    expect(at is not None and out[at + 1].strip() == "not ok - y: 1 connection",
           "no failed check under the failed program: %r" % out)
    at = next((i for i, line in enumerate(out) if "FAIL  [build-b] p:unit / three" in line),
              None)
    expect(at is not None and out[at + 2].strip() == "Segmentation fault",
           "no output tail under the crashed program: %r" % out)
    expect(any("ok    [build-a] p:e2e / one: 3 passed" in line for line in out),
           "passing program's line: %r" % out)


CHECKS = [
    ("smtplib message stored byte for byte", check_smtplib_exact_bytes),
    ("swaks message stored", check_swaks),
    ("blast 2000 x 10 KiB over 10 connections", check_blast_bulk),
    ("forced DATA reply for the first 3 messages", check_forced_data_reply),
    ("forced RCPT reply for matching recipients", check_forced_rcpt_reply),
    ("pipelined transactions in one write", check_pipelining),
    ("no-pipelining sink and lock-step blast", check_no_pipelining),
    ("CHUNKING offered, BDAT stored as sent, --no-chunking", check_chunking),
    ("SIGTERM exits 0 and prints the stats", check_sigterm),
    ("blast connections wait for each other at a start line", check_blast_start_line),
    ("test-summary names failed checks and builds", check_test_summary),
]


class context:
    def __init__(self, build_root, workdir):
        self.sink_exe = os.path.join(build_root, "tools", "sink", "ringmta-sink")
        self.blast = os.path.join(build_root, "tools", "blast", "ringmta-blast")
        self.workdir = workdir
        self.sinks = []
        self.sink = None

    def start_sink(self, name, *args):
        s = sink_process(self.sink_exe, self.workdir, name, args)
        self.sinks.append(s)
        return s

    def kill_all(self):
        for s in self.sinks:
            try:
                s.kill()
            except Exception as e:  # never leave a process behind over a close error
                print("# kill: %s" % e)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-root", required=True)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    options = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="ringmta-tools-test-")
    ctx = context(os.path.abspath(options.build_root), workdir)
    passed = failed = 0
    try:
        for exe in (ctx.sink_exe, ctx.blast):
            if not os.access(exe, os.X_OK):
                print("not ok - programs built: %s missing" % exe)
                print("0 passed, 1 failed")
                return 1
        for name, check in CHECKS:
            try:
                if ctx.sink is None or ctx.sink.proc.poll() is not None:
                    ctx.sink = ctx.start_sink("main")
                note = check(ctx)
                print("ok - %s%s" % (name, " # " + note if note else ""))
                passed += 1
            except (check_failed, AssertionError, OSError, ValueError, KeyError,
                    smtplib.SMTPException, subprocess.SubprocessError) as e:
                print("not ok - %s: %s: %s" % (name, type(e).__name__, e))
                failed += 1
            sys.stdout.flush()
    finally:
        ctx.kill_all()
        if not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print("# work directory: %s" % workdir)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
