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


class TargetSink:
    """With --target: one sink for the whole sweep at the address the target routes
    to (restarting it between runs would reset the target's pooled connections),
    counting each run from where the last one left off."""

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


def run_path(ctx, path, p, k, rundir, point_text):
    """One run of one path at point p: fresh sink, fresh relay (empty spool or
    queue), the load, then the readings. Returns its figures (ok False unless
    every message was delivered)."""
    a = ctx.args
    n = ctx.messages_for(path, p, k)
    w = workload(ctx, p, n)
    os.makedirs(rundir)
    os.chmod(rundir, 0o755)   # unprivileged Postfix daemons open files below it
    sink = ctx.target_sink() if path == "target" else \
        bl.RingmtaSink(w, rundir, "127.0.0.1", 0, SINK_SHARDS)
    gen, relay, sampler, acct = bl.Blast(w, rundir), None, None, None
    res = {"ok": False, "messages": n, "delivered": 0}
    label = f"{path} {point_text}"
    try:
        sink.start()
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
            if path != "target":
                sink.stop()
    if res["ok"] and path == "ringmta":
        res.update(latency_summary(ringmta_queue_ms(acct)))
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
