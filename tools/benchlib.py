"""benchlib: the pieces tools/bench-relay and tools/ringmta-bench share.

Processes on loopback (ringmta-sink, ringmta-blast, ringmta, a private as-shipped
Postfix instance, Postfix's smtp-sink and smtp-source), bounded waits for them,
signal handling that stops every child in order, and /proc accounting of a
process tree (CPU, disk writes, memory). Method and Postfix setup:
docs/bench-relay.md. Standard library only.

A "workload" below is any object with the attributes build (meson build
directory, absolute), messages, size, connections, domains and postfix_set
(KEY=VALUE strings); argparse's namespace is one.
"""

import contextlib, json, os, re, select, shutil, signal, socket, subprocess, sys
import threading, time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
POSTFIX, POSTCONF = "/usr/sbin/postfix", "/usr/sbin/postconf"
SMTP_SOURCE, SMTP_SINK = "/usr/sbin/smtp-source", "/usr/sbin/smtp-sink"
START_TIMEOUT_S = 30   # a relay or sink must greet within this
STOP_TIMEOUT_S = 60    # a clean stop must finish within this, then we kill
POLL_S = 0.025         # completion polling (the ringmta sink's stats file is 100 ms coarse)
STALL_S = 10           # after a failed generator: no sink progress this long => give up


class BenchError(Exception):
    """A path could not run (setup error); the message says why."""


class Interrupted(BaseException):
    """SIGINT/SIGTERM/SIGHUP: unwinds through every finally so relays get stopped."""


class Shield:
    depth, pending, fired = 0, None, False


def on_signal(signum, _frame):
    # Python runs this in the main thread. Inside shielded() (cleanups, Postfix
    # start) the signal is held until the block ends, so a Ctrl-C cannot leave
    # half an instance running. Only the first signal counts.
    if Shield.fired:
        return
    if Shield.depth:
        Shield.pending = signal.Signals(signum).name
        return
    Shield.fired = True
    raise Interrupted(signal.Signals(signum).name)


@contextlib.contextmanager
def shielded():
    Shield.depth += 1
    try:
        yield
    finally:
        Shield.depth -= 1
        if Shield.depth == 0 and Shield.pending and not Shield.fired:
            Shield.fired = True
            raise Interrupted(Shield.pending)


PROGRAM = ["bench"]      # the name log lines start with: set_program()
LOG_HOOKS = []           # called before each log line (ringmta-bench clears its progress line)


def set_program(name):
    PROGRAM[0] = name


def log(msg):
    for hook in LOG_HOOKS:
        hook()
    print(f"{PROGRAM[0]} {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def free_port():
    # The kernel picks an unused port; the short race until the server binds it
    # is acceptable on a benchmark host.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_smtp_ready(port, what, proc=None, host="127.0.0.1"):
    """Wait for a 220 greeting: a bound port is not enough (Postfix's master binds
    before any smtpd runs); the greeting proves the whole accept path works."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"{what} exited with status {proc.returncode} during start")
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                greeting = s.recv(512)
                s.sendall(b"QUIT\r\n")
                if greeting.startswith(b"220"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError(f"{what} did not greet on {host}:{port} within {START_TIMEOUT_S} s")


def stop_process(proc, grace_s=STOP_TIMEOUT_S):
    """SIGTERM, SIGKILL after grace_s; returns the exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def tail(path, nbytes=2000):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - nbytes))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


# ---------------------------------------------------------------- /proc accounting

def process_tree(root):
    """root and its live descendants, from /proc/<pid>/task/<tid>/children (a child
    hangs off the thread that forked it, so every thread is read)."""
    pids, todo = [], [root]
    while todo and len(pids) < 10000:
        pid = todo.pop()
        pids.append(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass   # exited meanwhile
    return pids


def tree_cpu_s(root):
    """CPU seconds used so far by a process tree: each live process's utime+stime
    plus cutime+cstime, its reaped children's. An exited smtpd is in master's
    cutime once master reaped it, so nothing is lost or counted twice. (A wrapper
    with wait4() would undercount Postfix: on stop, master exits without reaping
    its children.) Callers take the difference of two readings."""
    ticks = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                data = f.read()
            fields = data[data.rfind(")") + 2:].split()   # fields[0] is stat field 3
            ticks += sum(int(x) for x in fields[11:15])    # utime stime cutime cstime
        except (OSError, ValueError):
            pass
    return ticks / CLK_TCK


def tree_write_bytes(root):
    """Bytes the live processes of a tree caused to be written to storage so far
    (/proc/<pid>/io write_bytes, counted when pages are dirtied, so buffered
    writes count before writeback). Exited children are not included: Postfix's
    daemons live through a run, ringmta is one process. Callers take differences."""
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/io") as f:
                total += next(int(l.split()[1]) for l in f if l.startswith("write_bytes:"))
        except (OSError, StopIteration, ValueError):
            pass
    return total


def tree_mem_kib(root, pss=False):
    """Sum over the tree of VmRSS (statm, cheap) or of PSS (smaps_rollup, which
    splits shared pages among their users, so ~100 Postfix processes sharing
    libraries are not counted ~100 times; ~5x dearer to read)."""
    total = 0
    for pid in process_tree(root):
        try:
            if pss:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    total += next(int(l.split()[1]) for l in f if l.startswith("Pss:"))
            else:
                with open(f"/proc/{pid}/statm") as f:
                    total += int(f.read().split()[1]) * PAGE_KIB
        except (OSError, ValueError, IndexError, StopIteration):
            pass
    return total


class MemSampler(threading.Thread):
    """Peak summed RSS of a tree every 100 ms, peak summed PSS every 500 ms."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root, self.rss_kib, self.pss_kib = root, 0, 0
        self._halt = threading.Event()

    def run(self):
        for i in range(10**7):   # ~11 days at 100 ms: bounded, never reached
            if self._halt.wait(0.1):
                return
            self.rss_kib = max(self.rss_kib, tree_mem_kib(self.root))
            if i % 5 == 0:
                self.pss_kib = max(self.pss_kib, tree_mem_kib(self.root, pss=True))

    def stop(self):
        self._halt.set()
        self.join(5)


# ---------------------------------------------------------------- sinks

class RingmtaSink:
    """ringmta-sink on host:port (port 0: one picked now), `shards` threads."""

    def __init__(self, args, rundir, host="127.0.0.1", port=0, shards=1):
        self.bin = os.path.join(args.build, "tools/sink/ringmta-sink")
        self.out = os.path.join(rundir, "sink.out")
        self.stats = os.path.join(rundir, "sink-stats.json")
        self.host, self.port, self.shards = host, port, shards
        self.count, self.bytes, self.proc = 0, 0, None

    def spawn(self, cmd):
        self.port = self.port or free_port()
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(cmd(self.port), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        wait_smtp_ready(self.port, os.path.basename(self.bin), self.proc, self.host)

    def start(self):
        self.spawn(lambda port: [self.bin, "--listen", f"{self.host}:{port}", "--shards",
                                 str(self.shards), "--stats-file", self.stats])

    def delivered(self):
        # The file is rewritten at most every 100 ms; a torn read keeps the last figure.
        try:
            with open(self.stats) as f:
                stats = json.load(f)
            self.count = max(self.count, int(stats["messages"]))
            self.bytes = max(self.bytes, int(stats["bytes"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return self.count

    def stop(self):
        if self.proc:
            stop_process(self.proc)
            for line in reversed(tail(self.out).splitlines()):   # final JSON on stdout
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    self.count = max(self.count, int(json.loads(line)["messages"]))
                    break
        return self.count


class SmtpSink(RingmtaSink):
    """Postfix's smtp-sink. With -c it writes "sess=N quit=N mesg=N\\r" after each
    message; stdout goes to a file whose last counter we read."""

    def start(self):
        self.bin = SMTP_SINK
        # As root smtp-sink insists on -u; -m lifts its 256-connection default.
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self.spawn(lambda port: [SMTP_SINK, "-c", "-m", "1000", *user,
                                 f"127.0.0.1:{port}", "1000"])

    def delivered(self):
        found = re.findall(r"mesg=(\d+)", tail(self.out, 200))
        self.count = max([self.count] + [int(n) for n in found[-1:]])
        return self.count

    def stop(self):
        if self.proc:
            stop_process(self.proc)
        return self.delivered()


# ---------------------------------------------------------------- generators

class Blast:
    name = "ringmta-blast"

    def __init__(self, args, rundir):
        self.args, self.procs = args, []
        self.bin = os.path.join(args.build, "tools/blast/ringmta-blast")
        self.out, self.err = (os.path.join(rundir, n) for n in ("gen.out", "gen.err"))

    def start(self, port, host="127.0.0.1", shards=1):
        a = self.args
        self.spawn([[self.bin, "--server", f"{host}:{port}", "--messages", str(a.messages),
                     "--size", str(a.size), "--connections", str(a.connections),
                     "--domains", str(a.domains), "--shards", str(shards), "--json"]])

    def spawn(self, cmds):
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.procs = [subprocess.Popen(c, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                           start_new_session=True) for c in cmds]

    def done(self):
        return all(p.poll() is not None for p in self.procs)

    def report(self):
        """blast's JSON report (None if it printed none)."""
        try:
            return json.loads(tail(self.out, 100000).strip().splitlines()[-1])
        except (ValueError, IndexError):
            return None

    def result(self, seconds):
        """(all accepted?, accepted count, accepted msg/s): blast's own figures."""
        r = self.report()
        try:
            return self.procs[0].returncode == 0 and r["failed"] == 0, r["accepted"], \
                r["messages_per_s"]
        except (TypeError, KeyError):
            log(f"{self.name}: no JSON result; stderr: {tail(self.err, 500)!r}")
            return False, None, None

    def stop(self):
        for p in self.procs:
            stop_process(p, 5)


class SmtpSource(Blast):
    """Postfix's smtp-source sends to one recipient, so D domains take D processes
    sharing the connections and messages. -d keeps each connection for the next
    message, as a bulk sender (and blast) does."""
    name = "smtp-source"

    def start(self, port):
        a = self.args
        n = min(a.domains, a.connections, a.messages)
        self.counts = [a.messages // n + (i < a.messages % n) for i in range(n)]
        self.spawn([[SMTP_SOURCE, "-d", "-s", str(a.connections // n + (i < a.connections % n)),
                     "-l", str(a.size), "-m", str(self.counts[i]), "-M", "client.example.org",
                     "-f", "sender@client.example.org", "-t", f"rcpt@d{i}.example.net",
                     f"127.0.0.1:{port}"] for i in range(n)])

    def result(self, seconds):
        # smtp-source stops at the first non-2xx reply without saying how many got
        # through, so a failed process counts as 0 accepted.
        accepted = sum(c for c, p in zip(self.counts, self.procs) if p.returncode == 0)
        ok = accepted == sum(self.counts)
        if not ok:
            log(f"smtp-source failed: {tail(self.err, 500)!r}")
        return ok, accepted, accepted / seconds if seconds > 0 else None


# ---------------------------------------------------------------- relays

class RingmtaRelay:
    durability = "config default (fsync before 250)"
    rss_method = "VmHWM of the ringmta process"

    def __init__(self, args, rundir, sink_port, server=None, journal=None):
        """server, journal: extra keys for those config tables ({"shards": 1},
        {"durability": "nosync"}); without them every key keeps its default."""
        self.args, self.rundir, self.sink_port = args, rundir, sink_port
        self.server, self.journal = server or {}, journal or {}
        self.bin = os.path.join(args.build, "src/ringmta")
        self.log = os.path.join(rundir, "ringmta.log")
        self.spool = os.path.join(rundir, "spool")
        self.proc, self.exit_status = None, None

    def start(self):
        self.port = free_port()
        cfg = os.path.join(self.rundir, "ringmta.toml")
        os.makedirs(self.spool)
        extra = lambda table: "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())
        # Without a durability key ringmta runs in its default mode, which fsyncs.
        with open(cfg, "w") as f:
            f.write(f'[server]\nhostname = "bench.ringmta.test"\nspool_dir = "{self.spool}"\n'
                    f'{extra(self.server)}\n'
                    f'[ingress]\nlisten = ["127.0.0.1:{self.port}"]\n\n'
                    f'[routes]\n"*" = ["127.0.0.1:{self.sink_port}"]\n\n'
                    f'[delivery]\nmax_connections = {self.args.connections}\n'
                    + (f'\n[journal]\n{extra(self.journal)}' if self.journal else ""))
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([self.bin, "--config", cfg], stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, cwd=self.rundir,
                                         start_new_session=True)
        try:
            wait_smtp_ready(self.port, "ringmta", self.proc)
        except BenchError as e:
            raise BenchError(f"{e}; log tail:\n{tail(self.log)}") from None
        self.root = self.proc.pid

    def journal_writes(self):
        """How the journal writes ("O_DIRECT", or "buffered (why)"), from the ready
        line; None if ringmta has not written it yet (it comes once every shard has
        started, which can be after the port first accepts)."""
        with open(self.log, errors="replace") as f:
            found = re.search(r"journal writes (.+?), spool ", f.read())
        return found.group(1) if found else None

    def alive(self):
        return self.proc.poll() is None

    def peak_rss_kib(self, sampler):
        try:   # the kernel's own high-water mark; read while the process lives
            with open(f"/proc/{self.root}/status") as f:
                return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
        except (OSError, StopIteration):
            return None

    def stop(self):
        if self.proc:
            how = "on SIGTERM (expected 0)" if self.alive() else "by itself during the run"
            self.exit_status = stop_process(self.proc)
            if self.exit_status != 0:
                log(f"ringmta exited with status {self.exit_status} {how}; "
                    f"log tail:\n{tail(self.log, 800)}")


class PostfixRelay:
    durability = "as shipped (fsync of every queue file before 250)"
    rss_method = "largest sum of VmRSS over all instance processes, sampled every 100 ms"

    def __init__(self, args, rundir, sink_port):
        self.args, self.rundir, self.sink_port = args, rundir, sink_port
        self.etc, self.queue, self.data, self.maillog = (
            os.path.join(rundir, n) for n in ("postfix-etc", "postfix-queue", "postfix-data",
                                              "maillog"))
        self.root, self.started = None, False

    def main_cf(self):
        """The whole main.cf; anything unlisted keeps Postfix's compiled-in default
        (`postconf -d`). Nothing here touches fsync: Postfix has no such parameter,
        its cleanup daemon fsyncs each queue file before smtpd says 250."""
        c = str(self.args.connections)
        params = [
            ("compatibility_level", "3.6"),
            ("queue_directory", self.queue),         # private queue, own master.pid
            ("data_directory", self.data),
            ("myhostname", "bench.postfix.test"),   # not the host's (maybe unqualified) name
            ("inet_interfaces", "127.0.0.1"),
            ("inet_protocols", "ipv4"),
            ("mydestination", ""),                  # nothing is local: relay only
            ("relay_domains", ""),
            ("mynetworks", "127.0.0.0/8"),          # so the generator may relay
            ("relayhost", f"[127.0.0.1]:{self.sink_port}"),   # brackets: no MX lookup
            # One next hop, so one qmgr queue: as many parallel deliveries to it as
            # ringmta gets outbound connections.
            ("default_destination_concurrency_limit", c),
            ("smtp_destination_concurrency_limit", c),
            ("maillog_file", self.maillog),         # no syslog here; postlogd writes it
            ("maillog_file_prefixes", self.rundir), # the default allows only /var, /dev/stdout
            ("smtputf8_enable", "no"),
            # No local delivery here; without these each smtpd logs an error for the
            # missing /etc/aliases.db and a NIS warning (Debian's postinst, not run
            # here, would have built the former).
            ("alias_maps", ""),
            ("alias_database", ""),
        ]
        params = dict(params) | {k.strip(): v.strip() for k, v in
                                 (kv.split("=", 1) for kv in self.args.postfix_set)}
        return "".join(f"{k} = {v}\n" for k, v in params.items())

    def master_cf(self):
        """Debian's master.cf with these changes: the port-25 "smtp inet" service
        listens on 127.0.0.1:<port> instead; any other inet service (submission,
        smtps, if enabled locally) is commented out; every service runs unchrooted
        (column 5 "n"), so the private queue needs no copied /etc files. Chroot
        confines a daemon; it changes nothing about what is written or fsynced."""
        out, dropping = [], False
        with open("/etc/postfix/master.cf") as f:
            for line in f:
                fields = line.split()
                if line[0] in " \t" and fields and not line.lstrip().startswith("#"):
                    out.append("#" + line if dropping else line)   # continuation line
                    continue
                if not fields or line[0] == "#":
                    out.append(line)
                    continue
                dropping = fields[1] == "inet" and fields[0] != "smtp"
                if dropping:
                    out.append("# bench-relay: disabled: " + line)
                    continue
                if fields[:2] == ["smtp", "inet"]:
                    fields[0] = f"127.0.0.1:{self.port}"
                elif fields[4] == "n":
                    out.append(line)
                    continue
                fields[4] = "n"
                out.append(" ".join(fields) + "\n")
        return "".join(out)

    def postfix(self, cmd):
        """Run `postfix -c <etc> cmd`; returns (status, output). postfix(1) prints
        errors on stderr only when it is a terminal (else only to syslog, which
        this host lacks), so it gets a pty."""
        master_fd, slave_fd = os.openpty()
        chunks, deadline = [], time.monotonic() + STOP_TIMEOUT_S
        try:
            proc = subprocess.Popen([POSTFIX, "-c", self.etc, cmd], stdin=subprocess.DEVNULL,
                                    stdout=slave_fd, stderr=slave_fd, start_new_session=True)
            os.close(slave_fd)
            slave_fd = None
            while time.monotonic() < deadline:
                # master may keep the pty open, so stop reading when postfix exits.
                if select.select([master_fd], [], [], 0.1)[0]:
                    try:
                        data = os.read(master_fd, 65536)
                    except OSError:   # EIO: every writer closed the pty
                        data = b""
                    if data:
                        chunks.append(data)
                        continue
                    time.sleep(0.1)   # at end of file select stays ready: don't spin
                if proc.poll() is not None:
                    break
            else:
                proc.kill()
            status = proc.wait(10)
        finally:
            os.close(master_fd)
            if slave_fd is not None:
                os.close(slave_fd)
        return status, b"".join(chunks).decode("utf-8", "replace").replace("\r", "")

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid/master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def start(self):
        self.port = free_port()
        for d in (self.etc, self.queue, self.data):   # queue root-owned, as postfix wants
            os.makedirs(d)
        shutil.chown(self.data, user="postfix")
        for name, text in (("main.cf", self.main_cf()), ("master.cf", self.master_cf())):
            with open(os.path.join(self.etc, name), "w") as f:
                f.write(text)
        # postconf warns on stderr about bad parameters (a typo in --postfix-set).
        pc = subprocess.run([POSTCONF, "-c", self.etc, "-n"], capture_output=True, text=True,
                            timeout=STOP_TIMEOUT_S)
        if pc.returncode != 0 or "warning" in pc.stderr:
            raise BenchError(f"postconf rejects the instance config:\n{pc.stderr}")
        self.started = True   # from here on stop() runs `postfix stop`, even if start fails
        with shielded():      # a signal mid-start would race the master coming up
            status, out = self.postfix("start")
        if status != 0:
            raise BenchError(f"postfix start failed ({status}):\n{out}\n"
                             f"maillog:\n{tail(self.maillog)}")
        self.root = self.master_pid()
        if self.root is None:
            raise BenchError(f"postfix started but wrote no master.pid:\n{out}")
        try:
            wait_smtp_ready(self.port, "postfix smtpd")
        except BenchError as e:
            raise BenchError(f"{e}; maillog:\n{tail(self.maillog)}") from None

    def alive(self):
        return os.path.exists(f"/proc/{self.root}")

    def peak_rss_kib(self, sampler):
        return sampler.rss_kib

    def ours(self, pid):
        # Postfix daemons chdir to queue_directory: a pid whose cwd is our queue is
        # this instance's, whatever pid reuse happened meanwhile.
        try:
            return os.readlink(f"/proc/{pid}/cwd").startswith(self.queue)
        except OSError:
            return False

    def stop(self):
        if not self.started:
            return
        self.started = False
        root = self.root or self.master_pid()
        pids = process_tree(root) if root else []
        status, out = self.postfix("stop")
        if status != 0:
            log(f"postfix stop: status {status}: {out.strip()}")
        deadline = time.monotonic() + 10
        while (left := [p for p in pids if self.ours(p)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in left:   # survivors of a failed stop die by pid, never by name
            log(f"postfix: killing leftover process {pid}")
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------- one load

def drive_load(label, sink, gen, start_gen, expected, timeout_s, relay=None, at_done=None,
               on_tick=None):
    """Starts the load (start_gen()) and waits until the sink has counted `expected`
    messages and the generator has exited: the sink counts a message at its final
    "." and the generator exits after the last 250 and QUIT, so either may come
    first. Gives up (bounded) on timeout_s, a dead relay or sink, or a failed
    generator after which delivery stalls for STALL_S. at_done() runs once, when
    the sink reaches `expected` (for readings up to the last delivery, not beyond).
    on_tick(elapsed_s, count) runs at every poll; without it a log line every 2 s.
    Returns t0, t_done (None if not all delivered), delivered, the timeline
    [(seconds, count)] of every change of the sink's count, and the generator's
    gen_ok, accepted and accepted_per_s (missing if it never exited)."""
    t0 = time.monotonic()
    start_gen()
    deadline, t_gen, t_done = t0 + timeout_s, None, None
    count, last_count, t_progress, t_report = 0, -1, t0, t0
    res = {"t0": t0, "timeline": [(0.0, 0)]}
    while t_done is None or t_gen is None:
        now = time.monotonic()
        count = sink.delivered()
        if count != last_count:
            last_count, t_progress = count, now
            res["timeline"].append((now - t0, count))
        if t_done is None and count >= expected:
            t_done = now
            if at_done:
                at_done()
        if t_gen is None and gen.done():
            t_gen = now
            res["gen_ok"], res["accepted"], res["accepted_per_s"] = gen.result(now - t0)
        if now >= deadline:
            log(f"[{label}] timeout after {timeout_s:g} s: {count} delivered")
            break
        if relay and not relay.alive():
            log(f"[{label}] relay died: {count} delivered")
            break
        if sink.proc.poll() is not None:
            log(f"[{label}] sink died: {count} delivered; {tail(sink.out, 300)!r}")
            break
        if t_gen is not None and not res["gen_ok"] and now - t_progress > STALL_S:
            log(f"[{label}] generator failed and delivery stalled at {count}")
            break
        if on_tick:
            on_tick(now - t0, count)
        elif now - t_report >= 2:
            log(f"[{label}] {count} delivered after {now - t0:.1f} s")
            t_report = now
        time.sleep(POLL_S)
    res.update(t_done=t_done, t_gen=t_gen, delivered=count)
    return res


def postfix_delays_ms(maillog):
    """The delay= of every status=sent line of a Postfix maillog, in ms: from the
    message's arrival (Postfix's clock starts when smtpd begins receiving it) to
    the receiver's reply; Postfix logs it with 10 ms resolution."""
    out = []
    with contextlib.suppress(OSError), open(maillog, errors="replace") as f:
        for line in f:
            if "status=sent" in line and (m := re.search(r" delay=([0-9.]+),", line)):
                out.append(float(m.group(1)) * 1000)
    return out
