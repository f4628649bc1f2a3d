#!/usr/bin/env python3
"""ringmta's resident memory per idle SMTP connection.

Starts ringmta (a generated config, its own spool, listening on loopback), opens
CONNECTIONS plaintext connections from several 127.0.0.x source addresses, reads
each banner, sends EHLO and reads the reply (and with --burst-bytes N, pipelines
N bytes of NOOPs and reads every reply), then leaves them idle (a session
waiting for its next command). Reads VmRSS of the ringmta process from
/proc/PID/status before (after one warm-up connection) and after, and reports
(after - before) / CONNECTIONS. Raises RLIMIT_NOFILE for itself and ringmta.
Loopback only; every wait is bounded.

    bench/idle_connections.py --ringmta build/src/ringmta --connections 10000

Prints a Markdown table row and a JSON line; exit status 0 when the per-connection
figure is under --target-bytes (default 8 KiB), 1 otherwise, 2 on a setup error.
"""

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

START_TIMEOUT_S = 15
SETTLE_S = 1.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def settled_rss_kib(pid):
    """VmRSS once two readings SETTLE_S apart agree within 64 KiB (at most 10 tries)."""
    last = rss_kib(pid)
    for _ in range(10):
        time.sleep(SETTLE_S)
        now = rss_kib(pid)
        if abs(now - last) <= 64:
            return now
        last = now
    return last


def read_reply(sock):
    """Reads one whole SMTP reply (multi-line aware); returns its last line."""
    data = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed: %r" % data[-200:])
        data += chunk
        lines = data.split(b"\r\n")
        for line in lines[:-1]:
            if len(line) == 3 or line[3:4] == b" ":
                return line
    raise RuntimeError("no reply within 10 s: %r" % data[-200:])


def noop_burst(sock, burst_bytes):
    """Pipelines NOOPs worth `burst_bytes` and reads every reply (a busy moment
    before the idle time: it fills the receive path and the reply buffer)."""
    count = burst_bytes // len(b"NOOP\r\n")
    sock.sendall(b"NOOP\r\n" * count)
    data = b""
    deadline = time.monotonic() + 30
    while data.count(b"\r\n") < count and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed during the NOOP burst")
        data += chunk
    if data.count(b"\r\n") != count:
        raise RuntimeError("%d of %d NOOP replies" % (data.count(b"\r\n"), count))


def open_idle(port, count, sources, burst_bytes=0):
    held = []
    for i in range(count):
        source = sources[i % len(sources)]
        s = socket.create_connection(("127.0.0.1", port), timeout=10,
                                     source_address=(source, 0))
        held.append(s)
        banner = read_reply(s)
        if not banner.startswith(b"220"):
            raise RuntimeError("connection %d: %r" % (i, banner))
        s.sendall(b"EHLO idle%d.test\r\n" % i)
        if not read_reply(s).startswith(b"250"):
            raise RuntimeError("connection %d: EHLO refused" % i)
        if burst_bytes:
            noop_burst(s, burst_bytes)
    return held


def start_ringmta(exe, workdir, shards, connections):
    port = free_port()
    config = os.path.join(workdir, "ringmta.toml")
    with open(config, "w") as f:
        f.write('[server]\nhostname = "bench.test"\nshards = %d\nspool_dir = "%s"\n'
                '[ingress]\nlisten = ["127.0.0.1:%d"]\nmax_connections = %d\n'
                '[routes]\n"*" = ["127.0.0.1:9"]\n'
                % (shards, os.path.join(workdir, "spool"), port, 2 * connections + 100))
    log = open(os.path.join(workdir, "ringmta.log"), "wb")
    proc = subprocess.Popen([exe, "--config", config], stdout=log, stderr=log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("ringmta exited with %d" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                read_reply(s)
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("ringmta did not accept on port %d" % port)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ringmta", default="build/src/ringmta")
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--sources", type=int, default=4,
                        help="source addresses 127.0.0.1 .. 127.0.0.N")
    parser.add_argument("--target-bytes", type=int, default=8192)
    parser.add_argument("--burst-bytes", type=int, default=0,
                        help="pipelined NOOPs each connection sends before going idle")
    args = parser.parse_args()
    if (not 1 <= args.connections <= 60000 or not 1 <= args.sources <= 250
            or not 0 <= args.burst_bytes <= 1 << 20):
        print("--connections 1..60000, --sources 1..250, --burst-bytes 0..1MiB",
              file=sys.stderr)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = args.connections + 100
    if hard != resource.RLIM_INFINITY and hard < needed:
        print("RLIMIT_NOFILE hard limit %d < %d" % (hard, needed), file=sys.stderr)
        return 2
    # ringmta inherits this limit (and raises its own soft limit to the hard one).
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    sources = ["127.0.0.%d" % (i + 1) for i in range(args.sources)]
    workdir = tempfile.mkdtemp(prefix="ringmta-idle-")
    proc = None
    held = []
    try:
        proc, port = start_ringmta(args.ringmta, workdir, args.shards, args.connections)
        # Warm-up: first allocations, buffer ring pages.
        held = open_idle(port, 1, sources, args.burst_bytes)
        before = settled_rss_kib(proc.pid)
        started = time.monotonic()
        held += open_idle(port, args.connections, sources, args.burst_bytes)
        open_s = time.monotonic() - started
        after = settled_rss_kib(proc.pid)
        per_connection = (after - before) * 1024.0 / args.connections
        result = {"connections": args.connections, "shards": args.shards,
                  "burst_bytes": args.burst_bytes,
                  "rss_before_kib": before, "rss_after_kib": after,
                  "bytes_per_connection": round(per_connection),
                  "open_seconds": round(open_s, 2), "target_bytes": args.target_bytes}
        print("| %d | %d | %d | %d | %.0f |" % (args.connections, args.shards, before, after,
                                                per_connection))
        print(json.dumps(result))
        return 0 if per_connection < args.target_bytes else 1
    except (OSError, RuntimeError) as error:
        print("idle_connections: %s (log in %s)" % (error, workdir), file=sys.stderr)
        workdir = None
        return 2
    finally:
        for s in held:
            s.close()
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
