"""bench_report: ringmta-bench's analysis, Markdown report and SVG chart.

build() turns the per-point medians into the capacity summary: each point's
share of the ceilings, messages per hour per core at each size, the saturation
point on the load axis, and the bottleneck there, decided from what was
measured (utilization of each resource), never assumed. write() puts
report.md, capacity.svg and results.json in a directory. Standard library only.
"""

import json, os

import bench_svg
from bench_run import BLAST_SHARDS, SINK_SHARDS
from bench_markdown import num, pct, render, size_text

SATURATED = 0.85          # a resource this busy is taken as the limit
SATURATION_SHARE = 0.90   # the load at which throughput first reaches this share of its peak
RELAY_PATHS = ("ringmta", "target", "postfix")


def utilizations(s, path, p, ceilings, cores):
    """Each resource's busy share at one point, from that point's readings."""
    used = s.get("cores_used") or {}
    u = {"host CPU": s.get("host_cpu_busy"),
         "receiver (sink CPU)": used.get("sink") and used["sink"] / SINK_SHARDS,
         "load generator (blast CPU)": used.get("generator") and used["generator"] / BLAST_SHARDS,
         "disk busy time": s.get("disk_busy")}
    if path in ("ringmta", "postfix") and used.get("relay") is not None:
        u["relay CPU"] = used["relay"] / (p["shards"] if path == "ringmta" else cores)
    flushes, ceiling = s.get("disk_flushes_per_s"), ceilings.get("disk_flushes_per_s")
    if path != "ceiling" and flushes is not None and ceiling:
        u["disk fdatasync rate"] = flushes / ceiling
    if s.get("bytes_per_s") and ceilings.get("loopback_bytes_per_s"):
        crossings = 1 if path == "ceiling" else 2   # in to the relay, out to the sink
        u["loopback bandwidth"] = s["bytes_per_s"] * crossings / ceilings["loopback_bytes_per_s"]
    return {k: v for k, v in u.items() if v is not None}


def bottleneck(s, path, p, ceilings, cores):
    """(resource, sentence): the busiest resource if it is saturated, else the note
    that the point is bound by latency at this concurrency (a closed loop)."""
    if not s.get("ok"):
        return None, "run failed"
    u = utilizations(s, path, p, ceilings, cores)
    name, share = max(u.items(), key=lambda kv: kv[1])
    used = s.get("cores_used") or {}
    parts = [("relay", used.get("relay")), ("blast", used.get("generator")),
             ("sink", used.get("sink"))]
    if s.get("host_cpu_busy") is not None:   # the host is shared: say what was not ours
        ours = sum(v for _, v in parts if v is not None)
        parts.append(("other processes", max(0.0, s["host_cpu_busy"] * cores - ours)))
    who = ", ".join(f"{k} {v:.2f}" for k, v in parts if v is not None)
    if share < SATURATED:
        lat = (s.get("accept_latency_ms") or {}).get("p50")
        little = f"; Little's law: {p['connections']} connections / {lat:.2f} ms accept " \
                 f"latency = {p['connections'] / lat * 1000:,.0f} msg/s" if lat else ""
        return "concurrency", (f"no resource saturated (busiest: {name} at {pct(share)}): "
                               f"bound by round trips at this concurrency{little}")
    if name == "host CPU":
        return name, f"host CPU: {pct(share)} of {cores} cores busy (cores used: {who})"
    return name, f"{name} at {pct(share)} (host CPU {pct(u.get('host CPU'))}; cores used: {who})"


def point_rows(plan, summary, key, ceilings, cores):
    """One row per (point, path) with every derived figure."""
    rows = []
    for p in plan:
        ceiling = summary[key(p)].get("ceiling", {})
        for path in p["paths"]:
            s = summary[key(p)][path]
            r = {"point": p, "path": path, "s": s}
            if s.get("ok"):
                r["of_ceiling"] = s["rate"] / ceiling["rate"] if ceiling.get("ok") else None
                r["resource"], r["why"] = bottleneck(s, path, p, ceilings, cores)
                cpu = (s.get("cpu_us_per_msg") or {}).get("relay")
                r["msg_per_hour_per_core"] = 3600e6 / cpu if cpu else None
                pf = summary[key(p)].get("postfix", {})
                r["vs_postfix"] = s["rate"] / pf["rate"] if path != "postfix" and \
                    pf.get("ok") and path != "ceiling" else None
            rows.append(r)
    return rows


def saturation(rows, path, base):
    """On the load axis at the base size: the first load reaching SATURATION_SHARE of
    the peak rate, and that row."""
    axis = sorted((r for r in rows if r["path"] == path and "load" in r["point"]["axes"]
                   and r["s"].get("ok")), key=lambda r: r["point"]["connections"])
    if not axis:
        return None
    peak = max(r["s"]["rate"] for r in axis)
    at = next(r for r in axis if r["s"]["rate"] >= SATURATION_SHARE * peak)
    return {"row": at, "peak": peak, "axis": axis}


def target_check(rows, base, relay_path, cores):
    """The issue's bar at 10 KiB, 50 connections, fsync: >= 30x Postfix and >= 40% of
    the no-relay ceiling; with the CPU arithmetic that explains a miss."""
    want = {"size": 10240, "connections": 50, "durability": "fsync"}
    row = next((r for r in rows if r["path"] == relay_path and r["s"].get("ok") and all(
        r["point"][k] == v for k, v in want.items()) and r["point"]["shards"] == base["shards"]
        and r["point"]["domains"] == base["domains"]), None)
    if row is None:
        return None
    def beside(path):
        return next((r for r in rows if r["path"] == path and r["point"] is row["point"]
                     and r["s"].get("ok")), None)
    ceiling, postfix = beside("ceiling"), beside("postfix")
    s = row["s"]
    out = {"rate": s["rate"], "of_ceiling": row.get("of_ceiling"),
           "vs_postfix": row.get("vs_postfix"), "why": row.get("why")}
    # Each relay run over the ceiling run of the same round (runs are interleaved),
    # when every run of both delivered everything: how much one sweep's medians can
    # be trusted on a machine whose speed moves between runs.
    if ceiling:
        c = ceiling["s"]
        if (s.get("runs_ok") == s.get("runs") and c.get("runs_ok") == c.get("runs")
                and len(s.get("rate_runs") or []) == len(c.get("rate_runs") or []) > 1):
            out["of_ceiling_runs"] = [r / cr for r, cr in zip(s["rate_runs"], c["rate_runs"])
                                      if cr > 0]
    used = s.get("cores_used") or {}
    if s.get("host_cpu_busy") is not None:
        out["other_cores"] = max(0.0, s["host_cpu_busy"] * cores - sum(used.values()))
    rc = s.get("cpu_us_per_msg") or {}
    if not ceiling or "relay" not in rc:   # a --target's CPU is not visible from here
        return out
    cc = ceiling["s"]["cpu_us_per_msg"]
    out["ceiling_cpu_us"] = cc["generator"] + cc["sink"]
    out["relay_path_cpu_us"] = sum(rc.values())
    out["cpu_bound_share"] = out["ceiling_cpu_us"] / out["relay_path_cpu_us"]
    out["ceiling_host_busy"] = ceiling["s"].get("host_cpu_busy")
    out["cpu_parts"] = rc
    # The relay's CPU per message at which a CPU-bound relay path reaches 40%.
    out["relay_budget_us"] = out["ceiling_cpu_us"] / 0.40 - rc["generator"] - rc["sink"]
    if postfix:
        out["postfix_path_cpu_us"] = sum(postfix["s"]["cpu_us_per_msg"].values())
        out["cpu_bound_vs_postfix"] = out["postfix_path_cpu_us"] / out["relay_path_cpu_us"]
    return out


def build(args, info, base, plan, summary, key, label):
    cores = info["machine"]["cores_usable"]
    ceilings = info["ceilings"]
    rows = point_rows(plan, summary, key, ceilings, cores)
    relay_path = "target" if args.target else "ringmta"
    report = {"args": args, "saturated": SATURATED, "saturation_share": SATURATION_SHARE,
              "info": info, "base": base, "plan": plan, "rows": rows, "label": label,
              "relay_path": relay_path, "cores": cores,
              "saturation": {path: saturation(rows, path, base) for path in
                             (relay_path, "postfix", "ceiling")},
              "target": target_check(rows, base, relay_path, cores)}
    report["sizes"] = [r for r in rows if r["path"] == relay_path and "size" in r["point"]["axes"]]
    return report


# ---------------------------------------------------------------- text

def summary_text(rep):
    """The few lines an operator reads first (stdout, and tools/dev demo)."""
    m, lines = rep["info"]["machine"], []
    lines.append(f"ringmta capacity on {m['cpu_model']} ({m['cores_usable']} cores, "
                 f"{m['memory_gib']} GiB), Linux {m['kernel']}, spool on {m['workdir_fs']}")
    t = rep["target"]
    if t:
        line = f"  10 KiB, 50 connections, fsync: {num(t['rate'])} msg/s delivered"
        line += f" ({num(t['rate'] * 3600 / 1e6, 1)} M msg/h)"
        if t.get("of_ceiling") is not None:
            line += f", {pct(t['of_ceiling'])} of the no-relay ceiling"
        if t.get("vs_postfix") is not None:
            line += f", {t['vs_postfix']:.1f}x Postfix"
        lines.append(line)
    for r in rep["sizes"]:
        s = r["s"]
        if not s.get("ok"):
            lines.append(f"  {size_text(r['point']['size'])}: FAILED")
            continue
        lat = s.get("latency_ms") or {}
        lines.append(f"  {size_text(r['point']['size']):>8}: {num(s['rate'])} msg/s, "
                     f"{num(s['bytes_per_s'] / 1e6, 1)} MB/s, {pct(r.get('of_ceiling'))} of "
                     f"ceiling, {num(r.get('msg_per_hour_per_core'))} msg/h per relay core, "
                     f"latency p50/p99 {num(lat.get('p50'), 1)}/{num(lat.get('p99'), 1)} ms")
    sat = rep["saturation"].get(rep["relay_path"])
    if sat:
        r = sat["row"]
        lines.append(f"  saturation: {r['point']['connections']} connections, "
                     f"{num(r['s']['rate'])} msg/s (peak {num(sat['peak'])}); {r['why']}")
    return "\n".join(lines)


def write(out_dir, rep):
    os.makedirs(out_dir, exist_ok=True)
    md, svg, js = (os.path.join(out_dir, n) for n in ("report.md", "capacity.svg",
                                                       "results.json"))
    with open(svg, "w") as f:
        f.write(bench_svg.chart(rep))
    with open(md, "w") as f:
        f.write(render(rep, summary_text(rep)))
    with open(js, "w") as f:
        json.dump(json_view(rep), f, indent=1, default=str)
    return [md, svg, js]


def json_view(rep):
    a = rep["args"]
    return {"command": ["tools/ringmta-bench"] + a.argv, "info": rep["info"], "base": rep["base"],
            "points": [{"point": {k: v for k, v in r["point"].items()}, "path": r["path"],
                        "figures": r["s"], "of_ceiling": r.get("of_ceiling"),
                        "vs_postfix": r.get("vs_postfix"), "bottleneck": r.get("why")}
                       for r in rep["rows"]],
            "target_10k_50c_fsync": rep["target"]}
