"""Real peers for end-to-end tests: ringmta-sink and ringmta processes on
loopback, with bounded waits. Standard library only."""

import json
import os
import signal
import socket
import subprocess
import time

START_TIMEOUT_S = 10
STATS_TIMEOUT_S = 15
BLAST_TIMEOUT_S = 120
STOP_TIMEOUT_S = 15


class check_failed(Exception):
    pass


def expect(condition, reason):
    if not condition:
        raise check_failed(reason)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class sink_process:
    """One ringmta-sink with its own port, store directory and stats file."""

    def __init__(self, exe, workdir, name, extra_args=(), port=None, host="127.0.0.1"):
        self.host = host
        self.port = port or free_port()
        self.store = os.path.join(workdir, name + "-store")
        self.stats_path = os.path.join(workdir, name + "-stats.json")
        self.stdout_path = os.path.join(workdir, name + ".out")
        self.stderr_path = os.path.join(workdir, name + ".err")
        args = [exe, "--listen", "%s:%d" % (host, self.port), "--store", self.store,
                "--stats-file", self.stats_path, "--hostname", "sink.test"]
        args += list(extra_args)
        self._stdout = open(self.stdout_path, "wb")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._stdout, stderr=self._stderr)
        self._wait_accepting()

    def _wait_accepting(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise check_failed("sink exited with %d: %s" % (self.proc.returncode,
                                                                 self.stderr()))
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise check_failed("sink did not accept on port %d" % self.port)

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stats(self):
        try:
            with open(self.stats_path) as f:
                return json.loads(f.read())
        except (OSError, ValueError):
            return None

    def wait_stats(self, predicate):
        """Polls the stats file (rewritten every 100 ms) until predicate holds."""
        deadline = time.monotonic() + STATS_TIMEOUT_S
        last = None
        while time.monotonic() < deadline:
            last = self.stats()
            if last is not None and predicate(last):
                return last
            time.sleep(0.05)
        raise check_failed("stats never matched; last %r" % (last,))

    def stored(self):
        """Stems of the stored messages whose .json exists (written after the .eml)."""
        if not os.path.isdir(self.store):
            return set()
        return {n[:-5] for n in os.listdir(self.store) if n.endswith(".json")}

    def load(self, stem):
        with open(os.path.join(self.store, stem + ".json")) as f:
            envelope = json.load(f)
        with open(os.path.join(self.store, stem + ".eml"), "rb") as f:
            return envelope, f.read()

    def stop(self):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        self._stdout.close()
        self._stderr.close()


def new_messages(sink, before, count):
    """Waits until `count` messages beyond `before` are stored; returns their stems."""
    deadline = time.monotonic() + STATS_TIMEOUT_S
    while time.monotonic() < deadline:
        fresh = sink.stored() - before
        if len(fresh) >= count:
            expect(len(fresh) == count, "%d messages stored, want %d" % (len(fresh), count))
            return sorted(fresh)
        time.sleep(0.05)
    raise check_failed("%d new messages stored, want %d" % (len(sink.stored() - before),
                                                              count))


def read_replies(sock, count):
    """Reads `count` complete SMTP replies (or until EOF); returns their codes."""
    data = b""
    codes = []
    deadline = time.monotonic() + 10
    while len(codes) < count and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        while b"\r\n" in data:
            line, data = data.split(b"\r\n", 1)
            if len(line) == 3 or line[3:4] == b" ":
                codes.append(int(line[:3]))
    return codes


class ringmta_process:
    """ringmta with a generated config in its own folder; restartable."""

    def __init__(self, exe, workdir, routes, extra="", relay_networks=None, name="ringmta",
                 dns=None):
        self.exe = exe
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.accounting_path = os.path.join(self.dir, "accounting.log")
        self.log_path = os.path.join(self.dir, "ringmta.log")
        self.config_path = os.path.join(self.dir, "ringmta.toml")
        lines = ["[server]", 'hostname = "relay.test"', "shards = 2",
                 'spool_dir = "%s"' % os.path.join(self.dir, "spool"),
                 'accounting_log = "%s"' % self.accounting_path,
                 "[ingress]", 'listen = ["127.0.0.1:%d"]' % self.port]
        if relay_networks is not None:
            lines.append("relay_networks = [%s]" % ", ".join('"%s"' % n for n in relay_networks))
        # Tests talk only to loopback: without a test DNS server, the resolver is a
        # loopback port where nothing answers (a domain without a route defers).
        lines += ["[dns]", 'resolvers = ["%s"]' % (dns or "127.0.0.1:%d" % free_port()),
                  'timeout = "500ms"', "attempts = 1"]
        lines.append("[routes]")
        lines += ['"%s" = ["%s"]' % (domain, hop) for domain, hop in routes.items()]
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)
        self.proc = None

    def start(self):
        self._log = open(self.log_path, "ab")
        log_from = self._log.tell()
        self.proc = subprocess.Popen([self.exe, "--config", self.config_path],
                                     stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise check_failed("ringmta exited with %d: %s" % (self.proc.returncode,
                                                                    self.log()[-2000:]))
            # Ready means every shard: one shard may greet (SO_REUSEPORT) while another
            # is still recovering its journal, and tests read what recovery logged.
            if "ready: listening" not in self.log_since(log_from):
                time.sleep(0.05)
                continue
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.recv(512)
                    return self
            except OSError:
                time.sleep(0.05)
        raise check_failed("ringmta did not accept on port %d" % self.port)

    def log_since(self, offset):
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def accounting(self):
        try:
            with open(self.accounting_path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except OSError:
            return []

    def wait_accounting(self, predicate, what):
        deadline = time.monotonic() + STATS_TIMEOUT_S
        while time.monotonic() < deadline:
            lines = self.accounting()
            if predicate(lines):
                return lines
            time.sleep(0.05)
        raise check_failed("accounting log never showed %s; it has %r" % (what,
                                                                          self.accounting()))

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
            return None
        finally:
            self._log.close()

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
            self._log.close()


class check_context:
    """What a check's context starts from: the build's programs, the check's
    folder, and the processes that close() ends (SIGTERM to each ringmta, kill
    to each sink, going on past errors), then the stop functions a check added
    to `cleanup` (a DNS server), last first."""

    def __init__(self, build_root, workdir):
        self.build_root = build_root
        self.workdir = workdir
        self.ringmta = os.path.join(build_root, "src", "ringmta")
        self.sink_exe = os.path.join(build_root, "tools", "sink", "ringmta-sink")
        self.blast_exe = os.path.join(build_root, "tools", "blast", "ringmta-blast")
        self.processes = []
        self.cleanup = []

    def sink(self, name, *args, port=None):
        s = sink_process(self.sink_exe, self.workdir, name, args, port=port)
        self.processes.append(s)
        return s

    def close(self):
        for p in self.processes:
            try:
                if isinstance(p, ringmta_process):
                    p.stop()
                else:
                    p.kill()
            except Exception:  # cleanup must go on
                pass
        self.processes = []
        for stop in reversed(self.cleanup):
            try:
                stop()
            except Exception:  # cleanup must go on
                pass
        self.cleanup = []


def run_checks(checks, make_context, prefix, add_options=None):
    """Runs each check(ctx) with a fresh context (make_context(build_root, workdir),
    which has close()), printing "ok - name" / "not ok - name: reason" and last
    "N passed, N failed". --only runs the checks whose name contains the text.
    add_options(parser), when given, adds a test file's own arguments; their values
    reach each check as ctx.options. Returns the exit status."""
    import argparse
    import shutil
    import smtplib
    import sys
    import tempfile
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-root", required=True)
    parser.add_argument("--only", default="")
    if add_options is not None:
        add_options(parser)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix=prefix)
    passed = failed = 0
    try:
        for check in checks:
            name = check.__name__[len("check_"):]
            if args.only and args.only not in name:
                continue
            ctx = make_context(args.build_root, os.path.join(workdir, name))
            ctx.options = args
            os.makedirs(ctx.workdir)
            try:
                check(ctx)
                print("ok - %s" % name, flush=True)
                passed += 1
            except (check_failed, OSError, smtplib.SMTPException, subprocess.SubprocessError,
                    ValueError, KeyError) as error:
                print("not ok - %s: %s" % (name, error), flush=True)
                failed += 1
            finally:
                ctx.close()
    finally:
        if failed == 0:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print("# logs kept in %s" % workdir)
    print("%d passed, %d failed" % (passed, failed))
    sys.stdout.flush()
    return 1 if failed else 0
