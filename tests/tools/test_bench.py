#!/usr/bin/env python3
"""Tests of the benchmark drivers: tools/ringmta-bench on a tiny sweep (the report,
its table and its SVG chart are produced and well-formed), in --target mode
against a ringmta this test starts, the bottleneck rule on made-up readings,
and tools/bench-relay on a tiny workload. Prints "ok - name" or
"not ok - name: reason" per check; the last line is "N passed, N failed".
Standard library only; loopback only; every wait bounded.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from peers import check_failed, expect, free_port  # noqa: E402

RUN_TIMEOUT_S = 240
SVG_NS = "{http://www.w3.org/2000/svg}"


class context:
    def __init__(self, source_root, build_root, workdir):
        self.tools = os.path.join(source_root, "tools")
        self.build, self.workdir = build_root, workdir
        sys.path.insert(0, self.tools)

    def run(self, program, *args):
        p = subprocess.run([sys.executable, os.path.join(self.tools, program)] + list(args),
                           capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                           stdin=subprocess.DEVNULL)
        expect(p.returncode == 0, "%s exited %d; stderr tail: %s"
               % (program, p.returncode, p.stderr[-1500:]))
        return p


def table_rows(markdown, heading):
    """The data rows (lists of cells) of the first table after `heading`."""
    section = markdown.split(heading, 1)
    expect(len(section) == 2, "no section %r in the report" % heading)
    rows = []
    for line in section[1].splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows:
            break
    expect(len(rows) >= 3, "the table under %r has no data rows" % heading)
    expect(set(rows[1][0]) <= set("-:"), "the second line is not a Markdown separator")
    return rows[0], rows[2:]


def number(cell):
    m = re.match(r"[0-9][0-9,]*(\.[0-9]+)?", cell)
    expect(m is not None, "no number in cell %r" % cell)
    return float(m.group(0).replace(",", ""))


def check_svg(path):
    root = ET.parse(path).getroot()   # raises on malformed XML
    expect(root.tag == SVG_NS + "svg", "root element is %r" % root.tag)
    width, height = float(root.get("width")), float(root.get("height"))
    lines = root.findall(SVG_NS + "polyline")
    expect(lines, "the chart draws no series")
    for line in lines:
        for pair in line.get("points").split():
            x, y = (float(v) for v in pair.split(","))
            expect(0 <= x <= width and 0 <= y <= height, "point %s outside the chart" % pair)
    titles = [t.text for t in root.iter(SVG_NS + "text") if t.text]
    expect(any("offered load" in t for t in titles), "no offered-load panel title")


def check_report(out_dir, relay_path, messages):
    with open(os.path.join(out_dir, "report.md")) as f:
        md = f.read()
    header, rows = table_rows(md, "## Every point")
    rate_col, path_col = header.index("msg/s"), header.index("path")
    paths = {r[path_col] for r in rows}
    expect(paths == {"ceiling", relay_path}, "paths in the table: %s" % sorted(paths))
    for r in rows:
        expect(number(r[rate_col]) > 0, "a zero rate in row %r" % r)
    if relay_path == "ringmta":
        lat = [r[header.index("latency p50/p99/p99.9 ms")] for r in rows
               if r[path_col] == "ringmta"]
        expect(all(number(c.split("/")[0]) >= 0 for c in lat), "latency cells %r" % lat)
        row = rows[[r[path_col] for r in rows].index("ringmta")]
        for col in ("RSS MiB", "journal KiB/msg"):
            cell = row[header.index(col)]
            expect(number(cell) > 0, "%s is %r" % (col, cell))
        # CPU comes in 10 ms clock ticks: 200 small messages may cost less than one.
        cell = row[header.index("relay CPU µs/msg")]
        expect(number(cell) >= 0, "relay CPU is %r" % cell)
    for heading in ("## Machine and parameters", "## Ceilings measured in the same run"):
        table_rows(md, heading)
    check_svg(os.path.join(out_dir, "capacity.svg"))
    with open(os.path.join(out_dir, "results.json")) as f:
        results = json.load(f)
    for p in results["points"]:
        figures = p["figures"]
        expect(figures["ok"] and figures["messages"] == messages,
               "point %r: %r" % (p["point"], figures))
    c = results["info"]["ceilings"]
    expect(c["loopback_bytes_per_s"] > 0 and c["fdatasync_per_s"] > 0, "ceilings %r" % c)


def check_tiny_sweep(ctx):
    out = os.path.join(ctx.workdir, "tiny")
    p = ctx.run("ringmta-bench", "--build", ctx.build, "--quick", "--points", "1",
                "--messages", "200", "--out", out, "--progress", "off",
                "--workdir", ctx.workdir)
    expect("ringmta capacity on" in p.stdout, "no summary on stdout: %r" % p.stdout[-500:])
    check_report(out, "ringmta", 200)


def check_target_mode(ctx):
    """--target: ringmta-bench drives a relay it did not start; the relay routes to
    the sink address given with --sink-listen."""
    sink_port = free_port()
    port = free_port()
    for _ in range(100):   # the kernel may hand out the port it just freed again
        if port != sink_port:
            break
        port = free_port()
    spool = os.path.join(ctx.workdir, "target-spool")
    config = os.path.join(ctx.workdir, "target.toml")
    with open(config, "w") as f:
        f.write('[server]\nspool_dir = "%s"\nshards = 1\n[ingress]\nlisten = ["127.0.0.1:%d"]\n'
                '[routes]\n"*" = ["127.0.0.1:%d"]\n' % (spool, port, sink_port))
    log = open(os.path.join(ctx.workdir, "target.log"), "wb")
    relay = subprocess.Popen([os.path.join(ctx.build, "src", "ringmta"), "--config", config],
                             stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        out = os.path.join(ctx.workdir, "target")
        ctx.run("ringmta-bench", "--build", ctx.build, "--target", "127.0.0.1:%d" % port,
                "--sink-listen", "127.0.0.1:%d" % sink_port, "--connections", "5",
                "--sizes", "4K", "--domains", "2", "--runs", "1", "--messages", "200",
                "--out", out, "--progress", "off", "--workdir", ctx.workdir)
        check_report(out, "target", 200)
    finally:
        relay.terminate()
        try:
            relay.wait(15)
        except subprocess.TimeoutExpired:
            relay.kill()
            relay.wait(5)
        log.close()


def check_bottleneck_rule(ctx):
    """The limit named in the report follows the readings, whatever they are."""
    import bench_report
    p = {"size": 10240, "connections": 50, "shards": 2, "domains": 10, "durability": "fsync"}
    ceilings = {"loopback_bytes_per_s": 4e9, "disk_flushes_per_s": 2000}
    base = {"ok": True, "rate": 10000, "bytes_per_s": 1e8, "host_cpu_busy": 0.5,
            "disk_busy": 0.1, "disk_flushes_per_s": 200, "accept_latency_ms": {"p50": 2.0},
            "cores_used": {"relay": 0.6, "generator": 0.2, "sink": 0.2}}
    cases = [({}, "concurrency"), ({"host_cpu_busy": 0.97}, "host CPU"),
             ({"disk_flushes_per_s": 1900}, "disk fdatasync rate"),
             ({"bytes_per_s": 1.9e9}, "loopback bandwidth"),
             ({"cores_used": {"relay": 0.3, "generator": 0.2, "sink": 0.95}},
              "receiver (sink CPU)"),
             ({"disk_busy": 0.99}, "disk busy time")]
    for change, want in cases:
        got, why = bench_report.bottleneck(dict(base, **change), "ringmta", p, ceilings, 2)
        expect(got == want, "readings %r: got %r (%s), want %r" % (change, got, why, want))
    got, why = bench_report.bottleneck(base, "ringmta", p, ceilings, 2)
    expect("10,000 msg/s" not in why and "25,000 msg/s" in why,
           "Little's law figure: %s" % why)


def check_target_runs(ctx):
    """The target line gives each interleaved run's share of the ceiling beside the
    medians', and leaves it out when a run failed (the rounds no longer pair up)."""
    import bench_markdown
    import bench_report
    base = {"size": 10240, "connections": 50, "shards": 2, "domains": 10,
            "durability": "fsync"}
    point = dict(base, axes=["load"])

    def rows(relay_ok=3):
        return [{"path": "ceiling", "point": point, "of_ceiling": 1.0,
                 "s": {"ok": True, "rate": 50000, "runs_ok": 3, "runs": 3,
                       "rate_runs": [40000, 50000, 60000]}},
                {"path": "ringmta", "point": point, "of_ceiling": 0.4,
                 "s": {"ok": True, "rate": 20000, "runs_ok": relay_ok, "runs": 3,
                       "rate_runs": [18000, 20000, 21000][:relay_ok]}}]
    t = bench_report.target_check(rows(), base, "ringmta", 2)
    shares = [round(x, 3) for x in t["of_ceiling_runs"]]
    expect(shares == [0.45, 0.4, 0.35], "per-run shares %r" % shares)
    text = bench_markdown.target_text({"target": dict(t, vs_postfix=None), "cores": 2})
    expect("40% of the no-relay ceiling (target ≥ 40%: met; run by run 35%–45%, "
           "2 of 3 runs at 40% or more)" in text, "target text %r" % text)
    t = bench_report.target_check(rows(relay_ok=2), base, "ringmta", 2)
    expect("of_ceiling_runs" not in t, "shares from unpaired runs: %r" % t)


def check_bench_relay(ctx):
    """bench-relay still runs on the shared benchlib: ceiling and ringmta paths."""
    js = os.path.join(ctx.workdir, "relay.json")
    p = ctx.run("bench-relay", "--build", ctx.build, "--messages", "300", "--paths",
                "ceiling,ringmta", "--json", js, "--workdir", ctx.workdir)
    expect("| ringmta |" in p.stdout, "no ringmta row: %r" % p.stdout)
    with open(js) as f:
        paths = json.load(f)["paths"]
    for name in ("ceiling", "ringmta"):
        expect(paths[name]["status"] == "ok" and paths[name]["delivered_per_s"] > 0,
               "%s: %r" % (name, paths[name]))
    expect(paths["ringmta"]["relay_cpu_s"] is not None, "no relay CPU figure")


def check_profile_relay(ctx):
    """tools/profile-relay (bash) on 1,000 messages: every one delivered (else it
    exits 1), the rate and CPU figures it prints are positive numbers, and so are
    its shard threads' voluntary context switches."""
    p = subprocess.run([os.path.join(ctx.tools, "profile-relay"), "--build", ctx.build,
                        "--messages", "1000", "--connections", "5"],
                       capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                       stdin=subprocess.DEVNULL)
    expect(p.returncode == 0, "profile-relay exited %d: %s" % (p.returncode, p.stderr[-800:]))
    rate = re.search(r"delivered 1000 in [0-9.]+ s: ([0-9]+) msg/s", p.stdout)
    cpu = re.search(r"CPU per message: ringmta ([0-9.]+) us, host ([0-9.]+) us", p.stdout)
    expect(rate is not None and cpu is not None, "output %r" % p.stdout)
    expect(float(rate.group(1)) > 0 and float(cpu.group(1)) > 0 and float(cpu.group(2)) > 0,
           "figures %r" % p.stdout)
    # The shard threads sleep in io_uring_enter between a few connections' messages:
    # their voluntary switches are read from /proc and cannot all be zero.
    switches = re.search(r"context switches per message \(ringmta's lasting threads\): "
                         r"([0-9.]+) voluntary, ([0-9.]+) involuntary", p.stdout)
    expect(switches is not None and float(switches.group(1)) > 0,
           "context switch line %r" % p.stdout)


CHECKS = [("bottleneck rule follows the readings", check_bottleneck_rule),
          ("the target line shows every run's share of the ceiling", check_target_runs),
          ("ringmta-bench tiny sweep writes report, table and chart", check_tiny_sweep),
          ("ringmta-bench --target drives a running ringmta", check_target_mode),
          ("bench-relay on the shared benchlib", check_bench_relay),
          ("profile-relay counts every delivery and prints its figures", check_profile_relay)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-root", required=True)
    parser.add_argument("--source-root", required=True)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    options = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="ringmta-bench-test-")
    ctx = context(os.path.abspath(options.source_root), os.path.abspath(options.build_root),
                  workdir)
    passed = failed = 0
    try:
        for name, check in CHECKS:
            started = time.monotonic()
            try:
                check(ctx)
                print("ok - %s # %.1f s" % (name, time.monotonic() - started))
                passed += 1
            except (check_failed, AssertionError, OSError, ValueError, KeyError, TypeError,
                    ET.ParseError, subprocess.SubprocessError) as e:
                print("not ok - %s: %s: %s" % (name, type(e).__name__, e))
                failed += 1
            sys.stdout.flush()
    finally:
        if options.keep:
            print("# work directory: %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
