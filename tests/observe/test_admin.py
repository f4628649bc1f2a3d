#!/usr/bin/env python3
"""The admin endpoint's HTTP layer against real HTTP clients.

Runs admin_test_server (the real admin_server on a real reactor, with a backend
that records calls) and talks to it with Python's http.client, raw sockets for
what a polite client never sends (garbage, oversized heads, slow requests,
pipelining) and curl when installed. Checks every route, the arguments the
backend receives, the status codes 400/404/405/408/413/431/501/503/505,
keep-alive and connection limits. Prints "ok - name" / "not ok - name: why",
then "N passed, N failed".
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from admin_harness import admin_server, run_checks  # noqa: E402
from peers import check_failed as failed, expect  # noqa: E402

TIMEOUT_S = 5


def request(server, method, path, conn=None):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
    conn.request(method, path)
    response = conn.getresponse()
    body = response.read()
    headers = {k.lower(): v for k, v in response.getheaders()}
    if own:
        conn.close()
    return response.status, headers, body


def raw(server, data, read_until_close=True):
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as s:
        s.sendall(data)
        chunks = []
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close:
                break
        return b"".join(chunks)


def status_of(response_bytes):
    line = response_bytes.split(b"\r\n", 1)[0]
    expect(line.startswith(b"HTTP/1.1 "), "not an HTTP answer: %r" % response_bytes[:80])
    return int(line.split()[1])


def new_calls(server, before):
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        calls = server.calls()[before:]
        if calls:
            return calls
        time.sleep(0.01)
    return []


def check_metrics(server):
    status, headers, body = request(server, "GET", "/metrics")
    expect(status == 200, "status %d" % status)
    expect(headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8",
           "content type %r" % headers["content-type"])
    text = body.decode()
    expect('ringmta_delivered_total{domain="gmail.com"} 42\n' in text, text[:300])
    expect('ringmta_connections_allowed{domain="group:google"} 8\n' in text, "gauge missing")
    expect("# TYPE ringmta_delivery_seconds histogram\n" in text, "histogram missing")


def check_queue(server):
    status, headers, body = request(server, "GET", "/queue")
    expect(status == 200, "status %d" % status)
    expect(headers["content-type"] == "application/json", headers["content-type"])
    summary = json.loads(body)
    google, yahoo = summary["domains"]
    expect(google["domain"] == "group:google" and google["queued"] == 1200, repr(google))
    expect(google["in_flight"] == 40 and google["deferred"] == 300, repr(google))
    expect(google["connections_allowed"] == 8 and google["connections_max"] == 40, repr(google))
    expect(google["rate_allowed_per_second"] == 62.5 and google["rate_limit"] == "5000/h",
           repr(google))
    expect(google["last_error"] == '421 4.7.0 Try again later, "closing"', repr(google))
    expect(not google["suspended"] and google["suspended_until"] == "", repr(google))
    expect(yahoo["suspended"] and yahoo["suspended_until"] == "2026-11-18T11:06:40.000Z",
           repr(yahoo))


def check_domain_actions(server):
    cases = [("/domains/gmail.com/suspend?for=1h", "suspend gmail.com 3600000", 1),
             ("/domains/Gmail.COM/suspend", "suspend gmail.com 0", 1),
             ("/domains/group%3Agoogle/suspend?for=1h30m", "suspend group:google 5400000", 1),
             ("/domains/gmail.com/resume", "resume gmail.com", 1),
             ("/domains/gmail.com/retry", "retry gmail.com", 5)]
    for path, call, affected in cases:
        before = len(server.calls())
        status, _, body = request(server, "POST", path)
        answer = json.loads(body)
        expect(status == 200 and answer["ok"], "%s: %d %r" % (path, status, answer))
        expect(answer["affected"] == affected, "%s: %r" % (path, answer))
        expect(new_calls(server, before) == [call], "%s: calls %r" % (path, server.calls()))
    status, _, body = request(server, "POST", "/domains/unknown.example/resume")
    answer = json.loads(body)
    expect(status == 404 and not answer["ok"], "unknown domain: %d %r" % (status, answer))
    expect(answer["message"] == "no mail queued for unknown.example", repr(answer))


def check_filter_actions(server):
    cases = [("/bounce?domain=Example.ORG", "bounce domain=example.org sender="),
             ("/delete?sender=a%40b.example", "delete domain= sender=a@b.example"),
             ("/bounce?sender=x+y%40z.example", "bounce domain= sender=x y@z.example")]
    for path, call in cases:
        before = len(server.calls())
        status, _, body = request(server, "POST", path)
        expect(status == 200 and json.loads(body)["ok"], "%s: %d %r" % (path, status, body))
        expect(new_calls(server, before) == [call], "%s: calls %r" % (path, server.calls()))


def check_bad_arguments(server):
    before = len(server.calls())
    for path, why in [("/bounce", "exactly one"), ("/delete?domain=a.example&sender=b@c",
                                                   "exactly one"),
                      ("/bounce?domain=bad%20domain", "not a domain"),
                      ("/bounce?sender=", "empty"),
                      ("/domains/gmail.com/suspend?for=5x", "not a duration"),
                      ("/domains/gmail.com/suspend?for=0s", "longer than 0s"),
                      ("/domains/a%2Fb/suspend", "not a domain"),
                      ("/domains/x.example/suspend?for=%zz", "percent-encoding")]:
        status, _, body = request(server, "POST", path)
        expect(status == 400, "%s: status %d" % (path, status))
        expect(why in json.loads(body)["error"], "%s: %r" % (path, body))
    expect(server.calls()[before:] == [], "a bad request reached the backend")


def check_not_found_and_method(server):
    status, _, _ = request(server, "GET", "/nope")
    expect(status == 404, "GET /nope: %d" % status)
    status, _, _ = request(server, "POST", "/domains/gmail.com/explode")
    expect(status == 404, "unknown action: %d" % status)
    status, headers, _ = request(server, "GET", "/domains/gmail.com/suspend")
    expect(status == 405 and headers.get("allow") == "POST", "GET suspend: %d %r" % (
        status, headers))
    status, headers, _ = request(server, "POST", "/metrics")
    expect(status == 405 and headers.get("allow") == "GET", "POST /metrics: %d" % status)
    status, headers, _ = request(server, "DELETE", "/queue")
    expect(status == 405, "DELETE /queue: %d" % status)


def check_keep_alive_and_pipelining(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
    conn.connect()
    first = conn.sock
    for path in ["/queue", "/metrics", "/queue"]:
        status, headers, _ = request(server, "GET", path, conn)
        expect(status == 200 and headers["connection"] == "keep-alive", "keep-alive %d" % status)
    expect(conn.sock is first, "the connection was not kept")
    conn.close()
    two = (b"GET /queue HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = raw(server, two)
    expect(answer.count(b"HTTP/1.1 ") == 2, "pipelined: %r" % answer[:200])
    expect(answer.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 404 " in answer, "order")
    answer = raw(server, b"GET /queue HTTP/1.0\r\n\r\n")
    expect(status_of(answer) == 200 and b"Connection: close" in answer, "HTTP/1.0")


def check_malformed(server):
    cases = [(b"GARBAGE\r\n\r\n", 400), (b"GET /queue HTTP/2.0\r\nHost: x\r\n\r\n", 505),
             (b"GET /queue HTTP/1.1\r\n\r\n", 400),
             (b"GET queue HTTP/1.1\r\nHost: x\r\n\r\n", 400),
             (b"GET /queue HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
             (b"POST /bounce?domain=a.example HTTP/1.1\r\nHost: x\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n", 501),
             (b"POST /bounce?domain=a.example HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: 100000\r\n\r\n", 413),
             (b"POST /bounce?domain=a.example HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
             (b"GET /queue HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 100 + b"\r\n", 431),
             (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431)]
    before = len(server.calls())
    for data, want in cases:
        got = status_of(raw(server, data))
        expect(got == want, "%r...: %d, not %d" % (data[:40], got, want))
    expect(server.calls()[before:] == [], "a malformed request reached the backend")


def check_slow_request_times_out(server):
    start = time.monotonic()
    answer = raw(server, b"GET /queue HTTP/1.1\r\nHo")
    took = time.monotonic() - start
    expect(status_of(answer) == 408, "slow request: %r" % answer[:80])
    expect(0.5 < took < 4, "answered after %.2f s (read timeout 1 s)" % took)


def check_connection_limit(server):
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S)
            for _ in range(4)]
    try:
        time.sleep(0.1)
        answer = raw(server, b"GET /queue HTTP/1.1\r\nHost: x\r\n\r\n")
        expect(status_of(answer) == 503, "fifth connection: %r" % answer[:80])
    finally:
        for s in idle:
            s.close()
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if status_of(raw(server, b"GET /queue HTTP/1.1\r\nHost: x\r\n\r\n",
                         read_until_close=False)) == 200:
            return
        time.sleep(0.05)
    raise failed("the limit did not free up after the idle connections closed")


def check_curl(server):
    curl = shutil.which("curl")
    if curl is None:
        print("# curl not installed: skipped")
        return
    out = subprocess.run([curl, "-sS", "--max-time", "5", "http://%s/metrics" % server.address],
                         capture_output=True, timeout=10)
    expect(out.returncode == 0, "curl: %r" % out.stderr)
    expect(b'ringmta_delivered_total{domain="gmail.com"} 42' in out.stdout, "curl body")
    out = subprocess.run([curl, "-sS", "--max-time", "5", "-X", "POST", "-o", "/dev/null",
                          "-w", "%{http_code}", "http://%s/domains/a.example/retry"
                          % server.address], capture_output=True, timeout=10)
    expect(out.stdout == b"200", "curl POST: %r" % out.stdout)


CHECKS = [check_metrics, check_queue, check_domain_actions, check_filter_actions,
          check_bad_arguments, check_not_found_and_method, check_keep_alive_and_pipelining,
          check_malformed, check_slow_request_times_out, check_connection_limit, check_curl]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True, help="admin_test_server")
    args = parser.parse_args()
    server = admin_server(args.server)
    return run_checks(CHECKS, server, server, (failed, OSError, ValueError, KeyError))

if __name__ == "__main__":
    sys.exit(main())
