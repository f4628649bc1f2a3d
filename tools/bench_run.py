"""bench_run: one run of one path for ringmta-bench, and the figures it yields.

run_path() starts a fresh sink and relay (ringmta with its accounting log, or a
private Postfix; none for the ceiling; a --target's long-lived sink), drives
the load with benchlib.drive_load(), and reads CPU, disk, memory and latency
before the load and at the last delivery. median_of() folds a point's runs into
medians. Standard library only; every wait bounded.
"""

import argparse, contextlib, json, os, resource, statistics

import bench_probe as probe
import benchlib as bl

SINK_SHARDS = BLAST_SHARDS = 1   # the report's bottleneck rule assumes these
MESSAGES_MIN, MESSAGES_MAX = 200, 200000
RUN_BYTES_MAX = 1 << 30            # content bytes in one measured run
PILOT_MIN, PILOT_BYTES_MAX = 20, 64 << 20
PILOT_TIMEOUT_S = 120
PILOT_HEADROOM = 1.5               # the pilot's rate includes its ramp-up: aim longer


class CountFrom:
    """A sink whose count starts at start(): a run after the pilot on the same sink,
    or with --target one sink for the whole sweep (restarting it between runs
    would reset the target's pooled connections)."""

    def __init__(self, sink):
        self.sink, self.proc, self.out, self.port = sink, sink.proc, sink.out, sink.port
        self.offset = 0

    def start(self):
        self.offset = self.sink.delivered()

    def delivered(self):
        return self.sink.delivered() - self.offset


def workload(ctx, p, messages):
    return argparse.Namespace(build=ctx.args.bin_dir, messages=messages, size=p["size"],
                              connections=p["connections"], domains=p["domains"],
                              postfix_set=ctx.args.postfix_set)


def sustained_rate(timeline, expected):
    """Delivered msg/s between the 10% and 90% marks of the sink's count (ramp-up
    and drain left out); None when that span is too short to resolve at the sink's
    100 ms stats interval."""
    def crossing(target):
        return next(((t, c) for t, c in timeline if c >= target), None)
    lo, hi = crossing(expected * 0.1), crossing(expected * 0.9)
    if lo is None or hi is None or hi[0] - lo[0] < 0.5:
        return None
    return (hi[1] - lo[1]) / (hi[0] - lo[0])


def pilot_messages(ctx, sink, w, rundir, target, relay, label):
    """A short load on the started path (4 messages per connection, at least 20, at
    most 64 MiB) sizes the measured run: its rate x --seconds x headroom, within
    bounds. It also warms the path: connections open, pools filled."""
    n = max(PILOT_MIN, 4 * w.connections)
    n = max(1, min(n, max(w.connections, PILOT_BYTES_MAX // w.size)))
    gen = bl.Blast(argparse.Namespace(**dict(vars(w), messages=n)), rundir)
    sink.start()

    def tick(elapsed, count):
        ctx.progress.update(f"{ctx.position()} {label}: pilot, {count}/{n} delivered")
    try:
        load = bl.drive_load(label + " pilot", sink, gen, lambda: gen.start(
            target[1], target[0], BLAST_SHARDS), n, PILOT_TIMEOUT_S, relay, None, tick)
    finally:
        gen.stop()
    if load["t_done"] is None or not load.get("gen_ok"):
        raise bl.BenchError(f"the pilot load of {n} messages failed "
                            f"({load['delivered']} delivered)")
    # blast's own rate (first connect to last reply, microsecond clock): the sink's
    # count moves in 100 ms steps, too coarse for a load this short.
    rate = load.get("accepted_per_s") or n / max(load["t_done"] - load["t0"], 1e-3)
    runs = int(rate * ctx.args.seconds * PILOT_HEADROOM)
    return max(MESSAGES_MIN, min(runs, MESSAGES_MAX, RUN_BYTES_MAX // w.size))


def run_path(ctx, path, p, rundir, point_text):
    """One run of one path at point p: fresh sink, fresh relay (empty spool or
    queue), a pilot load that sizes the run, the load, then the readings. Returns
    its figures (ok False unless every message was delivered)."""
    a = ctx.args
    w = workload(ctx, p, a.messages or 0)
    os.makedirs(rundir)
    os.chmod(rundir, 0o755)   # unprivileged Postfix daemons open files below it
    own_sink = None if path == "target" else bl.RingmtaSink(w, rundir, "127.0.0.1", 0,
                                                             SINK_SHARDS)
    sink = CountFrom(own_sink) if own_sink else None
    gen, relay, sampler, acct = bl.Blast(w, rundir), None, None, None
    res = {"ok": False, "messages": a.messages or 0, "delivered": 0}
    label = f"{path} {point_text}"
    try:
        if sink is None:
            sink = ctx.target_sink()
        if own_sink:
            own_sink.start()
            sink.proc, sink.out, sink.port = own_sink.proc, own_sink.out, own_sink.port
        host, port = "127.0.0.1", sink.port
        if path == "target":
            host, port = a.target
        elif path == "ringmta":
            acct = os.path.join(ctx.acct_dir or rundir, f"accounting-{os.path.basename(rundir)}")
            relay = bl.RingmtaRelay(w, rundir, sink.port,
                                    server={"shards": p["shards"], "accounting_log": acct},
                                    journal={"durability": p["durability"]})
        elif path == "postfix":
            relay = bl.PostfixRelay(w, rundir, sink.port)
        if relay:
            relay.start()
            port = relay.port
        n = a.messages or pilot_messages(ctx, sink, w, rundir, (host, port), relay, label)
        w.messages = res["messages"] = n
        sink.start()
        if relay:
            sampler = bl.MemSampler(relay.root)
            sampler.start()
        stat_path = probe.block_stat_path(relay.spool if path == "ringmta" else rundir)
        before = {"sink_cpu": bl.tree_cpu_s(sink.proc.pid), "host": probe.cpu_snapshot(),
                  "disk": probe.disk_snapshot(stat_path),
                  "gen_ru": resource.getrusage(resource.RUSAGE_CHILDREN)}
        if relay:
            before.update(relay_cpu=bl.tree_cpu_s(relay.root),
                          relay_io=bl.tree_write_bytes(relay.root))
        at = {}

        def at_done():   # readings up to the last delivery, not beyond
            at["host"], at["disk"] = probe.cpu_snapshot(), probe.disk_snapshot(stat_path)
            at["sink_cpu"] = bl.tree_cpu_s(sink.proc.pid)
            if relay:
                at["relay_cpu"] = bl.tree_cpu_s(relay.root)
                at["relay_io"] = bl.tree_write_bytes(relay.root)

        def tick(elapsed, count):
            ctx.progress.update(f"{ctx.position()} {label}: {count}/{n} delivered, "
                                f"{elapsed:.1f} s, {count / max(elapsed, 1e-3):,.0f} msg/s")

        load = bl.drive_load(label, sink, gen, lambda: gen.start(port, host, BLAST_SHARDS), n,
                             a.timeout, relay, at_done, tick)
        at["gen_ru"] = resource.getrusage(resource.RUSAGE_CHILDREN)   # blast: the only child reaped
        res.update(delivered=load["delivered"], gen_ok=load.get("gen_ok"))
        res["ok"] = load["t_done"] is not None and bool(load.get("gen_ok"))
        if res["ok"]:
            measure(res, p, n, load, before, at, gen, relay, sampler)
    except bl.BenchError as e:
        bl.log(f"[{label}] {e}")
        res["error"] = str(e)
    finally:
        with bl.shielded():
            if sampler:
                sampler.stop()
            gen.stop()
            if relay:
                relay.stop()
            if own_sink:
                own_sink.stop()
    if res["ok"] and path == "ringmta":
        res.update(latency_summary(ringmta_queue_ms(acct)))
        res["journal_writes"] = relay.journal_writes()
        with contextlib.suppress(OSError):
            os.unlink(acct)
    elif res["ok"] and path == "postfix":
        res.update(latency_summary(bl.postfix_delays_ms(relay.maillog)))
    return res


def measure(res, p, n, load, before, at, gen, relay, sampler):
    """The figures of a complete run, from the readings taken at its start (`before`)
    and at its last delivery (`at`)."""
    seconds = load["t_done"] - load["t0"]
    gen_s = (load["t_gen"] or load["t_done"]) - load["t0"]
    report = gen.report() or {}
    res["seconds"] = round(seconds, 3)
    res["rate_all"] = n / seconds
    res["rate"] = sustained_rate(load["timeline"], n) or res["rate_all"]
    res["bytes_per_s"] = res["rate"] * p["size"]
    res["accepted_per_s"] = load.get("accepted_per_s")
    res["accept_latency_ms"] = report.get("latency_ms")
    ru0, ru1 = before["gen_ru"], at["gen_ru"]
    gen_cpu = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
    sink_cpu = at["sink_cpu"] - before["sink_cpu"]
    cores = {"generator": gen_cpu / gen_s, "sink": sink_cpu / seconds}
    res["cpu_us_per_msg"] = {"generator": gen_cpu / n * 1e6, "sink": sink_cpu / n * 1e6}
    if relay:
        relay_cpu = at["relay_cpu"] - before["relay_cpu"]
        cores["relay"] = relay_cpu / seconds
        res["cpu_us_per_msg"]["relay"] = relay_cpu / n * 1e6
        res["disk_bytes_per_msg"] = (at["relay_io"] - before["relay_io"]) / n
        sampler.stop()
        res["rss_kib"] = relay.peak_rss_kib(sampler)
        res["pss_kib"] = sampler.pss_kib
    res["cores_used"] = cores
    res["host_cpu_busy"] = probe.cpu_busy_fraction(before["host"], at["host"])
    res["disk_flushes_per_s"], res["disk_busy"] = probe.disk_rates(before["disk"], at["disk"])


def ringmta_queue_ms(path):
    """queued_ms of every delivered recipient in a ringmta accounting log: from the
    end of DATA (just before the journal commit) to the receiver's 250."""
    out = []
    with contextlib.suppress(OSError), open(path) as f:
        for line in f:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                r = json.loads(line)
                if r["status"] == "delivered":
                    out.append(float(r["queued_ms"]))
    return out


def latency_summary(values_ms):
    pct = probe.percentiles(values_ms)
    return {"latency_ms": {"p50": pct[50], "p99": pct[99], "p999": pct[99.9]},
            "latency_samples": len(values_ms)}


def median_of(runs):
    """Per-figure medians over the runs that delivered everything (nested dicts too)."""
    good = [r for r in runs if r.get("ok")]
    if not good:
        return {"ok": False, "delivered": min((r["delivered"] for r in runs), default=0),
                "messages": runs[0]["messages"] if runs else 0,
                "error": next((r["error"] for r in runs if r.get("error")), None)}

    def med(values):
        values = [v for v in values if v is not None]
        if not values:
            return None
        if isinstance(values[0], dict):
            return {k: med([v.get(k) for v in values]) for k in values[0]}
        if isinstance(values[0], (int, float)) and not isinstance(values[0], bool):
            return statistics.median(values)
        return values[0]
    out = {k: med([r.get(k) for r in good]) for k in good[0]}
    out["runs_ok"], out["runs"] = len(good), len(runs)
    out["rate_runs"] = [round(r["rate"]) for r in good]
    return out
