"""bench_probe: what ringmta-bench measures about the host itself.

The machine's description (CPU, cores, memory, kernel, filesystem), counters
read before and after a load (all CPUs' busy time from /proc/stat, a block
device's flushes and busy time from /sys/dev/block), and two ceilings measured
in the same run: raw loopback TCP bandwidth and the disk's fdatasync rate.
Standard library only; every loop is bounded in time.
"""

import math, os, platform, socket, subprocess, threading, time

LOOPBACK_CHUNK_BYTES = 1 << 20      # one sendall/recv_into; large, so Python's cost is small
FDATASYNC_WRITE_BYTES = 4096        # one small record per sync, as a lone commit writes
FDATASYNC_FILE_BYTES = 64 << 20     # preallocated like a journal segment (its default size)


def read_first_line(path, prefix):
    try:
        with open(path) as f:
            return next((l.split(":", 1)[1].strip() for l in f if l.startswith(prefix)), "?")
    except OSError:
        return "?"


def machine(workdir):
    """What the report states about the host."""
    mem_kib = read_first_line("/proc/meminfo", "MemTotal").split()[0]
    os_name = "?"
    try:
        with open("/etc/os-release") as f:
            os_name = next((l.split("=", 1)[1].strip().strip('"') for l in f
                            if l.startswith("PRETTY_NAME=")), "?")
    except OSError:
        pass
    fs = "?"
    try:
        fs = subprocess.run(["findmnt", "-no", "SOURCE,FSTYPE", "-T", workdir], text=True,
                            capture_output=True, timeout=30).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "cpu_model": read_first_line("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count() or 1,
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_gib": round(int(mem_kib) / 1048576, 1) if mem_kib.isdigit() else None,
        "kernel": platform.release(),
        "os": os_name,
        "python": platform.python_version(),
        "workdir_fs": fs,
    }


def load_average():
    return os.getloadavg()[0]


def cpu_snapshot():
    """(busy jiffies, total jiffies) over all CPUs, from /proc/stat's first line."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)   # idle + iowait
    total = sum(fields[:8])                                    # guest time is inside user
    return total - idle, total


def cpu_busy_fraction(before, after):
    busy, total = after[0] - before[0], after[1] - before[1]
    return busy / total if total > 0 else None


def block_stat_path(path):
    """/sys/dev/block/M:m/stat of the device holding `path` (None on tmpfs, overlay...)."""
    dev = os.stat(path).st_dev
    stat = f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}/stat"
    return stat if os.path.exists(stat) else None


def disk_snapshot(stat_path):
    """(monotonic s, flush requests completed, ms the device was busy); flushes are
    field 16 of the block stat file (kernel 5.5+), None where it is missing."""
    if stat_path is None:
        return None
    with open(stat_path) as f:
        fields = [int(x) for x in f.read().split()]
    flushes = fields[15] if len(fields) >= 17 else None
    return time.monotonic(), flushes, fields[9]


def disk_rates(before, after):
    """Flushes per second and busy fraction between two disk snapshots."""
    if before is None or after is None or after[0] <= before[0]:
        return None, None
    seconds = after[0] - before[0]
    flushes = None if before[1] is None else (after[1] - before[1]) / seconds
    return flushes, min(1.0, (after[2] - before[2]) / 1000 / seconds)


def loopback_ceiling(seconds=2.0):
    """Bytes/s one TCP connection carries over 127.0.0.1: a thread receives into a
    reused buffer while this one sends 1 MiB chunks for `seconds`."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(10)
    received = [0]

    def receive():
        conn, _ = server.accept()
        conn.settimeout(30)
        buf = bytearray(LOOPBACK_CHUNK_BYTES)
        with conn:
            while (n := conn.recv_into(buf)) > 0:
                received[0] += n

    t = threading.Thread(target=receive, daemon=True)
    t.start()
    chunk = b"x" * LOOPBACK_CHUNK_BYTES
    with socket.create_connection(server.getsockname(), timeout=30) as client:
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            client.sendall(chunk)
        client.shutdown(socket.SHUT_WR)
        t.join(30)
        elapsed = time.monotonic() - t0
    server.close()
    return received[0] / elapsed


def sync_loop(path, seconds, counts, i):
    """pwrite 4 KiB + fdatasync at growing offsets of a preallocated (fallocate)
    file, as the journal writes its segments: each sync also commits the
    unwritten-extent conversion, so it costs the disk what a journal commit does."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.posix_fallocate(fd, 0, FDATASYNC_FILE_BYTES)
        os.fsync(fd)
        block, t0 = b"\0" * FDATASYNC_WRITE_BYTES, time.monotonic()
        while time.monotonic() - t0 < seconds and \
                (counts[i] + 1) * FDATASYNC_WRITE_BYTES <= FDATASYNC_FILE_BYTES:
            os.pwrite(fd, block, counts[i] * FDATASYNC_WRITE_BYTES)
            os.fdatasync(fd)
            counts[i] += 1
    finally:
        os.close(fd)
        os.unlink(path)


def fdatasync_ceiling(directory, seconds=1.5, writers=(1, 2)):
    """The disk's rate of durable small writes in the spool's filesystem, with one
    writer and with several at once (threads, one file each: shards commit side by
    side). Returns (best syncs/s, best device flushes/s or None, per-writers detail)."""
    stat, detail = block_stat_path(directory), {}
    for n in writers:
        counts = [0] * n
        threads = [threading.Thread(target=sync_loop, daemon=True, args=(
            os.path.join(directory, f"fdatasync-probe-{i}"), seconds, counts, i))
            for i in range(n)]
        d0, t0 = disk_snapshot(stat), time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 30)
        elapsed = time.monotonic() - t0
        flushes, _ = disk_rates(d0, disk_snapshot(stat))
        detail[n] = {"syncs_per_s": sum(counts) / elapsed, "flushes_per_s": flushes}
    syncs = max(d["syncs_per_s"] for d in detail.values())
    flushes = [d["flushes_per_s"] for d in detail.values() if d["flushes_per_s"] is not None]
    return syncs, max(flushes) if flushes else None, detail


def percentiles(values, ranks=(50, 99, 99.9)):
    """Nearest-rank percentiles of `values` (None when empty)."""
    if not values:
        return {p: None for p in ranks}
    v = sorted(values)
    return {p: v[max(0, min(len(v) - 1, math.ceil(len(v) * p / 100) - 1))] for p in ranks}
