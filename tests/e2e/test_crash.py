#!/usr/bin/env python3
"""Crash test: kill -9 under sustained load, then prove nothing acknowledged was lost.

Each round starts ringmta on the same spool, drives ringmta-blast at it (a new
sender domain per round, so every message has a unique Message-ID
<i.blast@roundN.crash.test>), kills ringmta with SIGKILL at a random moment
while messages are being accepted, journaled and delivered, and records which
messages blast saw answered 250. After the last round ringmta restarts and
drains; the check: every acknowledged message reached the sink at least once.
Duplicates (delivered, then the outcome record lost in the kill) are counted
and reported, as are messages the sink got whose 250 the client never saw.

With --compaction the journal uses 1 MB segments and the sink defers every
recipient in d0.example.net (451) until the final drain, so a fifth of the mail
stays queued while the rest is delivered: the oldest segments stay pinned by a
few deferred messages, compaction rewrites those forward again and again, and
the kills land during compaction too. Before the drain the sink is replaced by
one that accepts everything.

Bounded: --kills rounds (default 10), each with a bounded blast, and a bounded
final drain. The last line is "N passed, N failed".
"""

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from peers import check_failed, expect, ringmta_process, sink_process  # noqa: E402

MESSAGE_ID = re.compile(rb"^Message-ID: <(\d+)\.blast@round(\d+)\.crash\.test>", re.M | re.I)


def run_round(args, relay, number, workdir, rng):
    log = os.path.join(workdir, "accepted-%d.txt" % number)
    relay.start()
    blast = subprocess.Popen(
        [args.blast, "--server", "127.0.0.1:%d" % relay.port, "--messages", str(args.messages),
         "--size", str(args.size), "--connections", "20", "--domains", "5",
         "--from", "crash@round%d.crash.test" % number, "--accepted-log", log,
         "--timeout-s", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.02, args.max_delay))
    relay.kill9()
    killed_at = time.monotonic()
    try:
        blast.wait(timeout=90)
    except subprocess.TimeoutExpired:
        blast.kill()
        blast.wait(timeout=10)
        raise check_failed("blast did not end after the kill")
    with open(log) as f:
        acknowledged = {(number, int(line)) for line in f if line.strip()}
    return acknowledged, time.monotonic() - killed_at


def delivered_keys(sink, seen):
    """(round, message) of every stored message; `seen` caches files already read."""
    for stem in sink.stored() - seen.keys():
        _, content = sink.load(stem)
        match = MESSAGE_ID.search(content)
        seen[stem] = (int(match.group(2)), int(match.group(1))) if match else None
    return [key for key in seen.values() if key is not None]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-root", required=True)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--max-delay", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--drain-timeout", type=float, default=180)
    parser.add_argument("--compaction", action="store_true",
                        help="1 MB segments and a fifth of the mail deferred until the drain")
    args = parser.parse_args()
    args.blast = os.path.join(args.build_root, "tools", "blast", "ringmta-blast")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    workdir = tempfile.mkdtemp(prefix="ringmta-crash-")
    sink = relay = None
    sinks = []
    ok = False
    sink_exe = os.path.join(args.build_root, "tools", "sink", "ringmta-sink")
    try:
        deferring = ["--rcpt-reply", "451 4.2.0 Not now", "--reply-match", "@d0."]
        sink = sink_process(sink_exe, workdir, "sink", deferring if args.compaction else ())
        sinks.append(sink)
        extra = '[delivery]\nretry_min = "1s"\nmax_connections = 20\n'
        if args.compaction:
            extra += 'retry_max = "2s"\n[journal]\nsegment_size = "1MB"\n'
        relay = ringmta_process(os.path.join(args.build_root, "src", "ringmta"), workdir,
                                {"*": "127.0.0.1:%d" % sink.port}, extra=extra)
        acknowledged = set()
        mid_load = 0
        for number in range(args.kills):
            keys, _ = run_round(args, relay, number, workdir, rng)
            acknowledged |= keys
            mid_load += len(keys) < args.messages
            print("# round %d: %d of %d acknowledged before the kill"
                  % (number, len(keys), args.messages), flush=True)
        if args.compaction:   # the deferred fifth may go now
            port = sink.port
            sink.stop()
            sink = sink_process(sink_exe, workdir, "drain", port=port)
            sinks.append(sink)
        relay.start()
        deadline = time.monotonic() + args.drain_timeout
        missing = acknowledged
        seen = [{} for _ in sinks]
        while time.monotonic() < deadline:
            got = [k for s, cache in zip(sinks, seen) for k in delivered_keys(s, cache)]
            missing = acknowledged - set(got)
            if not missing:
                break
            time.sleep(0.5)
        time.sleep(1)  # let late duplicates arrive before counting
        got = [k for s, cache in zip(sinks, seen) for k in delivered_keys(s, cache)]
        compactions = len(re.findall(r"journal compaction of segment \d+: [1-9]", relay.log()))
        unique = set(got)
        duplicates = len(got) - len(unique)
        extra = len(unique - acknowledged)
        print("# seed %d: %d kills, %d messages acknowledged, %d delivered (%d unique), "
              "%d duplicates, %d delivered without a 250 seen by the client, %d lost"
              % (seed, args.kills, len(acknowledged), len(got), len(unique), duplicates, extra,
                 len(acknowledged - unique)))
        # Recycled segment files under the kills: restarts that found one kept, and
        # segments the final run made from one (its shutdown line, after the drain).
        kept = len(re.findall(r"recycled\.tmp: kept for recycling by the last run",
                              relay.log()))
        if args.compaction:
            print("# %d compaction passes rewrote messages forward" % compactions)
            expect(compactions > 0, "no compaction pass rewrote anything: the test proved "
                   "nothing about compaction")
        expect(len(acknowledged) > 0, "no message was acknowledged: the test proved nothing")
        expect(mid_load > 0, "no kill landed while messages were still being accepted")
        expect(not (acknowledged - unique),
               "LOST %d acknowledged messages, e.g. %r"
               % (len(acknowledged - unique), sorted(acknowledged - unique)[:5]))
        expect(relay.stop() == 0, "ringmta did not stop cleanly after the drain")
        recycled = sum(int(n) for n in re.findall(r"(\d+) of them from recycled files",
                                                 relay.log()))
        print("# %d restarts found a segment file kept for recycling; the drain's run made "
              "%d segments from recycled files" % (kept, recycled))
        if args.compaction:   # 1 MB segments: files are recycled within a few rounds
            expect(kept + recycled > 0, "no segment file was recycled: the test proved "
                   "nothing about recycling under kills")
        print("ok - crash: every acknowledged message delivered after %d kill -9" % args.kills)
        ok = True
    except check_failed as error:
        print("not ok - crash: %s (seed %d, logs in %s)" % (error, seed, workdir))
    finally:
        if relay:
            relay.kill9()
        for s in sinks:
            s.kill()
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
    print("%d passed, %d failed" % ((1, 0) if ok else (0, 1)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
