#!/usr/bin/env python3
"""Recovery time and memory for a large queue (the journal issue's benchmark).

Writes a spool with bench's journal_fill (MESSAGES messages of RECIPIENTS
recipients each, every recipient deferred with its next attempt an hour ahead,
as after a long outage of the receivers), starts ringmta on it, and measures:

* recovery time: from starting ringmta until it accepts SMTP connections (it
  replays the journal before it listens), and the per-shard time it logs;
  with a cold page cache (caches dropped first; needs root) and a warm one;
* memory: ringmta's settled VmRSS with that queue minus its VmRSS with an empty
  spool (same configuration), per queued recipient; and VmHWM (the peak).

    bench/recovery.py --build build --messages 1000000 --recipients 1

Mail is routed by MX (no static route), so each of the 1,000 recipient domains
gets its own destination, as in a real queue. Loopback only (the resolver is a
closed loopback port, and nothing is due for an hour, so nothing is sent); every wait is bounded. Prints a Markdown table row and a
JSON line; exit status 0 when the RSS per recipient is at most --target-bytes
(default 128), 1 otherwise, 2 on a setup error.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from benchlib import free_port  # noqa: E402

START_TIMEOUT_S = 600
SETTLE_S = 1.0


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s for pid %d" % (field, pid))


def settled_rss_kib(pid):
    """VmRSS once two readings SETTLE_S apart agree within 256 KiB (at most 10 tries)."""
    last = status_kib(pid, "VmRSS")
    for _ in range(10):
        time.sleep(SETTLE_S)
        now = status_kib(pid, "VmRSS")
        if abs(now - last) <= 256:
            return now
        last = now
    return last


def write_config(workdir, spool, shards):
    port = free_port()
    path = os.path.join(workdir, "ringmta.toml")
    with open(path, "w") as f:
        f.write("\n".join([
            "[server]", 'hostname = "recovery.test"', "shards = %d" % shards,
            'spool_dir = "%s"' % spool,
            "[ingress]", 'listen = ["127.0.0.1:%d"]' % port,
            "[dns]", 'resolvers = ["127.0.0.1:%d"]' % free_port(), 'timeout = "500ms"',
            "attempts = 1",
            "[delivery]", 'retry_min = "1h"', 'retry_max = "2h"', ""]))
    return path, port


class ringmta:
    def __init__(self, exe, config, port, log_path):
        self.port = port
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen([exe, "--config", config], stdout=self._log,
                                     stderr=self._log)
        self.ready_s = self._wait_listening()

    def _wait_listening(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("ringmta exited with %d; see %s" % (self.proc.returncode,
                                                                      self.log_path))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.recv(512)
                    return time.monotonic() - self.started
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("ringmta did not listen within %d s" % START_TIMEOUT_S)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def drop_caches():
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def logged_recovery(log_path):
    with open(log_path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    found = re.findall(r"recovered (\d+) queued message\(s\), (\d+) recipient\(s\), in (\d+) ms",
                       text)
    return (sum(int(m) for m, _, _ in found), sum(int(r) for _, r, _ in found),
            max([int(ms) for _, _, ms in found] or [0]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--messages", type=int, default=1000000)
    parser.add_argument("--recipients", type=int, default=1, help="per message")
    parser.add_argument("--body-bytes", type=int, default=2048)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--workdir", default="/var/tmp",
                        help="parent of the spool: a real disk, not tmpfs")
    parser.add_argument("--target-bytes", type=int, default=128)
    parser.add_argument("--no-cold", action="store_true",
                        help="skip the cold-cache run (it drops the whole machine's page cache)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    exe = os.path.join(args.build, "src", "ringmta")
    fill = os.path.join(args.build, "bench", "journal_fill")
    for program in (exe, fill):
        if not os.access(program, os.X_OK):
            print("recovery.py: %s is missing (build first)" % program, file=sys.stderr)
            return 2
    workdir = tempfile.mkdtemp(prefix="ringmta-recovery-", dir=args.workdir)
    try:
        empty_spool = os.path.join(workdir, "empty")
        config, port = write_config(workdir, empty_spool, args.shards)
        r = ringmta(exe, config, port, os.path.join(workdir, "empty.log"))
        baseline_kib = settled_rss_kib(r.proc.pid)
        r.stop()

        spool = os.path.join(workdir, "spool")
        t = time.monotonic()
        out = subprocess.run([fill, spool, str(args.shards), str(args.messages),
                              str(args.recipients), str(args.body_bytes)], check=True,
                             capture_output=True, text=True).stdout.strip()
        fill_s = time.monotonic() - t
        spool_bytes = sum(os.path.getsize(os.path.join(d, f))
                          for d, _, fs in os.walk(spool) for f in fs)
        print("# %s in %.1f s (%.2f GB of segments)" % (out, fill_s, spool_bytes / 1e9),
              file=sys.stderr)
        config, port = write_config(workdir, spool, args.shards)
        runs = {}
        for mode in ("warm",) if args.no_cold else ("cold", "warm"):
            if mode == "cold" and not drop_caches():
                print("# cannot drop the page cache (not root): no cold run", file=sys.stderr)
                continue
            log_path = os.path.join(workdir, mode + ".log")
            r = ringmta(exe, config, port, log_path)
            rss_kib = settled_rss_kib(r.proc.pid)
            hwm_kib = status_kib(r.proc.pid, "VmHWM")
            r.stop()
            messages, recipients, shard_ms = logged_recovery(log_path)
            if recipients != args.messages * args.recipients:
                print("recovery.py: ringmta recovered %d recipients, want %d (see %s)"
                      % (recipients, args.messages * args.recipients, log_path),
                      file=sys.stderr)
                return 1
            runs[mode] = {"ready_s": round(r.ready_s, 2), "slowest_shard_ms": shard_ms,
                          "rss_kib": rss_kib, "peak_rss_kib": hwm_kib,
                          "bytes_per_recipient": round((rss_kib - baseline_kib) * 1024 /
                                                       recipients, 1)}
            print("# %s: listening after %.2f s (slowest shard %d ms), RSS %d KiB, peak %d KiB"
                  % (mode, r.ready_s, shard_ms, rss_kib, hwm_kib), file=sys.stderr)
        warm = runs["warm"]
        result = {"messages": args.messages, "recipients_per_message": args.recipients,
                  "recipients": args.messages * args.recipients, "body_bytes": args.body_bytes,
                  "shards": args.shards, "spool_bytes": spool_bytes,
                  "baseline_rss_kib": baseline_kib, "runs": runs}
        cold = runs.get("cold")
        print("| %d x %d | %.2f GB | %s | %.2f s | %d MiB | %.1f B | %d MiB |" % (
            args.messages, args.recipients, spool_bytes / 1e9,
            "%.2f s" % cold["ready_s"] if cold else "n/a", warm["ready_s"],
            (warm["rss_kib"] - baseline_kib) // 1024, warm["bytes_per_recipient"],
            warm["peak_rss_kib"] // 1024))
        print(json.dumps(result))
        return 0 if warm["bytes_per_recipient"] <= args.target_bytes else 1
    finally:
        if args.keep:
            print("# kept %s" % workdir, file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
