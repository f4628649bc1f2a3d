#!/usr/bin/env python3
"""End-to-end tests of delivery by MX: ringmta resolves recipient domains through
a real DNS server on loopback (dnsmasq, started here with MX, A and null-MX
records) and delivers to receivers on several 127.x addresses that share one
port ([delivery] port): ringmta-sink, and a Python receiver whose TLS is
OpenSSL's (STARTTLS, CHUNKING). Each check starts its own ringmta (2 shards).
Prints "ok - name" / "not ok - name: reason"; the last line is
"N passed, N failed". Every wait is bounded."""

import os
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from peers import (check_failed, expect, free_port, new_messages,  # noqa: E402
                   ringmta_process, run_checks, sink_process)
from dns_server import dnsmasq  # noqa: E402
from smtp_receiver import receiver  # noqa: E402

SENDER = "alice@sender.test"
WAIT_S = 15


def send(relay, recipients, body=b"Subject: mx\r\n\r\nbody\r\n", sender=SENDER,
         mail_options=(), rcpt_options=()):
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        c.sendmail(sender, recipients, body, mail_options=list(mail_options),
                   rcpt_options=list(rcpt_options))


def wait_for(predicate, what):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise check_failed("timed out waiting for %s" % what)


def lines_for(relay, recipient, status=None):
    return [l for l in relay.accounting()
            if l["recipient"] == recipient and (status is None or l["status"] == status)]


class context:
    def __init__(self, build_root, workdir):
        self.workdir = workdir
        self.ringmta = os.path.join(build_root, "src", "ringmta")
        self.sink_exe = os.path.join(build_root, "tools", "sink", "ringmta-sink")
        self.port = free_port()    # every exchanger's SMTP port in this check
        self.cleanup = []
        self.serial = 0

    def dns(self, records):
        server = dnsmasq(self.workdir, records)
        self.cleanup.append(server.stop)
        return server

    def sink(self, name, host):
        s = sink_process(self.sink_exe, self.workdir, name, port=self.port, host=host)
        self.cleanup.append(s.kill)
        return s

    def receiver(self, host, **options):
        r = receiver(host, self.port, **options)
        self.cleanup.append(r.stop)
        return r

    def relay(self, dns, extra="", bounces=None, delivery="", idle="0s"):
        # idle: connection_idle_timeout ("0s": no pooled connection outlives its work)
        """ringmta routing by MX through `dns`; bounces to sender.test go to `bounces`."""
        self.serial += 1
        routes = {"sender.test": "127.0.0.1:%d" % bounces.port} if bounces else {}
        extra = ('[delivery]\nport = %d\nconnection_idle_timeout = "%s"\nretry_min = "1s"\n'
                 'retry_max = "1s"\nhost_down_time = "30s"\n' % (self.port, idle)) + delivery + extra
        r = ringmta_process(self.ringmta, self.workdir, routes, extra,
                            name="ringmta%d" % self.serial, dns=dns)
        self.cleanup.append(r.stop)
        return r.start()

    def close(self):
        for stop in reversed(self.cleanup):
            try:
                stop()
            except Exception:  # cleanup must go on
                pass

    def certificate(self, name, ca=None):
        """A P-256 certificate for `name` (SAN DNS), self-signed or signed by `ca`."""
        key = os.path.join(self.workdir, name + ".key")
        cert = os.path.join(self.workdir, name + ".pem")
        ext = os.path.join(self.workdir, name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName = DNS:%s\n" % name)
        common = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", key, "-subj", "/CN=" + name]
        if ca is None:
            args = ["openssl", "req", "-x509"] + common + ["-out", cert, "-days", "2",
                                                           "-addext", "subjectAltName=DNS:" + name]
            run(args)
        else:
            csr = os.path.join(self.workdir, name + ".csr")
            run(["openssl", "req"] + common + ["-out", csr])
            run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
                 "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext])
        return cert, key

    def authority(self):
        key = os.path.join(self.workdir, "ca.key")
        cert = os.path.join(self.workdir, "ca.pem")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=ringmta test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        return cert, key


def run(args):
    p = subprocess.run(args, capture_output=True, timeout=30)
    expect(p.returncode == 0, "%s: %s" % (" ".join(args[:3]), p.stderr.decode()[-300:]))


def check_mx_preference_then_failover(ctx):
    dns = ctx.dns(["--mx-host=pref.test,mx2.pref.test,20", "--mx-host=pref.test,mx1.pref.test,10",
                   "--host-record=mx1.pref.test,127.0.0.21",
                   "--host-record=mx2.pref.test,127.0.0.22"])
    primary = ctx.sink("primary", "127.0.0.21")
    backup = ctx.sink("backup", "127.0.0.22")
    relay = ctx.relay(dns.address)
    send(relay, ["one@pref.test"])
    new_messages(primary, set(), 1)
    line = wait_for(lambda: lines_for(relay, "one@pref.test", "delivered"), "delivered")[0]
    expect(line["next_hop"] == "mx1.pref.test" and line["ip"] == "127.0.0.21:%d" % ctx.port,
           "first message went to %s %s" % (line["next_hop"], line["ip"]))
    expect(not backup.stored(), "the backup MX got mail while the primary was up")
    primary.kill()
    send(relay, ["two@pref.test"])
    (stem,) = new_messages(backup, set(), 1)
    expect(backup.load(stem)[0]["rcpt_to"] == ["two@pref.test"], "wrong message at the backup")
    line = wait_for(lambda: lines_for(relay, "two@pref.test", "delivered"), "delivered")[0]
    expect(line["next_hop"] == "mx2.pref.test" and line["attempt"] == 1,
           "failover line %r" % line)


def check_implicit_mx(ctx):
    dns = ctx.dns(["--host-record=implicit.test,127.0.0.23"])
    sink = ctx.sink("implicit", "127.0.0.23")
    relay = ctx.relay(dns.address)
    send(relay, ["bob@implicit.test"])
    (stem,) = new_messages(sink, set(), 1)
    expect(sink.load(stem)[0]["rcpt_to"] == ["bob@implicit.test"], "wrong recipient")
    line = wait_for(lambda: lines_for(relay, "bob@implicit.test", "delivered"), "delivered")[0]
    expect(line["next_hop"] == "implicit.test", "next_hop %r" % line["next_hop"])


def bounce_check(ctx, records, recipient, code, enhanced):
    dns = ctx.dns(records)
    bounces = bounces_sink(ctx)
    relay = ctx.relay(dns.address, bounces=bounces)
    send(relay, [recipient])
    line = wait_for(lambda: lines_for(relay, recipient, "failed"), "a failed line")[0]
    expect(line["code"] == code and line["enhanced"] == enhanced, "line %r" % line)
    (stem,) = new_messages(bounces, set(), 1)
    envelope, content = bounces.load(stem)
    expect(envelope["mail_from"] == "" and envelope["rcpt_to"] == [SENDER], str(envelope))
    expect(b"Final-Recipient: rfc822; " + recipient.encode() in content, "no Final-Recipient")
    expect(b"Status: " + enhanced.encode() in content, "DSN lacks Status: %s" % enhanced)
    expect(b"Action: failed" in content, "DSN lacks Action: failed")


def check_null_mx_bounces_with_5_1_10(ctx):
    bounce_check(ctx, ["--mx-host=nullmx.test,.,0"], "nobody@nullmx.test", 556, "5.1.10")


def check_nxdomain_bounces_with_5_1_2(ctx):
    bounce_check(ctx, [], "nobody@nosuch.test", 550, "5.1.2")


def check_dns_failure_defers(ctx):
    silent = free_port()   # nothing answers there: every query times out or is refused
    relay = ctx.relay("127.0.0.1:%d" % silent)
    send(relay, ["later@pref.test"])
    line = wait_for(lambda: lines_for(relay, "later@pref.test", "deferred"), "a deferral")[0]
    expect(line["enhanced"] == "4.4.3" and line["code"] == 0, "deferral %r" % line)
    expect(lines_for(relay, "later@pref.test", "failed") == [], "a DNS failure bounced")


def tls_receiver_dns(ctx, name, address):
    return ctx.dns(["--mx-host=%s,mx.%s,10" % (name, name), "--host-record=mx.%s,%s"
                    % (name, address)])


def check_opportunistic_tls_and_chunking(ctx):
    dns = tls_receiver_dns(ctx, "tls.test", "127.0.0.24")
    cert, key = ctx.certificate("mx.tls.test")
    peer = ctx.receiver("127.0.0.24", cert=cert, key=key, chunking=True)
    relay = ctx.relay(dns.address)
    body = b"Subject: tls\r\n\r\n.leading dot stays single under BDAT\r\nend\r\n"
    send(relay, ["carol@tls.test"], body=body)
    (got,) = wait_for(peer.received, "a message at the TLS receiver")
    expect(got.tls is not None, "the message came in plaintext")
    version, cipher, sni = got.tls
    expect(version in ("TLSv1.2", "TLSv1.3"), "TLS version %r" % version)
    expect(sni == "mx.tls.test", "SNI %r" % sni)
    expect(got.bdat, "CHUNKING was offered but DATA was used")
    expect(got.data.endswith(body), "body bytes differ: %r" % got.data[-120:])
    line = wait_for(lambda: lines_for(relay, "carol@tls.test", "delivered"), "delivered")[0]
    expect(line["tls_version"] == version and line["tls_cipher"] != "",
           "accounting TLS fields %r %r (receiver saw %s %s)"
           % (line["tls_version"], line["tls_cipher"], version, cipher))


def check_content_pipelined_with_chunking(ctx):
    """With CHUNKING and PIPELINING, a small message's BDAT and content go with MAIL
    and RCPT (the receiver holds those replies until the next command, so a
    client that waited for them would stall); content over 128 KiB waits for the
    RCPT replies and then goes by BDAT too."""
    dns = ctx.dns(["--mx-host=pipe.test,mx.pipe.test,10", "--host-record=mx.pipe.test,127.0.0.43",
                   "--mx-host=big.test,mx.big.test,10", "--host-record=mx.big.test,127.0.0.44"])
    held = ctx.receiver("127.0.0.43", chunking=True, hold_replies=True)
    plain = ctx.receiver("127.0.0.44", chunking=True)
    relay = ctx.relay(dns.address)
    small = b"Subject: small\r\n\r\n.dot\r\n" + b"x" * 1000 + b"\r\n"
    large = b"Subject: large\r\n\r\n" + b"line of a large message\r\n" * 8000  # 200 KiB
    send(relay, ["a@pipe.test", "b@pipe.test"], body=small)
    send(relay, ["c@big.test"], body=large)
    (got,) = wait_for(held.received, "the small message")
    expect(got.bdat and got.pipelined, "BDAT %s, pipelined %s" % (got.bdat, got.pipelined))
    expect(got.rcpt_to == ["a@pipe.test", "b@pipe.test"], "recipients %r" % got.rcpt_to)
    expect(got.data.endswith(small), "small content differs: %r" % got.data[-80:])
    (big,) = wait_for(plain.received, "the large message")
    expect(big.bdat and not big.pipelined, "BDAT %s, pipelined %s" % (big.bdat, big.pipelined))
    expect(big.data.endswith(large), "large content differs (%d bytes)" % len(big.data))
    wait_for(lambda: len(lines_for(relay, "a@pipe.test", "delivered")) +
             len(lines_for(relay, "c@big.test", "delivered")) == 2, "two delivered lines")


def check_batch_lost_with_the_connection(ctx):
    """Transactions pipelined in one write behind one whose content gets 421 (the
    receiver closes then) lose their replies with the connection: they are
    deferred (4.4.2) and retried, and every message arrives exactly once. The
    receiver greets the first connection 2 s late, so that the mail queues up
    behind it and its first write carries a batch."""
    dns = ctx.dns(["--mx-host=lost.test,mx.lost.test,10",
                   "--host-record=mx.lost.test,127.0.0.45"])
    peer = ctx.receiver("127.0.0.45", chunking=True, first_greeting_delay_s=2.0)
    peer.refuse_data(b"421 4.7.0 Closing the connection")
    relay = ctx.relay(dns.address, delivery="max_connections = 2\n")
    count = 20
    recipients = ["r%d@lost.test" % i for i in range(count)]
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
        for r in recipients:
            c.sendmail(SENDER, [r], b"Subject: batch\r\n\r\nbody\r\n")
    wait_for(peer.refusals, "the first 421")
    peer.refuse_data(None)
    wait_for(lambda: sum(l["status"] == "delivered" for l in relay.accounting()) >= count,
             "every recipient delivered")
    time.sleep(0.5)   # a duplicate would arrive by now
    arrived = sorted(r for m in peer.received() for r in m.rcpt_to)
    expect(arrived == sorted(recipients), "%d arrived, %d distinct"
           % (len(arrived), len(set(arrived))))
    lines = relay.accounting()
    delivered = sorted(l["recipient"] for l in lines if l["status"] == "delivered")
    expect(delivered == sorted(recipients), "%d delivered lines" % len(delivered))
    lost = [l for l in lines if l["status"] == "deferred" and l["enhanced"] == "4.4.2"]
    expect(lost, "no transaction behind the 421 was deferred as lost: %r"
           % [(l["status"], l["code"], l["enhanced"]) for l in lines][:10])
    print("# %d refused with 421, %d lost with the connection and retried"
          % (len(peer.refusals()), len(lost)))


def check_required_tls_refuses_plaintext_receiver(ctx):
    dns = tls_receiver_dns(ctx, "plain.test", "127.0.0.25")
    peer = ctx.receiver("127.0.0.25")
    relay = ctx.relay(dns.address, extra='[domains."plain.test"]\ntls = "required"\n')
    send(relay, ["dave@plain.test"])
    line = wait_for(lambda: lines_for(relay, "dave@plain.test", "deferred"), "a deferral")[0]
    expect(line["enhanced"] == "4.7.4" and "STARTTLS" in line["reply"], "deferral %r" % line)
    expect(peer.received() == [], "mail was sent in plaintext despite tls = required")


def check_verify_refuses_bad_certificate_accepts_good(ctx):
    dns = ctx.dns(["--mx-host=bad.test,mx.bad.test,10", "--host-record=mx.bad.test,127.0.0.26",
                   "--mx-host=good.test,mx.good.test,10",
                   "--host-record=mx.good.test,127.0.0.27"])
    ca = ctx.authority()
    bad_cert, bad_key = ctx.certificate("mx.bad.test")          # self-signed
    good_cert, good_key = ctx.certificate("mx.good.test", ca)   # signed by the trusted CA
    bad = ctx.receiver("127.0.0.26", cert=bad_cert, key=bad_key)
    good = ctx.receiver("127.0.0.27", cert=good_cert, key=good_key)
    relay = ctx.relay(dns.address, extra='[domains."bad.test"]\ntls = "verify"\n'
                      '[domains."good.test"]\ntls = "verify"\n',
                      delivery='tls_ca_file = "%s"\n' % ca[0])
    send(relay, ["eve@bad.test", "frank@good.test"])
    (got,) = wait_for(good.received, "the message at the verified receiver")
    expect(got.tls is not None and got.rcpt_to == ["frank@good.test"], "good receiver got %r"
           % got.rcpt_to)
    line = wait_for(lambda: lines_for(relay, "eve@bad.test", "deferred"), "a deferral")[0]
    expect(line["enhanced"] == "4.7.5", "deferral %r" % line)
    expect(bad.received() == [], "mail went to a receiver whose certificate failed")


def bounces_sink(ctx):
    s = sink_process(ctx.sink_exe, ctx.workdir, "bounces")
    ctx.cleanup.append(s.kill)
    return s


def check_dsn_parameters_passed_on(ctx):
    dns = tls_receiver_dns(ctx, "dsn.test", "127.0.0.28")
    peer = ctx.receiver("127.0.0.28", dsn=True)
    bounces = bounces_sink(ctx)
    relay = ctx.relay(dns.address, bounces=bounces)
    send(relay, ["gina@dsn.test"], mail_options=["RET=HDRS", "ENVID=campaign+2B7"],
         rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Gina@dsn.test"])
    (got,) = wait_for(peer.received, "the message at the DSN receiver")
    dsn_params = sorted(p for p in got.mail_params if not p.startswith("SIZE="))
    expect(dsn_params == ["ENVID=campaign+2B7", "RET=HDRS"],
           "MAIL parameters %r" % got.mail_params)
    expect(got.rcpt_params == [["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Gina@dsn.test"]],
           "RCPT parameters %r" % got.rcpt_params)
    wait_for(lambda: lines_for(relay, "gina@dsn.test", "delivered"), "delivered")
    time.sleep(0.5)
    expect(not bounces.stored(), "a report was sent although the next hop reports itself")


def check_notify_success_to_hop_without_dsn_is_relayed(ctx):
    dns = tls_receiver_dns(ctx, "nodsn.test", "127.0.0.29")
    peer = ctx.receiver("127.0.0.29")
    bounces = bounces_sink(ctx)
    relay = ctx.relay(dns.address, bounces=bounces)
    send(relay, ["hank@nodsn.test"], mail_options=["ENVID=env1"],
         rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;hank@nodsn.test"])
    (got,) = wait_for(peer.received, "the message at the receiver")
    sent = [p for p in got.mail_params if not p.startswith("SIZE=")]
    expect(sent == [] and got.rcpt_params == [[]],
           "DSN parameters sent to a hop without DSN: %r %r" % (got.mail_params, got.rcpt_params))
    (stem,) = new_messages(bounces, set(), 1)
    envelope, content = bounces.load(stem)
    expect(envelope["mail_from"] == "" and envelope["rcpt_to"] == [SENDER], str(envelope))
    for needed in (b"Subject: Successful Mail Delivery Report", b"Action: relayed",
                   b"Status: 2.0.0", b"Original-Envelope-Id: env1",
                   b"Original-Recipient: rfc822; hank@nodsn.test"):
        expect(needed in content, "the relayed report lacks %r" % needed)


def check_notify_never_and_ret_full(ctx):
    dns = ctx.dns([])
    bounces = bounces_sink(ctx)
    relay = ctx.relay(dns.address, bounces=bounces)
    body = b"Subject: full\r\n\r\nthe body line that RET=FULL returns\r\n"
    send(relay, ["quiet@gone.test"], body=body, rcpt_options=["NOTIFY=NEVER"])
    send(relay, ["loud@gone.test"], body=body, mail_options=["RET=FULL"])
    wait_for(lambda: lines_for(relay, "quiet@gone.test", "failed"), "quiet failed")
    (stem,) = new_messages(bounces, set(), 1)
    _, content = bounces.load(stem)
    expect(b"Final-Recipient: rfc822; loud@gone.test" in content, "the DSN is not for loud@")
    expect(b"the body line that RET=FULL returns" in content, "RET=FULL: the body is missing")
    time.sleep(0.5)
    expect(len(bounces.stored()) == 1, "NOTIFY=NEVER still produced a DSN")


def check_smtputf8_carried_or_refused(ctx):
    dns = ctx.dns(["--mx-host=utf8.test,mx.utf8.test,10", "--host-record=mx.utf8.test,127.0.0.30",
                   "--mx-host=ascii.test,mx.ascii.test,10",
                   "--host-record=mx.ascii.test,127.0.0.31"])
    able = ctx.receiver("127.0.0.30", smtputf8=True)
    unable = ctx.receiver("127.0.0.31")
    bounces = bounces_sink(ctx)
    relay = ctx.relay(dns.address, bounces=bounces)
    body = "Subject: caf\u00e9\r\n\r\nna\u00efve\r\n".encode()
    send(relay, ["jos\u00e9@utf8.test"], body=body, mail_options=["SMTPUTF8"])
    send(relay, ["ren\u00e9e@ascii.test"], body=body, mail_options=["SMTPUTF8"])
    (got,) = wait_for(able.received, "the message at the SMTPUTF8 receiver")
    expect(got.rcpt_to == ["jos\u00e9@utf8.test"] and "SMTPUTF8" in got.mail_params,
           "received %r with %r" % (got.rcpt_to, got.mail_params))
    expect(got.data.endswith(body), "UTF-8 body bytes changed")
    line = wait_for(lambda: lines_for(relay, "ren\u00e9e@ascii.test", "failed"), "a failure")[0]
    expect(line["code"] == 553 and line["enhanced"] == "5.6.7", "failure %r" % line)
    expect(unable.received() == [], "a UTF-8 envelope went to a receiver without SMTPUTF8")
    (stem,) = new_messages(bounces, set(), 1)
    expect(b"Status: 5.6.7" in bounces.load(stem)[1], "the DSN lacks Status: 5.6.7")


def check_source_address_and_ehlo_name(ctx):
    dns = tls_receiver_dns(ctx, "source.test", "127.0.0.32")
    peer = ctx.receiver("127.0.0.32")
    relay = ctx.relay(dns.address, delivery='source_address = "127.0.0.42"\n'
                                             'ehlo_name = "out.relay.test"\n')
    send(relay, ["ivan@source.test"])
    wait_for(peer.received, "the message")
    expect(peer.peers and all(p == ("127.0.0.42", "out.relay.test") for p in peer.peers),
           "connections came from %r" % peer.peers)


def check_deferred_then_expired_with_dsn(ctx):
    bounces = bounces_sink(ctx)
    silent = free_port()   # no DNS answer: every attempt defers, then max_age expires it
    relay = ctx.relay("127.0.0.1:%d" % silent, bounces=bounces, delivery='max_age = "2s"\n')
    send(relay, ["old@late.test"])
    line = wait_for(lambda: lines_for(relay, "old@late.test", "expired"), "an expired line")[0]
    expect(line["attempt"] >= 2, "expired after %d attempt(s)" % line["attempt"])
    expect(lines_for(relay, "old@late.test", "deferred"), "no deferral before expiry")
    (stem,) = new_messages(bounces, set(), 1)
    content = bounces.load(stem)[1]
    for needed in (b"Final-Recipient: rfc822; old@late.test", b"Action: failed",
                   b"Status: 4.4.7"):
        expect(needed in content, "the expiry DSN lacks %r" % needed)


def check_one_dsn_for_two_failed_recipients(ctx):
    dns = ctx.dns([])
    bounces = bounces_sink(ctx)
    relay = ctx.relay(dns.address, bounces=bounces)
    send(relay, ["one@gone.test", "two@gone.test"])
    wait_for(lambda: len(lines_for(relay, "one@gone.test", "failed")) +
             len(lines_for(relay, "two@gone.test", "failed")) == 2, "two failed lines")
    (stem,) = new_messages(bounces, set(), 1)
    content = bounces.load(stem)[1]
    expect(content.count(b"Final-Recipient: rfc822; ") == 2, "the DSN does not list both")
    time.sleep(0.5)
    expect(len(bounces.stored()) == 1, "more than one DSN for one message")


CHECKS = [check_mx_preference_then_failover, check_implicit_mx,
          check_null_mx_bounces_with_5_1_10, check_nxdomain_bounces_with_5_1_2,
          check_dns_failure_defers, check_opportunistic_tls_and_chunking,
          check_content_pipelined_with_chunking, check_batch_lost_with_the_connection,
          check_required_tls_refuses_plaintext_receiver,
          check_verify_refuses_bad_certificate_accepts_good, check_dsn_parameters_passed_on,
          check_notify_success_to_hop_without_dsn_is_relayed, check_notify_never_and_ret_full,
          check_smtputf8_carried_or_refused, check_source_address_and_ehlo_name,
          check_deferred_then_expired_with_dsn, check_one_dsn_for_two_failed_recipients]


if __name__ == "__main__":
    sys.exit(run_checks(CHECKS, context, "ringmta-delivery-"))
