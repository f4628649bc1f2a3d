"""bench_markdown: ringmta-bench's report as Markdown, and the number formats the
report and the chart share. render() takes what bench_report.build() made.
Standard library only.
"""

KIB = 1024


def size_text(n):
    if n >= KIB * KIB:
        return f"{n / (KIB * KIB):g} MiB"
    return f"{n / KIB:g} KiB" if n >= KIB else f"{n} B"


def num(v, digits=0, unit=""):
    if v is None:
        return "–"
    if abs(v) >= 100 or digits == 0:
        return f"{v:,.0f}{unit}"
    return f"{v:,.{digits}f}{unit}"


def pct(v):
    return "–" if v is None else f"{v * 100:.0f}%"


def table(header, rows):
    out = ["| " + " | ".join(h for h, _ in header) + " |",
           "|" + "|".join("--:" if right else "---" for _, right in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def machine_section(rep):
    info, a = rep["info"], rep["args"]
    m, c = info["machine"], info["ceilings"]
    lines = ["## Machine and parameters", "",
             table([("what", False), ("value", False)], [
                 ("CPU", f"{m['cpu_model']}, {m['cores']} cores ({m['cores_usable']} usable)"),
                 ("memory", f"{m['memory_gib']} GiB"),
                 ("kernel / OS", f"Linux {m['kernel']} / {m['os']}"),
                 ("spool filesystem", m["workdir_fs"]),
                 ("load average (1 min) at start / end",
                  f"{info['load_start']:.2f} / {info.get('load_end', 0):.2f}"),
                 ("started, duration", f"{info['started']}, {info.get('seconds', 0)} s"),
                 ("durability modes", ", ".join(a.durability) + " (fsync: `250` only after the "
                  "covering fdatasync; nosync: benchmarks only)"),
                 ("message sizes", ", ".join(size_text(s) for s in a.sizes)),
                 ("client connections (offered load)", ", ".join(map(str, a.connections))),
                 ("ringmta shards", ", ".join(map(str, a.shards))),
                 ("destination domains", ", ".join(map(str, a.domains))),
                 ("base point", f"{size_text(rep['base']['size'])}, "
                  f"{rep['base']['connections']} connections, {rep['base']['shards']} shards, "
                  f"{rep['base']['domains']} domains, {rep['base']['durability']}"),
                 ("runs per point", f"{a.runs}, {getattr(a, 'base_runs', a.runs)} at the base "
                  "point (interleaved: ceiling, relay, peer; medians)"),
                 ("messages per run", str(a.messages) if a.messages else
                  f"sized for about {a.seconds:g} s by a pilot load on the same relay just "
                  "before (4 messages per connection; it also warms the path), 200 at least"),
                 ("load generator / sink", "ringmta-blast (1 shard) / ringmta-sink (1 shard), "
                  "1 recipient per message, domains dN.example.net"),
                 ("ringmta config", "defaults, plus `server.shards`, `journal.durability`, "
                  "`delivery.max_connections` = connections, one route `*` to the sink, "
                  "`server.accounting_log` on tmpfs (for latencies)"),
                 ("ringmta journal writes", " / ".join(info.get("journal_writes") or [])
                  or "not reported"),
                 ("target", f"{a.target[0]}:{a.target[1]} (remote: its own settings)"
                  if a.target else "ringmta started here for each run"),
                 ("peer", "Postfix as shipped (fsync on), private instance, concurrency = "
                  "connections" if a.compare else "none (no --compare)"),
             ]), "",
             "## Ceilings measured in the same run", "",
             table([("ceiling", False), ("value", True), ("how", False)], [
                 ("loopback bandwidth", f"{num(c['loopback_bytes_per_s'] / 1e6)} MB/s",
                  "one TCP connection on 127.0.0.1, 1 MiB sends for 2 s"),
                 ("disk fdatasync rate", f"{num(c['fdatasync_per_s'])} /s (at the end: "
                  f"{num(c.get('fdatasync_end_per_s'))} /s)",
                  "pwrite 4 KiB + fdatasync into a preallocated file, 1 writer then 2 at "
                  "once, 1.5 s each, in the spool's filesystem; the better rate"),
                 ("disk flushes", f"{num(c.get('disk_flushes_per_s'))} /s",
                  "the device's flush requests during that loop (/sys/dev/block)"),
                 ("protocol (no relay)", "per point below", "ringmta-blast → ringmta-sink, "
                  "same messages and connections"),
             ])]
    return "\n".join(lines)


def capacity_section(rep):
    relay, lines = rep["relay_path"], ["## Capacity summary", ""]
    size_rows = []
    for r in rep["sizes"]:
        s, p = r["s"], r["point"]
        if not s.get("ok"):
            size_rows.append((size_text(p["size"]), "FAILED") + ("",) * 8)
            continue
        lat = s.get("latency_ms") or {}
        size_rows.append((size_text(p["size"]), num(s["rate"]), num(s["bytes_per_s"] / 1e6, 1),
                          pct(r.get("of_ceiling")), num(s["rate"] * 3600),
                          num(r.get("msg_per_hour_per_core")),
                          num((s.get("cpu_us_per_msg") or {}).get("relay"), 1),
                          f"{num(lat.get('p50'), 1)} / {num(lat.get('p99'), 1)}",
                          num(r.get("vs_postfix"), 1, "×"), r.get("why") or "–"))
    lines += [f"Per message size, at {rep['base']['connections']} connections, "
              f"{rep['base']['durability']}. *msg/h per core* = 3,600 s ÷ the relay's CPU "
              "seconds per message: what one fully used core sends in an hour.", "",
              table([("size", False), ("msg/s", True), ("MB/s", True), ("of ceiling", True),
                     ("msg/h this host", True), ("msg/h per core", True),
                     ("relay CPU µs/msg", True), ("latency p50 / p99 ms", True),
                     ("vs Postfix", True), ("limit observed", False)], size_rows), ""]
    for path in (relay, "postfix"):
        sat = rep["saturation"].get(path)
        if not sat:
            continue
        r = sat["row"]
        lat = r["s"].get("latency_ms") or {}
        lines.append(f"**Saturation ({path})**: throughput first reaches "
                     f"{rep['saturation_share']:.0%} of its peak ({num(sat['peak'])} msg/s) at "
                     f"**{r['point']['connections']} connections**: {num(r['s']['rate'])} msg/s, "
                     f"latency p50 {num(lat.get('p50'), 1)} ms, p99 {num(lat.get('p99'), 1)} ms. "
                     f"Bottleneck there: **{r['why']}**.")
        lines.append("")
    lines.append(target_text(rep))
    return "\n".join(lines)


def target_text(rep):
    t = rep["target"]
    if not t:
        return "The 10 KiB, 50 connections, fsync point was not in this sweep."
    bar_ceiling = t["of_ceiling"] is not None and t["of_ceiling"] >= 0.40
    bar_postfix = t["vs_postfix"] is not None and t["vs_postfix"] >= 30
    runs = t.get("of_ceiling_runs") or []
    spread = (f"; run by run {pct(min(runs))}–{pct(max(runs))}, "
              f"{sum(r >= 0.40 for r in runs)} of {len(runs)} runs at 40% or more"
              if runs else "")
    lines = ["**Targets at 10 KiB, 50 connections, fsync**: "
             f"{num(t['rate'])} msg/s delivered; "
             f"{pct(t['of_ceiling'])} of the no-relay ceiling (target ≥ 40%: "
             f"{'met' if bar_ceiling else 'NOT met'}{spread}); "
             + (f"{t['vs_postfix']:.1f}× Postfix (target ≥ 30×: "
                f"{'met' if bar_postfix else 'NOT met'})." if t["vs_postfix"] is not None
                else "Postfix not measured in this run (--compare postfix).")]
    if t.get("relay_path_cpu_us"):
        parts = t["cpu_parts"]
        lines.append(
            f"Why this share of the ceiling: the ceiling path (blast → sink) spends "
            f"{num(t['ceiling_cpu_us'], 1)} µs of CPU per message and kept the host "
            f"{pct(t['ceiling_host_busy'])} busy; the relay path spends "
            f"{num(t['relay_path_cpu_us'], 1)} µs (blast {num(parts.get('generator'), 1)}, "
            f"ringmta {num(parts.get('relay'), 1)}, sink {num(parts.get('sink'), 1)}), because "
            "every message crosses loopback twice and is parsed, journaled and sent again. "
            f"With both paths CPU-bound on the same {rep['cores']} cores, CPU arithmetic puts "
            f"the relay path at about {pct(t['cpu_bound_share'])} of the ceiling (measured: "
            f"{pct(t['of_ceiling'])}). To reach 40% on this host, ringmta would "
            f"have to spend at most {num(t['relay_budget_us'], 1)} µs of CPU per message "
            f"(it spent {num(parts.get('relay'), 1)}).")
    if t.get("cpu_bound_vs_postfix"):
        lines.append(
            f"Against Postfix: its path spent {num(t['postfix_path_cpu_us'], 1)} µs of CPU per "
            f"message, so on CPU-bound cores the ratio is about "
            f"{t['cpu_bound_vs_postfix']:.1f}× (measured {t['vs_postfix']:.1f}×).")
    if t.get("other_cores") is not None:
        lines.append(
            f"Limit observed at this point: {t['why']}. Processes other than this benchmark's "
            f"used {t['other_cores']:.2f} of the {rep['cores']} cores meanwhile (the machine "
            "is shared); they took CPU the relay path would otherwise have had.")
    return "\n\n".join(lines)


def points_section(rep):
    rows = []
    for r in rep["rows"]:
        s, p = r["s"], r["point"]
        name = rep["label"](p)
        if not s.get("ok"):
            rows.append((name, r["path"], f"FAILED ({s.get('delivered')}/{s.get('messages')})")
                        + ("",) * 11)
            continue
        lat, acc = s.get("latency_ms") or {}, s.get("accept_latency_ms") or {}
        cpu = s.get("cpu_us_per_msg") or {}
        disk = s.get("disk_bytes_per_msg")
        rss = s.get("rss_kib")
        rows.append((name, r["path"], f"{num(s['rate'])} ({', '.join(map(str, s['rate_runs']))})",
                     pct(r.get("of_ceiling")), num(s["bytes_per_s"] / 1e6, 1),
                     " / ".join(num(lat.get(k), 1) for k in ("p50", "p99", "p999")),
                     num(acc.get("p99"), 1),
                     num(cpu.get("relay"), 1), num(rss / 1024, 1) if rss else "–",
                     num(disk / 1024, 2) if disk is not None else "–",
                     pct(s.get("host_cpu_busy")), num(s.get("disk_flushes_per_s")),
                     num(s.get("messages")), r.get("resource") or "–"))
    return "\n".join([
        "## Every point", "",
        "Sustained msg/s: delivered between the sink's 10% and 90% marks (each run's figure "
        "in brackets; the median shown). Latency: accept-to-delivery per message (ringmta: "
        "`queued_ms` of the accounting log, end of DATA to the receiver's 250, 1 ms "
        "resolution; Postfix: `delay=` of its log, from the start of receiving, 10 ms "
        "resolution). Accept p99: ringmta-blast's MAIL-to-final-reply latency. CPU, journal "
        "bytes (`/proc/<pid>/io` write_bytes) and flushes from the start of the load to the "
        "last delivery. RSS: ringmta VmHWM; Postfix the summed RSS of its processes.", "",
        table([("point", False), ("path", False), ("msg/s", True), ("of ceiling", True),
               ("MB/s", True), ("latency p50/p99/p99.9 ms", True), ("accept p99 ms", True),
               ("relay CPU µs/msg", True), ("RSS MiB", True), ("journal KiB/msg", True),
               ("host CPU", True), ("disk flushes/s", True), ("messages", True),
               ("busiest", False)], rows)])


def render(rep, summary):
    a = rep["args"]
    return "\n\n".join([
        "# ringmta capacity report",
        f"Command: `tools/ringmta-bench {' '.join(a.argv)}`. Everything on loopback on one "
        "host; the load generator and the sink share the cores with the relay.",
        "```\n" + summary + "\n```",
        "![throughput and latency against offered load, throughput against size]"
        "(capacity.svg)",
        capacity_section(rep), machine_section(rep), points_section(rep),
        "Bottleneck rule: each resource's busy share is measured at each point (host CPU "
        "from /proc/stat; each process's CPU from /proc/<pid>/stat against the cores it can "
        "use; disk flushes against the fdatasync ceiling's flush rate; disk busy time; "
        "loopback bytes, twice per relayed message, against the loopback ceiling). The "
        f"busiest resource at {rep['saturated']:.0%} or more is the limit; when none is that "
        "busy, the point is bound by round trips at its concurrency.",
    ]) + "\n"
