#!/usr/bin/env python3
"""End-to-end tests of ringmta with real peers on loopback.

Clients: Python's smtplib, swaks and raw sockets. Receiver: ringmta-sink, which
stores every message byte for byte. Each check starts its own ringmta (2 shards)
and sinks, and proves one property of the relay: exact bytes, relay refusal,
no loss across kill -9, retry after 451, a DSN after 550, no partial message,
limits, configuration errors. Prints "ok - name" / "not ok - name: reason"; the
last line is "N passed, N failed". Every wait is bounded.
"""

import json
import os
import re
import smtplib
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from peers import (check_failed, expect, free_port, new_messages,  # noqa: E402
                   read_replies, ringmta_process, run_checks, check_context)

SENDER = "alice@sender.test"


def strip_received(content):
    """ringmta prepends one Received header (with continuation lines)."""
    expect(content.startswith(b"Received: from "), "no Received header first: %r"
           % content[:80])
    at = content.index(b"\r\n") + 2
    while content[at:at + 1] in (b"\t", b" "):
        at = content.index(b"\r\n", at) + 2
    return content[at:]


def check_exact_bytes_smtplib(ctx):
    sink = ctx.sink("exact")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port})
    long_line = b"x" * 998
    body = (b"From: alice@sender.test\r\nTo: bob@example.net\r\nSubject: bytes\r\n\r\n"
            b".leading dot\r\n..two dots\r\n.\r\nUTF-8: \xc3\xa9t\xc3\xa9 and raw \xff\xfe\r\n"
            + long_line + b"\r\nlast line\r\n")
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.sendmail(SENDER, ["bob@example.net"], body, mail_options=["BODY=8BITMIME"])
    (stem,) = new_messages(sink, set(), 1)
    envelope, content = sink.load(stem)
    expect(strip_received(content) == body, "delivered bytes differ from the bytes sent")
    expect(envelope["mail_from"] == SENDER, "envelope sender %r" % envelope["mail_from"])
    expect(envelope["rcpt_to"] == ["bob@example.net"], "recipients %r" % envelope["rcpt_to"])
    lines = relay.wait_accounting(lambda ls: any(l["status"] == "delivered" for l in ls),
                                  "a delivered line")
    line = lines[0]
    expect(line["recipient"] == "bob@example.net" and line["sender"] == SENDER, str(line))
    expect(line["domain"] == "example.net" and line["code"] == 250, str(line))
    expect(len(line["queue_id"]) == 16 and line["attempt"] == 1, str(line))
    expect(line["size"] == len(content), "size %d, delivered %d" % (line["size"], len(content)))
    expect(relay.stop() == 0, "ringmta did not exit 0 on SIGTERM")


def check_swaks(ctx):
    sink = ctx.sink("swaks")
    relay = ctx.relay({"example.net": "127.0.0.1:%d" % sink.port})
    data = "Subject: swaks\n\n.dot line\nbody\n"
    p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % relay.port, "--from", SENDER,
                        "--to", "carol@example.net", "--data", data, "--timeout", "10"],
                       capture_output=True, timeout=30)
    expect(p.returncode == 0, "swaks failed: %s" % p.stdout.decode()[-500:])
    (stem,) = new_messages(sink, set(), 1)
    envelope, content = sink.load(stem)
    # swaks ends --data with an extra CRLF of its own (seen with ringmta-sink alone too).
    expect(strip_received(content) == b"Subject: swaks\r\n\r\n.dot line\r\nbody\r\n\r\n",
           "content %r" % content)
    expect(envelope["rcpt_to"] == ["carol@example.net"], str(envelope))


def check_pipelined_transactions(ctx):
    sink = ctx.sink("pipelined")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port})
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as s:
        read_replies(s, 1)
        s.sendall(b"EHLO client.test\r\n")
        read_replies(s, 1)
        batch = b""
        for i in range(2):
            batch += (b"MAIL FROM:<%s>\r\nRCPT TO:<r%d@example.net>\r\nDATA\r\n"
                      b"Subject: %d\r\n\r\n..dotted %d\r\n.\r\n" % (SENDER.encode(), i, i, i))
        batch += b"QUIT\r\n"
        s.sendall(batch)
        codes = read_replies(s, 9)
    expect(codes == [250, 250, 354, 250, 250, 250, 354, 250, 221], "replies %r" % codes)
    stems = new_messages(sink, set(), 2)
    bodies = sorted(strip_received(sink.load(stem)[1]) for stem in stems)
    expect(bodies == [b"Subject: 0\r\n\r\n.dotted 0\r\n", b"Subject: 1\r\n\r\n.dotted 1\r\n"],
           "bodies %r" % bodies)


def check_input_in_pieces(ctx):
    # Commands and content trickle in, split anywhere (inside a command, a CRLF, the
    # final dot): what a read leaves unparsed is kept for the next one, whether it
    # was parsed where the kernel put it or from the session's own buffer.
    sink = ctx.sink("pieces")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port})
    wire = b""
    for i in range(2):
        wire += (b"MAIL FROM:<%s>\r\nRCPT TO:<p%d@example.net>\r\nDATA\r\n"
                 b"Subject: piece %d\r\n\r\n..dot %d\r\nline two\r\n.\r\n"
                 % (SENDER.encode(), i, i, i))
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        read_replies(s, 1)
        s.sendall(b"EHLO client.test\r\n")
        read_replies(s, 1)
        for at in range(0, len(wire), 7):   # ~40 pieces, 2 ms apart
            s.sendall(wire[at:at + 7])
            time.sleep(0.002)
        s.sendall(b"QUIT\r\n")
        codes = read_replies(s, 9)
    expect(codes == [250, 250, 354, 250, 250, 250, 354, 250, 221], "replies %r" % codes)
    stems = new_messages(sink, set(), 2)
    for stem in stems:
        # The whole trace header, field by field (RFC 5321 4.4, RFC 3848).
        envelope, content = sink.load(stem)
        received = re.match(rb"Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n"
                            rb"\tby \S+ \(ringmta\) with ESMTP id [0-9a-f]{16}\r\n"
                            rb"\tfor <(p[01]@example\.net)>; [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} "
                            rb"\d{4} \d\d:\d\d:\d\d \+0000\r\nSubject", content)
        expect(received is not None, "Received header %r" % content[:200])
        expect(received.group(1).decode() == envelope["rcpt_to"][0], "for <%r>" % envelope)
    bodies = sorted(strip_received(sink.load(stem)[1]) for stem in stems)
    expect(bodies == [b"Subject: piece 0\r\n\r\n.dot 0\r\nline two\r\n",
                      b"Subject: piece 1\r\n\r\n.dot 1\r\nline two\r\n"], "bodies %r" % bodies)


def check_relay_refused(ctx):
    sink = ctx.sink("relay")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port}, relay_networks=["127.0.0.9/32"])
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.ehlo("outsider.test")
        c.mail(SENDER)
        code, text = c.rcpt("victim@example.net")
        expect(code == 554 and text.startswith(b"5.7.1"), "RCPT from outside: %d %r"
               % (code, text))
        code, _ = c.docmd("DATA")
        expect(code == 554, "DATA without recipients answered %d" % code)
    # The positive control: from inside relay_networks the same mail passes.
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10,
                      source_address=("127.0.0.9", 0)) as c:
        c.sendmail(SENDER, ["friend@example.net"], b"Subject: inside\r\n\r\nok\r\n")
    (stem,) = new_messages(sink, set(), 1)
    expect(sink.load(stem)[0]["rcpt_to"] == ["friend@example.net"], "wrong message delivered")
    time.sleep(0.3)
    expect(len(sink.stored()) == 1, "the refused message was delivered")


def check_kill9_after_250(ctx):
    port = free_port()  # the sink is not there yet: the message must wait in the journal
    relay = ctx.relay({"*": "127.0.0.1:%d" % port}, extra='[delivery]\nretry_min = "1s"\n')
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.sendmail(SENDER, ["survivor@example.net"], b"Subject: survive\r\n\r\nkill -9\r\n")
    relay.kill9()  # right after the 250
    sink = ctx.sink("kill9", port=port)
    relay.start()
    (stem,) = new_messages(sink, set(), 1)
    envelope, content = sink.load(stem)
    expect(envelope["rcpt_to"] == ["survivor@example.net"], str(envelope))
    expect(strip_received(content) == b"Subject: survive\r\n\r\nkill -9\r\n", "content changed")
    expect("recovered 1 queued message" in relay.log(), "no recovery line in the log")


def check_retry_after_451(ctx):
    sink = ctx.sink("retry", "--data-reply", "451 4.3.0 Try again later", "--reply-count", "1")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port},
                      extra='[delivery]\nretry_min = "1s"\nretry_max = "2s"\n')
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.sendmail(SENDER, ["later@example.net"], b"Subject: retry\r\n\r\nagain\r\n")
    lines = relay.wait_accounting(lambda ls: any(l["status"] == "delivered" for l in ls),
                                  "delivery after the retry")
    statuses = [(l["status"], l["code"], l["attempt"]) for l in lines]
    expect(statuses == [("deferred", 451, 1), ("delivered", 250, 2)], "got %r" % statuses)
    expect(lines[0]["enhanced"] == "4.3.0", str(lines[0]))
    expect(len(new_messages(sink, set(), 1)) == 1, "not delivered exactly once")


def check_dsn_after_550(ctx):
    sink = ctx.sink("dsn", "--rcpt-reply", "550 5.1.1 No such user", "--reply-match", "bad")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port})
    original = b"Subject: to a bad address\r\nMessage-ID: <m1@sender.test>\r\n\r\nsecret body\r\n"
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.sendmail(SENDER, ["bad@example.net"], original)
        c.sendmail("", ["bad2@example.net"], original)  # null sender: no DSN
    (stem,) = new_messages(sink, set(), 1)
    envelope, content = sink.load(stem)
    expect(envelope["mail_from"] == "", "DSN sender %r" % envelope["mail_from"])
    expect(envelope["rcpt_to"] == [SENDER], "DSN recipients %r" % envelope["rcpt_to"])
    text = content.decode("utf-8", "replace")
    for needle in ["From: Mail Delivery System <MAILER-DAEMON@relay.test>",
                   "multipart/report; report-type=delivery-status",
                   "Reporting-MTA: dns; relay.test", "Final-Recipient: rfc822; bad@example.net",
                   "Action: failed", "Status: 5.1.1",
                   "Diagnostic-Code: smtp; 550 5.1.1 No such user",
                   "Content-Type: text/rfc822-headers", "Message-ID: <m1@sender.test>"]:
        expect(needle in text, "DSN lacks %r" % needle)
    expect("secret body" not in text, "RET=HDRS default returned the body")
    lines = relay.wait_accounting(lambda ls: sum(l["status"] == "failed" for l in ls) == 2,
                                  "two failed lines")
    failed = [l for l in lines if l["status"] == "failed"]
    expect(all(l["code"] == 550 and l["enhanced"] == "5.1.1" for l in failed), str(failed))
    time.sleep(0.5)
    expect(len(sink.stored()) == 1, "a DSN was sent for the null sender")


def check_bodies_read_back_without_cache(ctx):
    """journal.cache_size = 0: nothing is kept in memory after acceptance, so every
    message (and the DSN ringmta generates) is read back from the journal for
    delivery; the bytes, the envelope and the DSN parameters must survive that."""
    sink = ctx.sink("readback", "--rcpt-reply", "550 5.1.1 No such user", "--reply-match", "bad")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port}, extra='[journal]\ncache_size = "0"\n')
    bodies = [b"Subject: read back %d\r\n\r\n" % i + (b"line %d\r\n" % i) * (i * 3000)
              for i in range(5)]
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        for i, body in enumerate(bodies):
            c.sendmail(SENDER, ["a%d@example.net" % i, "b%d@example.org" % i], body)
        c.ehlo()
        c.sendmail(SENDER, ["dsn@example.net", "bad@example.net"], b"Subject: dsn\r\n\r\nx\r\n",
                   mail_options=["ENVID=campaign-7", "RET=HDRS"],
                   rcpt_options=["NOTIFY=FAILURE ORCPT=rfc822;orig@example.net"])
    stems = new_messages(sink, set(), 7)   # 5 messages, the good DSN recipient, one DSN
    got = {}
    for stem in stems:
        envelope, content = sink.load(stem)
        got[tuple(envelope["rcpt_to"])] = (envelope, content)
    for i, body in enumerate(bodies):
        envelope, content = got[("a%d@example.net" % i, "b%d@example.org" % i)]
        expect(strip_received(content) == body, "message %d changed on read-back" % i)
        expect(envelope["mail_from"] == SENDER, str(envelope))
    envelope, content = got[(SENDER,)]
    text = content.decode("utf-8", "replace")
    for needle in ["Original-Envelope-Id: campaign-7", "Final-Recipient: rfc822; bad@example.net",
                   "Original-Recipient: rfc822; orig@example.net", "Status: 5.1.1"]:
        expect(needle in text, "DSN lacks %r" % needle)
    expect(relay.stop() == 0, "ringmta did not exit 0 on SIGTERM")
    reads = sum(int(m) for m in re.findall(r"(\d+) contents read back from the journal",
                                            relay.log()))
    expect(reads >= 7, "only %d contents read back (want every message and the DSN)" % reads)


def check_no_partial_message(ctx):
    sink = ctx.sink("partial")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port})
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as s:
        read_replies(s, 1)
        s.sendall(b"EHLO client.test\r\nMAIL FROM:<%s>\r\nRCPT TO:<cut@example.net>\r\n"
                  b"DATA\r\n" % SENDER.encode())
        read_replies(s, 4)
        s.sendall(b"Subject: cut\r\n\r\nthe client vanishes here")
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.sendmail(SENDER, ["whole@example.net"], b"Subject: whole\r\n\r\nok\r\n")
    (stem,) = new_messages(sink, set(), 1)
    expect(sink.load(stem)[0]["rcpt_to"] == ["whole@example.net"], "wrong message delivered")
    time.sleep(0.3)
    expect(len(sink.stored()) == 1, "the cut message was delivered")


def check_limits(ctx):
    sink = ctx.sink("limits")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port},
                      extra="max_message_size = 4096\nmax_recipients = 3\n",
                      section_extra="ingress")
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.ehlo("client.test")
        expect(c.esmtp_features.get("size") == "4096", "SIZE %r" % c.esmtp_features.get("size"))
        c.mail(SENDER)
        codes = [c.rcpt("r%d@example.net" % i)[0] for i in range(4)]
        expect(codes == [250, 250, 250, 452], "RCPT codes %r" % codes)
        code, text = c.data(b"Subject: big\r\n\r\n" + b"y" * 8000 + b"\r\n")
        expect(code == 552 and text.startswith(b"5.3.4"), "oversized DATA: %d %r" % (code, text))
    time.sleep(0.3)
    expect(len(sink.stored()) == 0, "an oversized message was delivered")


def check_config_errors(ctx):
    bad = os.path.join(ctx.workdir, "bad.toml")
    with open(bad, "w") as f:
        f.write('[ingress]\nmax_message_size = "50XB"\n')
    p = subprocess.run([ctx.ringmta, "--check-config", bad], capture_output=True, timeout=10)
    err = p.stderr.decode()
    expect(p.returncode != 0, "a bad config was accepted")
    expect("bad.toml:2:" in err and "ingress.max_message_size" in err, "error: %r" % err)
    p = subprocess.run([ctx.ringmta, "hash-password"], input=b"s3cret\n", capture_output=True,
                       timeout=30)
    expect(p.returncode == 0 and p.stdout.startswith(b"$pbkdf2-sha256$"), "hash %r" % p.stdout)


def check_connection_limit(ctx):
    sink = ctx.sink("pool")  # one shard: its connections_peak is exact
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port}, extra="[delivery]\nmax_connections = 3\n")
    blast = subprocess.run([ctx.blast_exe, "--server", "127.0.0.1:%d" % relay.port,
                            "--messages", "300", "--size", "2000", "--connections", "20",
                            "--domains", "10", "--json"], capture_output=True, timeout=120)
    expect(blast.returncode == 0, "blast: %s" % blast.stderr.decode()[-300:])
    stats = sink.wait_stats(lambda s: s["messages"] >= 300)
    expect(stats["messages"] == 300, "sink got %d messages" % stats["messages"])
    expect(1 <= stats["connections_peak"] <= 3,
           "%d connections at once for max_connections = 3 over 2 shards"
           % stats["connections_peak"])
    expect(stats["connections"] < 300, "no connection reuse: %d connections for 300 messages"
           % stats["connections"])


def pipelined_behind(relay):
    """Transactions the shards pipelined behind another in one write, from their
    shutdown lines (the relay must have stopped)."""
    found = re.findall(r"(\d+) transactions, (\d+) of them pipelined behind another",
                       relay.log())
    expect(len(found) == 2, "shutdown lines: %r" % found)
    return sum(int(batched) for _, batched in found)


def blast_recipients(ctx, relay, count, domain_format):
    blast = subprocess.run([ctx.blast_exe, "--server", "127.0.0.1:%d" % relay.port,
                            "--messages", str(count), "--size", "2000", "--connections", "12",
                            "--domain-format", domain_format, "--json"],
                           capture_output=True, timeout=120)
    expect(blast.returncode == 0, "blast: %s" % blast.stderr.decode()[-300:])
    return ["user%d@%s" % (i, domain_format % 0) for i in range(count)]


def check_batched_transactions(ctx):
    # One connection a shard: mail piles up behind the transaction under way, and
    # the next write carries up to 8 transactions (each after RSET, content with
    # BDAT LAST). Recipients matching "user1" are refused at RCPT in the middle
    # of such writes: each recipient still gets its own outcome, once.
    sink = ctx.sink("batched", "--rcpt-reply", "550 5.1.1 No such user",
                    "--reply-match", "user1")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port},
                      extra="[delivery]\nmax_connections = 2\n")
    count = 300
    recipients = blast_recipients(ctx, relay, count, "batch%u.example")
    refused = {r for r in recipients if "user1" in r}
    lines = relay.wait_accounting(
        lambda ls: len([l for l in ls if l["recipient"].endswith("@batch0.example")]) >= count,
        "an outcome for each of %d recipients" % count)
    outcomes = sorted((l["recipient"], l["status"], l["code"]) for l in lines
                      if l["recipient"].endswith("@batch0.example"))
    want = sorted((r, "failed", 550) if r in refused else (r, "delivered", 250)
                  for r in recipients)
    expect(outcomes == want, "%d outcomes, %d as expected" % (
        len(outcomes), len(set(outcomes) & set(want))))
    stems = new_messages(sink, set(), count)   # the delivered ones and a DSN per refusal
    arrived = sorted(r for s in stems for r in sink.load(s)[0]["rcpt_to"])
    expect(arrived == sorted([r for r in recipients if r not in refused] +
                             ["blast@sender.example.org"] * len(refused)),
           "%d recipients arrived at the sink" % len(arrived))
    expect(relay.stop() == 0, "ringmta did not exit 0 on SIGTERM")
    batched = pipelined_behind(relay)
    expect(batched > 0, "no transaction was pipelined behind another")
    print("# %d of %d transactions pipelined behind another" % (batched, count + len(refused)))


def check_batch_cut_by_421(ctx):
    # The sink answers 421 to the first two messages' content: the transactions
    # pipelined after it in the same write are answered (or lost with the
    # connection) and retried; every message arrives exactly once.
    sink = ctx.sink("cut", "--data-reply", "421 4.7.0 Closing", "--reply-count", "2")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port},
                      extra='[delivery]\nmax_connections = 2\nretry_min = "1s"\n')
    count = 200
    recipients = blast_recipients(ctx, relay, count, "cut%u.example")
    lines = relay.wait_accounting(
        lambda ls: sum(l["status"] == "delivered" for l in ls) >= count,
        "every recipient delivered")
    delivered = sorted(l["recipient"] for l in lines if l["status"] == "delivered")
    expect(delivered == sorted(recipients), "%d delivered lines, %d distinct"
           % (len(delivered), len(set(delivered))))
    deferred = [l for l in lines if l["status"] == "deferred"]
    expect(sum(l["code"] == 421 for l in deferred) == 2, "deferred: %r" % deferred[:4])
    stats = sink.wait_stats(lambda s: s["messages"] >= count)
    expect(stats["messages"] == count and stats["rejected"] == 2, "sink %r" % stats)
    arrived = sorted(r for s in new_messages(sink, set(), count)
                     for r in sink.load(s)[0]["rcpt_to"])
    expect(arrived == sorted(recipients), "%d arrived, %d distinct"
           % (len(arrived), len(set(arrived))))
    expect(relay.stop() == 0, "ringmta did not exit 0 on SIGTERM")
    batched = pipelined_behind(relay)
    expect(batched > 0, "no transaction was pipelined behind another")
    print("# %d deferred attempts, %d transactions pipelined behind another"
          % (len(deferred), batched))


def check_idle_timeout(ctx):
    relay = ctx.relay({"*": "127.0.0.1:9"}, extra='idle_timeout = "1s"\n',
                      section_extra="ingress")
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as s:
        s.recv(512)  # greeting
        start = time.monotonic()
        data = b""
        while b"\r\n" not in data and time.monotonic() - start < 8:
            chunk = s.recv(512)
            if not chunk:
                break
            data += chunk
        waited = time.monotonic() - start
        expect(data.startswith(b"421 4.4.2"), "after idle: %r" % data)
        expect(0.8 <= waited <= 6, "closed after %.2f s for idle_timeout 1s" % waited)
        expect(s.recv(512) == b"", "connection still open after 421")


def check_sigterm_mid_session(ctx):
    port = free_port()  # no sink yet: the accepted message stays queued
    relay = ctx.relay({"*": "127.0.0.1:%d" % port}, extra='[delivery]\nretry_min = "1s"\n')
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.sendmail(SENDER, ["queued@example.net"], b"Subject: queued\r\n\r\nstays\r\n")
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as s:
        read_replies(s, 1)
        s.sendall(b"EHLO client.test\r\n")
        read_replies(s, 1)
        start = time.monotonic()
        status = relay.stop()
        expect(status == 0, "exit status %r after SIGTERM" % status)
        expect(time.monotonic() - start < 5, "shutdown took %.1f s" % (time.monotonic() - start))
        rest = s.recv(512)
        expect(rest.startswith(b"421 4.3.2"), "a session open at SIGTERM got %r" % rest)
    sink = ctx.sink("after-stop", port=port)
    relay.start()
    (stem,) = new_messages(sink, set(), 1)
    expect(sink.load(stem)[0]["rcpt_to"] == ["queued@example.net"], "wrong message")


def check_recipients_split_by_route(ctx):
    one = ctx.sink("route-one")
    two = ctx.sink("route-two")
    relay = ctx.relay({"one.example": "127.0.0.1:%d" % one.port,
                       ".two.example": "127.0.0.1:%d" % two.port})
    body = b"Subject: two routes\r\n\r\nsame body\r\n"
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        refused = c.sendmail(SENDER, ["a@one.example", "b@mx.two.example", "c@one.example"],
                             body)
        expect(not refused, "refused %r" % refused)
        # A domain without a route is accepted and routed by MX (test_delivery.py).
        expect(not c.sendmail(SENDER, ["d@three.example"], body), "three.example refused")
    (first,) = new_messages(one, set(), 1)
    (second,) = new_messages(two, set(), 1)
    envelope_one, content_one = one.load(first)
    envelope_two, content_two = two.load(second)
    expect(envelope_one["rcpt_to"] == ["a@one.example", "c@one.example"],
           "one.example got %r" % envelope_one["rcpt_to"])
    expect(envelope_two["rcpt_to"] == ["b@mx.two.example"], "two got %r" % envelope_two["rcpt_to"])
    expect(content_one == content_two and strip_received(content_one) == body,
           "the routes got different bytes")


def check_mixed_recipient_replies(ctx):
    sink = ctx.sink("mixed", "--rcpt-reply", "550 5.1.1 No such user", "--reply-match", "gone")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port})
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.sendmail(SENDER, ["here@example.net", "gone@example.net", "also@example.net"],
                   b"Subject: mixed\r\n\r\nbody\r\n")
    stems = new_messages(sink, set(), 2)  # the message for the two who exist, and the DSN
    envelopes = sorted((sink.load(s)[0] for s in stems), key=lambda e: e["mail_from"])
    dsn, delivered = envelopes
    expect(delivered["rcpt_to"] == ["here@example.net", "also@example.net"],
           "delivered to %r" % delivered["rcpt_to"])
    expect(dsn["mail_from"] == "" and dsn["rcpt_to"] == [SENDER], "DSN envelope %r" % dsn)
    lines = relay.wait_accounting(lambda ls: len(ls) >= 4, "four outcome lines")
    outcome = {(l["recipient"], l["status"]) for l in lines if l["sender"] == SENDER}
    expect(outcome == {("here@example.net", "delivered"), ("also@example.net", "delivered"),
                       ("gone@example.net", "failed")}, "outcomes %r" % outcome)


def unix_seconds(iso_time):
    """'2026-11-23T06:32:00.123Z' → seconds since the epoch."""
    import datetime
    return datetime.datetime.strptime(iso_time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def check_retry_time_survives_restart(ctx):
    port = free_port()  # refused at first: the recipient is deferred for retry_min
    relay = ctx.relay({"*": "127.0.0.1:%d" % port},
                      extra='[delivery]\nretry_min = "3s"\nretry_max = "3s"\n')
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.sendmail(SENDER, ["patient@example.net"], b"Subject: later\r\n\r\nwait\r\n")
    lines = relay.wait_accounting(lambda ls: any(l["status"] == "deferred" for l in ls),
                                  "the deferral")
    expect(relay.stop() == 0, "ringmta did not stop cleanly")
    sink = ctx.sink("patient", port=port)
    relay.start()
    lines = relay.wait_accounting(lambda ls: any(l["status"] == "delivered" for l in ls),
                                  "the delivery after the restart")
    deferred = next(l for l in lines if l["status"] == "deferred")
    delivered = next(l for l in lines if l["status"] == "delivered")
    gap = unix_seconds(delivered["time"]) - unix_seconds(deferred["time"])
    expect(gap >= 2.5, "retried %.2f s after the deferral; the journal said 3 s" % gap)
    expect(delivered["attempt"] == 2, "attempt %r after the restart" % delivered["attempt"])
    expect(len(new_messages(sink, set(), 1)) == 1, "not delivered once")


def check_spool_full_then_resumes(ctx):
    port = free_port()  # no sink yet: accepted mail stays in the spool
    relay = ctx.relay({"*": "127.0.0.1:%d" % port},
                      extra='[delivery]\nretry_min = "1s"\nretry_max = "1s"\n'
                            'host_down_time = "1s"\n'
                            '[journal]\nsegment_size = "1MB"\nmax_spool_size = "4MB"\n')
    body = b"Subject: fill\r\n\r\n" + (b"z" * 998 + b"\r\n") * 100  # ~100 KB
    accepted = []
    refusal = None
    for i in range(200):  # 4 MB / 100 KB = ~40: the spool fills well before 200
        with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
            c.ehlo("client.test")
            code, text = c.mail(SENDER, ["SIZE=%d" % len(body)])
            if code == 452:
                refusal = (code, text)
                break
            c.rcpt("fill%d@example.net" % i)
            code, text = c.data(body) if code == 250 else (code, text)
            if code == 452:
                refusal = (code, text)
                break
            expect(code == 250, "message %d: %d %r" % (i, code, text))
            accepted.append("fill%d@example.net" % i)
    expect(refusal is not None and refusal[1].startswith(b"4.3.1"),
           "no 452 4.3.1 when the spool was full; got %r after %d" % (refusal, len(accepted)))
    expect(len(accepted) >= 10, "refused after only %d messages" % len(accepted))
    sink = ctx.sink("spool", port=port)
    stems = new_messages(sink, set(), len(accepted))
    got = sorted(r for s in stems for r in sink.load(s)[0]["rcpt_to"])
    expect(got == sorted(accepted), "delivered %d of %d accepted" % (len(got), len(accepted)))
    deadline = time.monotonic() + 15
    while True:  # segments are reclaimed once their mail is delivered
        with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
            c.ehlo("client.test")
            if c.mail(SENDER, ["SIZE=%d" % len(body)])[0] == 250:
                c.rcpt("after@example.net")
                expect(c.data(body)[0] == 250, "refused after the spool drained")
                break
        expect(time.monotonic() < deadline, "still refusing 15 s after the spool drained")
        time.sleep(0.5)


def spool_segments(relay):
    spool = os.path.join(relay.dir, "spool")
    return sum(len([n for n in os.listdir(os.path.join(spool, d)) if n.endswith(".seg")])
               for d in os.listdir(spool) if d.startswith("shard-"))


def check_compaction_frees_pinned_segments(ctx):
    """A few long-deferred messages in the oldest segments must not keep the
    history behind them on disk: compaction rewrites them forward, the old
    segments go, and after a restart the rewritten messages are still queued
    with the recipients that were pending (and only those) and their bytes."""
    sink = ctx.sink("pinned", "--rcpt-reply", "451 4.2.0 Not now", "--reply-match", "held")
    port = sink.port
    relay = ctx.relay({"*": "127.0.0.1:%d" % port},
                      extra='[delivery]\nretry_min = "2s"\nretry_max = "4s"\n'
                            '[journal]\nsegment_size = "1MB"\n')
    held = {}
    # One connection, so one shard journals everything.
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as c:
        for i in range(4):   # one recipient deferred, one delivered
            body = b"Subject: held %d\r\n\r\n" % i + (b"held line %d\r\n" % i) * (2000 + i)
            c.sendmail(SENDER, ["held%d@example.net" % i, "ok%d@example.net" % i], body)
            held["held%d@example.net" % i] = body
        relay.wait_accounting(lambda ls: sum(l["status"] == "deferred" for l in ls) >= 4,
                              "the four deferrals")
        filler = b"Subject: filler\r\n\r\n" + (b"f" * 998 + b"\r\n") * 100   # ~100 KB
        for i in range(150):   # ~15 MB through 1 MB segments
            c.sendmail(SENDER, ["filler%d@example.net" % i], filler)
    new_messages(sink, set(), 154)
    deadline = time.monotonic() + 30
    while spool_segments(relay) > 6:   # at most about three per shard
        expect(time.monotonic() < deadline,
               "%d segments 30 s after the filler was delivered; compaction did not run: %s"
               % (spool_segments(relay), relay.log()[-1500:]))
        time.sleep(0.25)
    expect("journal compaction of segment" in relay.log(), "no compaction in the log")
    expect(relay.stop() == 0, "ringmta did not stop cleanly")
    recovered = sum(int(n) for n in re.findall(r"recovered (\d+) queued message", relay.log()))
    sink.stop()
    relay.start()
    recovered = sum(int(n) for n in re.findall(r"recovered (\d+) queued message",
                                               relay.log())) - recovered
    expect(recovered == 4, "recovered %d messages after compaction, want the 4 held" % recovered)
    accepting = ctx.sink("unpinned", port=port)
    stems = new_messages(accepting, set(), 4)
    got = {}
    for stem in stems:
        envelope, content = accepting.load(stem)
        expect(len(envelope["rcpt_to"]) == 1, "delivered again to %r" % envelope["rcpt_to"])
        got[envelope["rcpt_to"][0]] = strip_received(content)
    expect(sorted(got) == sorted(held), "held recipients delivered: %r" % sorted(got))
    for rcpt, body in held.items():
        expect(got[rcpt] == body, "%s: the body changed through compaction" % rcpt)
    time.sleep(1)
    expect(len(accepting.stored()) == 4, "more than the 4 held messages delivered")


def check_bdat_exact_bytes(ctx):
    sink = ctx.sink("bdat")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port})
    body = (b"Subject: chunks\r\n\r\n.single dot line follows\r\n.\r\n..two\r\n"
            + b"8-bit \xc3\xa9\r\n" + b"y" * 998 + b"\r\nend\r\n")
    first, rest = body[:25], body[25:]
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as s:
        read_replies(s, 1)
        s.sendall(b"EHLO client.test\r\n")
        ehlo = s.recv(4096)
        expect(b"CHUNKING" in ehlo, "CHUNKING not offered: %r" % ehlo)
        s.sendall(b"MAIL FROM:<%s> BODY=8BITMIME\r\nRCPT TO:<chunky@example.net>\r\n"
                  b"BDAT %d\r\n%sBDAT %d LAST\r\n%sQUIT\r\n"
                  % (SENDER.encode(), len(first), first, len(rest), rest))
        codes = read_replies(s, 5)
    expect(codes == [250, 250, 250, 250, 221], "replies %r" % codes)
    (stem,) = new_messages(sink, set(), 1)
    expect(strip_received(sink.load(stem)[1]) == body, "BDAT content changed on the way")


def make_certificate(ctx, name="relay.test"):
    key = os.path.join(ctx.workdir, "key.pem")
    cert = os.path.join(ctx.workdir, "cert.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=" + name], capture_output=True, timeout=30)
    expect(p.returncode == 0, "openssl req: %s" % p.stderr.decode()[-300:])
    return 'tls_cert_file = "%s"\ntls_key_file = "%s"\n' % (cert, key)


def tls_client_context():
    import ssl
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE   # opportunistic, as between MTAs
    return context


def check_starttls_smtplib(ctx):
    sink = ctx.sink("tls")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port}, extra=make_certificate(ctx),
                      section_extra="ingress")
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.ehlo("client.test")
        expect(c.has_extn("starttls"), "STARTTLS not offered")
        code, _ = c.starttls(context=tls_client_context())
        expect(code == 220, "STARTTLS answered %d" % code)
        c.ehlo("client.test")
        expect(not c.has_extn("starttls"), "STARTTLS offered again under TLS")
        version = c.sock.version()
        c.sendmail(SENDER, ["secret@example.net"], b"Subject: over TLS\r\n\r\nbody\r\n")
    (stem,) = new_messages(sink, set(), 1)
    content = sink.load(stem)[1]
    expect(b"with ESMTPS (using %s with cipher " % version.encode() in content,
           "Received header lacks the TLS version and cipher: %r" % content[:300])
    expect(strip_received(content) == b"Subject: over TLS\r\n\r\nbody\r\n", "content changed")


def check_starttls_openssl_versions(ctx):
    relay = ctx.relay({"*": "127.0.0.1:9"}, extra=make_certificate(ctx), section_extra="ingress")
    for flag, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
        p = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                            "127.0.0.1:%d" % relay.port, flag, "-brief"],
                           input=b"QUIT\r\n", capture_output=True, timeout=30)
        text = (p.stdout + p.stderr).decode("utf-8", "replace")
        expect("Protocol version: %s" % name in text, "%s: %s" % (flag, text[-400:]))


def check_starttls_discards_injected_commands(ctx):
    sink = ctx.sink("inject")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port}, extra=make_certificate(ctx),
                      section_extra="ingress")
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as raw:
        read_replies(raw, 1)
        raw.sendall(b"EHLO client.test\r\n")
        read_replies(raw, 1)
        # Plaintext pipelined after STARTTLS (a man in the middle could add it) must
        # not become commands of the TLS session.
        raw.sendall(b"STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\nNOOP\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            reply += raw.recv(1)
        expect(reply.startswith(b"220 2.0.0"), "STARTTLS answered %r" % reply)
        tls = tls_client_context().wrap_socket(raw)
        tls.sendall(b"EHLO client.test\r\nMAIL FROM:<real@sender.test>\r\n")
        answer = b""
        deadline = time.monotonic() + 10
        while b"2.1.0" not in answer and b"503" not in answer and time.monotonic() < deadline:
            answer += tls.recv(4096)
        first_line = answer.split(b"\r\n")[0]
        expect(first_line.startswith(b"250-"), "first reply under TLS %r (injected?)" % answer)
        expect(b"250 2.1.0" in answer and b"503" not in answer,
               "MAIL under TLS: %r (the injected MAIL was read)" % answer)


def served_certificate_subject(port):
    p = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                        "127.0.0.1:%d" % port, "-brief"], input=b"QUIT\r\n",
                       capture_output=True, timeout=30)
    text = (p.stdout + p.stderr).decode("utf-8", "replace")
    for line in text.splitlines():
        if line.startswith("Peer certificate:"):
            return line
    return text[-300:]


def check_sighup_reloads_certificate_and_reopens_accounting(ctx):
    sink = ctx.sink("hup")
    relay = ctx.relay({"*": "127.0.0.1:%d" % sink.port}, extra=make_certificate(ctx, "old.test"),
                      section_extra="ingress")
    expect("CN = old.test" in served_certificate_subject(relay.port),
           "first certificate: %s" % served_certificate_subject(relay.port))
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.sendmail(SENDER, ["before@example.net"], b"Subject: 1\r\n\r\nx\r\n")
    relay.wait_accounting(lambda ls: len(ls) == 1, "the first line")
    rotated = relay.accounting_path + ".1"
    os.rename(relay.accounting_path, rotated)   # what logrotate does before its SIGHUP
    make_certificate(ctx, "new.test")           # same paths, new certificate and key
    relay.hup()
    deadline = time.monotonic() + 10
    while "CN = new.test" not in served_certificate_subject(relay.port):
        expect(time.monotonic() < deadline, "the new certificate was not served after SIGHUP")
        time.sleep(0.2)
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.sendmail(SENDER, ["after@example.net"], b"Subject: 2\r\n\r\nx\r\n")
    lines = relay.wait_accounting(lambda ls: len(ls) == 1, "a line in the reopened log")
    expect(lines[0]["recipient"] == "after@example.net", "new log has %r" % lines)
    with open(rotated) as f:
        old = [json.loads(l) for l in f if l.strip()]
    expect([l["recipient"] for l in old] == ["before@example.net"], "rotated log has %r" % old)


class context(check_context):
    def __init__(self, build_root, workdir):
        super().__init__(build_root, workdir)
        self.serial = 0

    def relay(self, routes, relay_networks=None, extra="", section_extra=None):
        self.serial += 1
        if section_extra:
            # Keys for an existing section go right after its header line.
            extra_lines = extra
            extra = ""
        r = ringmta_process(self.ringmta, self.workdir, routes, extra, relay_networks,
                            name="ringmta%d" % self.serial)
        if section_extra:
            with open(r.config_path) as f:
                text = f.read()
            text = text.replace("[%s]\n" % section_extra, "[%s]\n%s" % (section_extra,
                                                                      extra_lines), 1)
            with open(r.config_path, "w") as f:
                f.write(text)
        self.processes.append(r)
        return r.start()


CHECKS = [check_exact_bytes_smtplib, check_swaks, check_pipelined_transactions,
          check_input_in_pieces,
          check_relay_refused, check_kill9_after_250, check_retry_after_451,
          check_dsn_after_550, check_bodies_read_back_without_cache, check_no_partial_message, check_limits, check_config_errors,
          check_connection_limit, check_batched_transactions, check_batch_cut_by_421,
          check_idle_timeout, check_sigterm_mid_session,
          check_recipients_split_by_route, check_mixed_recipient_replies,
          check_retry_time_survives_restart, check_spool_full_then_resumes,
          check_compaction_frees_pinned_segments,
          check_bdat_exact_bytes, check_starttls_smtplib, check_starttls_openssl_versions,
          check_starttls_discards_injected_commands,
          check_sighup_reloads_certificate_and_reopens_accounting]


if __name__ == "__main__":
    sys.exit(run_checks(CHECKS, context, "ringmta-e2e-"))
