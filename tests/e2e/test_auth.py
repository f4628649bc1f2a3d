#!/usr/bin/env python3
"""End-to-end tests of SMTP AUTH (RFC 4954) and the ingress limits in ringmta with
real clients.

Clients: Python's smtplib and ssl, swaks, `openssl s_client -starttls smtp` and raw
sockets, against ringmta on loopback with a users file made by `ringmta
hash-password` and by Python's hashlib (passlib's format). The client address is
kept outside relay_networks, so only an authenticated client may relay (the
positive and negative controls of DESIGN.md invariant 4). Covers: AUTH offered
only after STARTTLS (538 before), PLAIN and LOGIN with and without an initial
response, 235 / 535 (after its delay) / 501 / 504 / 503 / 454, "*" cancel,
MAIL AUTH=<>, ESMTPSA in the Received header, SIGHUP reload of the users file, a
bad users file at start, and a shard that keeps serving while a slow hash is
checked; per-client connection count and rate (421 4.7.0, relay_networks
exempt) and the DATA timeout (421 4.4.2). Prints "ok - name" / "not ok - name:
reason", then "N passed, N failed". Every wait is bounded.
"""

import base64
import hashlib
import os
import smtplib
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from peers import (check_failed, expect, new_messages, ringmta_process,  # noqa: E402
                   run_checks)
from test_relay import (SENDER, context, make_certificate, strip_received,  # noqa: E402
                        tls_client_context)

OUTSIDE = ["127.0.0.9/32"]   # relay_networks that do not contain 127.0.0.1
FAILURE_DELAY_S = 1.0        # ingress_context::auth_failure_delay_ms


def passlib_hash(password, iterations, salt=b"ringmta-e2e-salt"):
    """$pbkdf2-sha256$ as passlib writes it, made without ringmta."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)

    def ab64(data):
        return base64.b64encode(data).decode().rstrip("=").replace("+", ".")
    return "$pbkdf2-sha256$%d$%s$%s" % (iterations, ab64(salt), ab64(digest))


def ringmta_hash(ctx, password):
    p = subprocess.run([ctx.ringmta, "hash-password"], input=password.encode() + b"\n",
                       capture_output=True, timeout=30)
    expect(p.returncode == 0, "hash-password: %r" % p.stderr)
    return p.stdout.decode().strip()


def write_users(ctx, lines, name="users.txt"):
    path = os.path.join(ctx.workdir, name)
    with open(path, "w") as f:
        f.write("# made by test_auth.py\n" + "".join(l + "\n" for l in lines))
    return path


def configure(ctx, routes, ingress_extra, shards=2):
    """A ringmta with its config written (not started): client 127.0.0.1 outside
    relay_networks, `ingress_extra` lines in [ingress]."""
    ctx.serial += 1
    r = ringmta_process(ctx.ringmta, ctx.workdir, routes, "", OUTSIDE,
                        name="ringmta%d" % ctx.serial)
    with open(r.config_path) as f:
        text = f.read()
    text = text.replace("shards = 2", "shards = %d" % shards)
    text = text.replace("[ingress]\n", "[ingress]\n" + ingress_extra, 1)
    with open(r.config_path, "w") as f:
        f.write(text)
    ctx.processes.append(r)
    return r


def auth_relay(ctx, users_path, routes, plaintext=False, tls=True, shards=2):
    extra = 'auth_users_file = "%s"\n' % users_path
    if tls:
        extra += make_certificate(ctx)
    if plaintext:
        extra += "auth_allow_plaintext = true\n"
    return configure(ctx, routes, extra, shards).start()


def b64(data):
    return base64.b64encode(data).decode()


class raw_client:
    """A plain socket client that reads whole replies and keeps their last lines."""

    def __init__(self, port, timeout=15, source="127.0.0.1"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0))
        self.reader = self.sock.makefile("rb")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.reader.close()
        self.sock.close()

    def replies(self, count):
        """The last line (code and text) of each of `count` replies."""
        last = []
        while len(last) < count:
            line = self.reader.readline(4096).rstrip(b"\r\n")
            if not line:
                break
            if len(line) == 3 or line[3:4] == b" ":
                last.append(line.decode("utf-8", "replace"))
        expect(len(last) == count, "wanted %d replies, got %r" % (count, last))
        return last

    def command(self, line, count=1):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.replies(count)


def check_auth_after_starttls_and_relay(ctx):
    sink = ctx.sink("auth")
    users = write_users(ctx, ["alice:" + ringmta_hash(ctx, "correct horse"),
                              "bob:" + passlib_hash("battery staple", 2000)])
    relay = auth_relay(ctx, users, {"*": "127.0.0.1:%d" % sink.port})
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=15) as c:
        c.ehlo("client.test")
        expect(not c.has_extn("auth"), "AUTH offered before STARTTLS")
        code, text = c.docmd("AUTH", "PLAIN " + b64(b"\0alice\0correct horse"))
        expect(code == 538 and text.startswith(b"5.7.11"), "AUTH in plaintext: %d %r"
               % (code, text))
        # Not authenticated: no relaying for an address outside relay_networks.
        c.mail(SENDER)
        code, text = c.rcpt("victim@example.net")
        expect(code == 554 and text.startswith(b"5.7.1"), "RCPT unauthenticated: %d %r"
               % (code, text))
        c.rset()
        c.starttls(context=tls_client_context())
        c.ehlo("client.test")
        expect(c.has_extn("auth") and c.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"],
               "EHLO under TLS: %r" % c.esmtp_features)
        code, text = c.login("alice", "correct horse")   # smtplib picks PLAIN
        expect(code == 235 and text.startswith(b"2.7.0"), "login: %d %r" % (code, text))
        c.sendmail(SENDER, ["friend@example.net"], b"Subject: authed\r\n\r\nrelayed\r\n",
                   mail_options=["AUTH=<>"])
    (stem,) = new_messages(sink, set(), 1)
    envelope, content = sink.load(stem)
    expect(envelope["rcpt_to"] == ["friend@example.net"], str(envelope))
    received = content[:content.index(b"\r\n\r\n")]
    expect(b"with ESMTPSA (using TLSv1.3 with cipher " in received,
           "Received lacks ESMTPSA: %r" % received)
    expect(b"(authenticated as alice)" in received, "Received lacks the user: %r" % received)
    expect(strip_received(content) == b"Subject: authed\r\n\r\nrelayed\r\n", "content changed")
    # LOGIN without an initial response, for the user whose hash Python made.
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=15) as c:
        c.starttls(context=tls_client_context())
        c.ehlo("client.test")
        c.user, c.password = "bob", "battery staple"
        code, text = c.auth("LOGIN", c.auth_login, initial_response_ok=False)
        expect(code == 235, "AUTH LOGIN: %d %r" % (code, text))
        c.sendmail(SENDER, ["second@example.net"], b"Subject: bob\r\n\r\nx\r\n")
    new_messages(sink, {stem}, 1)
    expect("authenticated as alice" in relay.log() and "authenticated as bob" in relay.log(),
           "no log line for the successful AUTHs")


def check_failure_codes(ctx):
    users = write_users(ctx, ["alice:" + passlib_hash("s3cret", 1000)])
    relay = auth_relay(ctx, users, {"*": "127.0.0.1:9"}, plaintext=True, tls=False)
    with raw_client(relay.port) as c:
        c.replies(1)
        expect(c.command("AUTH PLAIN " + b64(b"\0alice\0s3cret"))[0].startswith("503 5.5.1"),
               "AUTH before EHLO")
        ehlo = c.command("EHLO client.test")
        expect(ehlo == ["250 AUTH PLAIN LOGIN"], "EHLO with plaintext AUTH: %r" % ehlo)
        started = time.monotonic()
        reply = c.command("AUTH PLAIN " + b64(b"\0alice\0wrong"))[0]
        waited = time.monotonic() - started
        expect(reply.startswith("535 5.7.8"), "wrong password: %r" % reply)
        expect(waited >= FAILURE_DELAY_S * 0.9, "535 came after %.2f s, no delay" % waited)
        reply = c.command("AUTH PLAIN " + b64(b"\0nobody\0s3cret"))[0]
        expect(reply.startswith("535 5.7.8"), "unknown user: %r" % reply)
        expect(c.command("AUTH PLAIN not!base64")[0].startswith("501 5.5.2"), "bad base64")
        expect(c.command("AUTH CRAM-MD5")[0].startswith("504 5.5.4"), "unknown mechanism")
        expect(c.command("AUTH LOGIN")[0] == "334 VXNlcm5hbWU6", "LOGIN challenge")
        expect(c.command("*")[0].startswith("501 5.0.0"), "cancel")
        expect(c.command("MAIL FROM:<%s> AUTH=<>" % SENDER)[0].startswith("250 2.1.0"),
               "MAIL AUTH=<>")
        expect(c.command("AUTH PLAIN " + b64(b"\0alice\0s3cret"))[0].startswith("503 5.5.1"),
               "AUTH inside a transaction")
        c.command("RSET")
        expect(c.command("AUTH PLAIN")[0] == "334 ", "PLAIN without an initial response")
        expect(c.command(b64(b"\0alice\0s3cret"))[0].startswith("235 2.7.0"), "PLAIN 235")
        expect(c.command("AUTH PLAIN " + b64(b"\0alice\0s3cret"))[0].startswith("503 5.5.1"),
               "a second AUTH")
        rcpt = c.command("MAIL FROM:<%s>\r\nRCPT TO:<x@example.net>" % SENDER, 2)
        expect(rcpt[1].startswith("250 2.1.5"), "RCPT after AUTH (relay allowed): %r" % rcpt)


def check_swaks_plaintext(ctx):
    sink = ctx.sink("swaks")
    users = write_users(ctx, ["carol:" + passlib_hash("pa55word", 1000)])
    relay = auth_relay(ctx, users, {"*": "127.0.0.1:%d" % sink.port}, plaintext=True, tls=False)
    for mechanism, password, status in (("PLAIN", "pa55word", 0), ("LOGIN", "pa55word", 0),
                                        ("PLAIN", "wrong", None)):
        p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % relay.port, "--from", SENDER,
                            "--to", "dave@example.net", "--auth", mechanism, "--auth-user",
                            "carol", "--auth-password", password, "--timeout", "15",
                            "--data", "Subject: swaks %s\n\nbody\n" % mechanism],
                           capture_output=True, timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        if status == 0:
            expect(p.returncode == 0 and "235 2.7.0" in out, "swaks %s: %s" % (mechanism,
                                                                       out[-600:]))
        else:
            expect(p.returncode != 0 and "535 5.7.8" in out, "swaks wrong: %s" % out[-600:])
    expect(len(new_messages(sink, set(), 2)) == 2, "two messages relayed")


def check_openssl_s_client(ctx):
    users = write_users(ctx, ["erin:" + passlib_hash("open sesame", 1000)])
    relay = auth_relay(ctx, users, {"*": "127.0.0.1:9"})
    script = ("EHLO client.test\nAUTH PLAIN %s\nQUIT\n" % b64(b"\0erin\0open sesame")).encode()
    p = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-crlf", "-quiet",
                        "-connect", "127.0.0.1:%d" % relay.port], input=script,
                       capture_output=True, timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    expect("250 AUTH PLAIN LOGIN" in out or "250-AUTH PLAIN LOGIN" in out,
           "AUTH not offered under TLS: %s" % out[-500:])
    expect("235 2.7.0 Authentication successful" in out, "s_client AUTH: %s" % out[-500:])


def check_sighup_reloads_users(ctx):
    users = write_users(ctx, ["frank:" + passlib_hash("old", 1000)])
    relay = auth_relay(ctx, users, {"*": "127.0.0.1:9"}, plaintext=True, tls=False)

    def try_login(user, password):
        with smtplib.SMTP("127.0.0.1", relay.port, timeout=15) as c:
            c.ehlo("client.test")
            try:
                return c.login(user, password)[0]
            except smtplib.SMTPAuthenticationError as error:
                return error.smtp_code
    expect(try_login("frank", "old") == 235, "first users file")
    write_users(ctx, ["frank:" + passlib_hash("new", 1000), "grace:" + passlib_hash("g", 1000)])
    relay.hup()
    deadline = time.monotonic() + 10
    while try_login("grace", "g") != 235:
        expect(time.monotonic() < deadline, "the new users file was not loaded after SIGHUP")
        time.sleep(0.2)
    expect(try_login("frank", "old") == 535, "the old password still works")
    expect(try_login("frank", "new") == 235, "the new password does not work")
    # A bad file on SIGHUP keeps the users in use and names the line.
    write_users(ctx, ["frank:" + passlib_hash("newer", 1000), "broken line"])
    relay.hup()
    deadline = time.monotonic() + 10
    while "keeping the previous AUTH users" not in relay.log():
        expect(time.monotonic() < deadline, "no log line for the bad users file")
        time.sleep(0.1)
    expect("users.txt:3: expected name:hash" in relay.log(), relay.log()[-500:])
    expect(try_login("frank", "new") == 235, "the previous users were dropped")


def check_bad_users_file_stops_start(ctx):
    users = write_users(ctx, ["henry:" + passlib_hash("x", 1000), "henry:plaintext"])
    r = configure(ctx, {"*": "127.0.0.1:9"}, 'auth_users_file = "%s"\n' % users)
    p = subprocess.run([ctx.ringmta, "--config", r.config_path], capture_output=True,
                       timeout=60)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    expect(p.returncode == 1, "ringmta exited %d with a bad users file: %s" % (p.returncode,
                                                                          out[-500:]))
    expect("users.txt:3: user 'henry': not a $pbkdf2-sha256$ hash" in out,
           "start-up error: %s" % out[-500:])


def slow_auth(port, line, replies):
    """One client sending a slow AUTH; stores its reply (or the error) in replies."""
    try:
        with raw_client(port, timeout=60) as c:
            c.replies(1)
            c.command("EHLO slow.test")
            replies.append(c.command(line)[0])
    except (OSError, check_failed) as error:
        replies.append("error: %s" % error)


def check_shard_serves_during_slow_hash_and_bounds_in_flight(ctx):
    # One shard: every connection below meets the same reactor and worker. A hash
    # of ~0.15 s (several times that under ASan) per verify.
    users = write_users(ctx, ["ivan:" + passlib_hash("slow", 300_000)])
    relay = auth_relay(ctx, users, {"*": "127.0.0.1:9"}, plaintext=True, tls=False, shards=1)
    line = "AUTH PLAIN " + b64(b"\0ivan\0slow")
    replies = []
    threads = [threading.Thread(target=slow_auth, args=(relay.port, line, replies))
               for _ in range(10)]
    for t in threads:
        t.start()
    # Meanwhile the shard answers a new client at once.
    time.sleep(0.2)
    started = time.monotonic()
    with raw_client(relay.port, timeout=10) as c:
        c.replies(1)
        c.command("EHLO quick.test")
        c.command("NOOP")
    quick = time.monotonic() - started
    for t in threads:
        t.join(timeout=120)
    expect(not any(t.is_alive() for t in threads), "a slow AUTH never finished")
    expect(quick < 0.5, "the shard took %.2f s to greet and answer during AUTHs" % quick)
    ok = sum(r.startswith("235 2.7.0") for r in replies)
    busy = sum(r.startswith("454 4.7.0") for r in replies)
    # 8 verifications in flight per shard at most: the rest get 454 at once. (Later
    # arrivals may hit the cache once the first success is in.)
    expect(ok + busy == 10 and busy >= 1 and ok >= 8, "replies %r" % replies)


def connect_from(port, source):
    """A connection from `source`: its first reply line (banner or 421)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    return s, s.makefile("rb").readline(4096).decode("utf-8", "replace").rstrip("\r\n")


def check_connections_per_ip(ctx):
    relay = configure(ctx, {"*": "127.0.0.1:9"}, "max_connections_per_ip = 3\n"
                      'connection_rate_per_ip = "0"\n', shards=1).start()
    held = []
    try:
        for _ in range(3):
            s, line = connect_from(relay.port, "127.0.0.1")
            held.append(s)
            expect(line.startswith("220 "), "connection within the limit: %r" % line)
        s, line = connect_from(relay.port, "127.0.0.1")
        s.close()
        expect(line == "421 4.7.0 relay.test Error: too many open connections from your "
               "address", "fourth connection: %r" % line)
        s, line = connect_from(relay.port, "127.0.0.2")   # another client
        held.append(s)
        expect(line.startswith("220 "), "another address: %r" % line)
        for _ in range(5):                                  # relay_networks: exempt
            s, line = connect_from(relay.port, "127.0.0.9")
            held.append(s)
            expect(line.startswith("220 "), "trusted address refused: %r" % line)
        held.pop(0).close()                                 # a slot frees up
        deadline = time.monotonic() + 10
        while True:
            s, line = connect_from(relay.port, "127.0.0.1")
            held.append(s)
            if line.startswith("220 "):
                break
            expect(time.monotonic() < deadline, "the freed slot never came back: %r" % line)
            time.sleep(0.1)
    finally:
        for s in held:
            s.close()


def check_connection_rate_per_ip(ctx):
    relay = configure(ctx, {"*": "127.0.0.1:9"}, "max_connections_per_ip = 0\n"
                      'connection_rate_per_ip = "3/m"\n', shards=1).start()
    # ringmta_process.start() probed the port once from 127.0.0.1: one token spent.
    lines = []
    for _ in range(3):
        s, line = connect_from(relay.port, "127.0.0.1")
        s.close()
        lines.append(line[:3])
    expect(lines == ["220", "220", "421"], "replies %r" % lines)
    s, line = connect_from(relay.port, "127.0.0.1")
    s.close()
    expect(line == "421 4.7.0 relay.test Error: too many connections from your address, "
           "slow down", "over the rate: %r" % line)
    s, line = connect_from(relay.port, "127.0.0.3")
    s.close()
    expect(line.startswith("220 "), "another address: %r" % line)


def check_data_timeout(ctx):
    relay = configure(ctx, {"*": "127.0.0.1:9"}, 'idle_timeout = "30s"\n'
                      'data_timeout = "1s"\n', shards=1)
    relay = relay.start()
    with raw_client(relay.port, source="127.0.0.9") as c:   # inside relay_networks
        c.replies(1)
        c.command("EHLO client.test")
        time.sleep(1.5)                     # longer than data_timeout between commands
        replies = c.command("MAIL FROM:<%s>\r\nRCPT TO:<a@example.net>\r\nDATA" % SENDER, 3)
        expect(replies[2].startswith("354"), "DATA: %r" % replies)
        c.sock.sendall(b"Subject: slow\r\n")
        started = time.monotonic()
        reply = c.replies(1)[0]
        waited = time.monotonic() - started
    expect(reply.startswith("421 4.4.2"), "waiting for data: %r" % reply)
    expect(0.8 <= waited < 5, "closed after %.2f s, data_timeout is 1 s" % waited)


CHECKS = [check_auth_after_starttls_and_relay, check_failure_codes, check_swaks_plaintext,
          check_openssl_s_client, check_sighup_reloads_users, check_bad_users_file_stops_start,
          check_shard_serves_during_slow_hash_and_bounds_in_flight, check_connections_per_ip,
          check_connection_rate_per_ip, check_data_timeout]


if __name__ == "__main__":
    sys.exit(run_checks(CHECKS, context, "ringmta-e2e-auth-"))
