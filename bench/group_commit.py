#!/usr/bin/env python3
"""Group commit under load: what journal.commit_delay buys and costs.

The same relay load (ringmta-blast -> ringmta -> ringmta-sink, loopback, fsync
durability) runs once per commit delay, the delays interleaved run after run;
for each the table gives the medians of:

* accepted msg/s: blast's rate of 250 replies;
* latency p50 / p99: blast's time from the end of DATA to the 250 (the commit
  delay is in it);
* records per commit and commits per second, from the journal's own counters
  (ringmta logs them per shard at shutdown), and the mean wait of a batch's
  first record and the mean write + fdatasync time;
* fdatasyncs per message.

    bench/group_commit.py --build build --messages 20000 --delays 0,1,2,5 --runs 3

Loopback only; every wait is bounded. Exit status 0 when every run delivered
everything and, for every delay above 0, the journal's first records waited at
least that delay on average (the delay is honoured); 1 otherwise; 2 on a setup
error.
"""

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from benchlib import Blast, BenchError, RingmtaRelay, RingmtaSink, drive_load, log  # noqa: E402

JOURNAL_LINE = re.compile(
    r"shard (\d+) journal: (\d+) group commits of ([\d.]+) records on average "
    r"\(largest (\d+), median <= (\d+)\); first record waited (\d+) us on average "
    r"\(p99 <= (\d+) us\); write\+fdatasync (\d+) us on average \(p50 <= (\d+) us, "
    r"p99 <= (\d+) us\)")


def journal_totals(log_path):
    """Sums the per-shard group commit lines of one ringmta log."""
    commits = records = wait_us = commit_us = 0
    shards = 0
    with open(log_path, errors="replace") as f:
        for line in f:
            m = JOURNAL_LINE.search(line)
            if not m:
                continue
            shards += 1
            n = int(m.group(2))
            commits += n
            records += n * float(m.group(3))
            wait_us += n * int(m.group(6))
            commit_us += n * int(m.group(8))
    if shards == 0 or commits == 0:
        raise BenchError(f"no journal group commit line in {log_path}")
    return {"commits": commits, "records_per_commit": records / commits,
            "wait_us": wait_us / commits, "commit_us": commit_us / commits}


def one_run(args, delay_ms, rundir):
    os.makedirs(rundir)
    sink = RingmtaSink(args, rundir)
    gen = Blast(args, rundir)
    relay = None
    try:
        sink.start()
        relay = RingmtaRelay(args, rundir, sink.port, server={"shards": args.shards},
                             journal={"commit_delay": f"{delay_ms}ms"})
        relay.start()
        load = drive_load(f"commit_delay {delay_ms}ms", sink, gen, lambda: gen.start(relay.port),
                          args.messages, args.timeout, relay)
    finally:
        gen.stop()
        if relay:
            relay.stop()
        sink.stop()
    if load["t_done"] is None or not load.get("gen_ok"):
        raise BenchError(f"commit_delay {delay_ms}ms: {load['delivered']} of {args.messages} "
                         "delivered")
    report = gen.report()
    res = journal_totals(relay.log)
    seconds = report["seconds"]
    res.update(rate=report["messages_per_s"], p50=report["latency_ms"]["p50"],
               p99=report["latency_ms"]["p99"], commits_per_s=res["commits"] / seconds,
               syncs_per_msg=res["commits"] / args.messages)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--size", type=int, default=10240)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--domains", type=int, default=10)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--delays", default="0,1,2,5", help="commit delays in ms, comma-separated")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=300, help="seconds per run")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    delays = [int(d) for d in args.delays.split(",")]
    work = tempfile.mkdtemp(prefix="ringmta-group-commit-")
    results = {d: [] for d in delays}
    try:
        for run in range(args.runs):
            for d in delays:
                r = one_run(args, d, os.path.join(work, f"run{run}-delay{d}"))
                log(f"run {run + 1}/{args.runs}, commit_delay {d} ms: {r['rate']:,.0f} msg/s, "
                    f"{r['records_per_commit']:.1f} records/commit, wait {r['wait_us']:.0f} us")
                results[d].append(r)
    except BenchError as e:
        log(f"setup error: {e}")
        return 2
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    med = lambda d, k: statistics.median(r[k] for r in results[d])
    print(f"\n{args.messages} x {args.size} B, {args.connections} connections, "
          f"{args.shards} shard(s), durability fsync, median of {args.runs}\n")
    print("| commit_delay | accepted msg/s | latency p50 / p99 (ms) | records per commit "
          "| commits/s | first-record wait (µs) | write+fdatasync (µs) | fdatasyncs per message |")
    print("|--:|--:|--:|--:|--:|--:|--:|--:|")
    ok = True
    for d in delays:
        print(f"| {d} ms | {med(d, 'rate'):,.0f} | {med(d, 'p50'):.1f} / {med(d, 'p99'):.1f} "
              f"| {med(d, 'records_per_commit'):.1f} | {med(d, 'commits_per_s'):,.0f} "
              f"| {med(d, 'wait_us'):,.0f} | {med(d, 'commit_us'):,.0f} "
              f"| {med(d, 'syncs_per_msg'):.3f} |")
        if d > 0 and any(r["wait_us"] < d * 1000 for r in results[d]):
            log(f"commit_delay {d} ms: a batch's first record waited less than the delay")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
