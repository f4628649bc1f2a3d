"""dnsmasq on loopback for delivery tests: authoritative answers for test
domains from command-line records, nothing forwarded (--no-resolv), unknown
names under the local domains answered NXDOMAIN. Standard library only."""

import os
import pwd
import grp
import socket
import struct
import subprocess
import time

from peers import check_failed, free_port

DNSMASQ = "/usr/sbin/dnsmasq"
START_TIMEOUT_S = 10


def _probe(port):
    """True when something answers an A query for probe.invalid on the port."""
    query = struct.pack(">HHHHHH", 0x5151, 0x0100, 1, 0, 0, 0)
    query += b"\x05probe\x07invalid\x00" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(query, ("127.0.0.1", port))
            data, _ = s.recvfrom(512)
            return data[:2] == b"\x51\x51"
        except OSError:
            return False


class dnsmasq:
    """dnsmasq with `records` (dnsmasq options such as "--mx-host=a.test,mx.a.test,10")."""

    def __init__(self, workdir, records, local_domains=("test",), ttl=60):
        self.port = free_port()
        self.log_path = os.path.join(workdir, "dnsmasq.log")
        args = [DNSMASQ, "--port=%d" % self.port, "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--keep-in-foreground", "--pid-file=", "--log-facility=-",
                "--bind-interfaces", "--listen-address=127.0.0.1", "--log-queries",
                "--local-ttl=%d" % ttl,
                "--user=" + pwd.getpwuid(os.getuid()).pw_name,
                "--group=" + grp.getgrgid(os.getgid()).gr_name]
        args += ["--local=/%s/" % d for d in local_domains]
        args += list(records)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _probe(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise check_failed("dnsmasq did not start: %s" % self.log()[-500:])
            time.sleep(0.05)

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()

    def kill(self):
        self.stop()
