"""Starts tests/observe/admin_test_server on a free loopback port and stops it.

Shared by test_admin.py (the HTTP layer) and test_ctl.py (ringmta-ctl). The
server records every backend call as a line in a file; calls() reads them.
Every wait is bounded; the process is killed in the end.
"""

import os
import subprocess
import tempfile
import time

START_TIMEOUT_S = 10


class admin_server:
    def __init__(self, program):
        self.dir = tempfile.mkdtemp(prefix="ringmta-admin-test-")
        self.calls_path = os.path.join(self.dir, "calls")
        port_path = os.path.join(self.dir, "port")
        self.stderr_path = os.path.join(self.dir, "stderr")
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [program, "--listen", "127.0.0.1:0", "--calls", self.calls_path,
                 "--port-file", port_path],
                stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + START_TIMEOUT_S
        self.port = None
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with open(port_path) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    break
            except FileNotFoundError:
                pass
            time.sleep(0.02)
        if self.port is None:
            self.stop()
            raise RuntimeError("admin_test_server did not start")
        self.address = "127.0.0.1:%d" % self.port

    def calls(self):
        try:
            with open(self.calls_path) as f:
                return [line.rstrip("\n") for line in f]
        except FileNotFoundError:
            return []

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        """Stops the server and keeps what it wrote to stderr (sanitizer reports)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        with open(self.stderr_path, errors="replace") as f:
            self.stderr = f.read()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


def run_checks(checks, argument, server, expected_errors):
    """Runs each check(argument), printing "ok - name" or "not ok - name: why"
    and finally "N passed, N failed"; stops the server. The exit status."""
    passed = failed = 0
    try:
        for check in checks:
            try:
                check(argument)
                if not server.alive():
                    raise RuntimeError("the admin server died")
                print("ok - %s" % check.__name__)
                passed += 1
            except expected_errors + (RuntimeError,) as error:
                print("not ok - %s: %s" % (check.__name__, error))
                failed += 1
    finally:
        server.stop()
    # UBSan reports and continues: a report is a failure even if every check passed.
    if "runtime error" in server.stderr or "Sanitizer" in server.stderr:
        print("not ok - sanitizer report from the server:\n" + server.stderr)
        failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0
