#!/usr/bin/env python3
"""Scripted DNS server for the dns unit tests: UDP and TCP on one loopback port,
standard library only. What it answers depends on the query name:

  tc.test       UDP: an empty reply with TC set; TCP: 60 MX records (> 1232 bytes)
  wrongid.test  UDP: a reply with the wrong id, then one for another question,
                then the right reply (A 192.0.2.68)
  flaky.test    SERVFAIL until the --flag file exists, then A 192.0.2.88 (TTL 60)
  short.test    A 192.0.2.99 with TTL 1
  silent.test   no reply at all
  late.test     A 192.0.2.77, sent 250 ms after the query (UDP)
  formerr.test  FORMERR to queries with an OPT record, else A 192.0.2.55
  anything else NXDOMAIN with an SOA (TTL 30, MINIMUM 30) in the authority section

Every query is appended to --log as "udp|tcp NAME TYPE". Exits after --lifetime
seconds so a lost process cannot outlive the test run for long."""

import argparse
import os
import selectors
import socket
import struct
import time

A, SOA, MX = 1, 6, 15


def encode_name(name):
    out = b""
    for label in name.split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def rr(name, rtype, ttl, rdata):
    return encode_name(name) + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def parse_query(data):
    qid, flags, qdcount, _an, _ns, arcount = struct.unpack(">HHHHHH", data[:12])
    labels, at = [], 12
    while data[at] != 0:
        length = data[at]
        labels.append(data[at + 1:at + 1 + length].decode("ascii", "replace"))
        at += 1 + length
    qtype, _qclass = struct.unpack(">HH", data[at + 1:at + 5])
    # The question exactly as asked (case preserved), to echo back.
    return qid, ".".join(labels).lower(), qtype, data[12:at + 5], arcount


def reply(qid, question, rcode=0, tc=False, answers=(), authority=()):
    flags = 0x8000 | 0x0100 | 0x0080 | rcode | (0x0200 if tc else 0)
    header = struct.pack(">HHHHHH", qid, flags, 1, len(answers), len(authority), 0)
    return header + question + b"".join(answers) + b"".join(authority)


def soa(zone):
    rdata = encode_name("ns." + zone) + encode_name("hostmaster." + zone)
    rdata += struct.pack(">IIIII", 1, 3600, 600, 86400, 30)
    return rr(zone, SOA, 30, rdata)


def address(name, text, ttl):
    return rr(name, A, ttl, socket.inet_aton(text))


def answer(data, proto, flag_path):
    """The list of replies to send for one query (UDP may send several)."""
    qid, name, qtype, question, arcount = parse_query(data)
    if name == "tc.test":
        if proto == "udp":
            return [reply(qid, question, tc=True)]
        records = [rr(name, MX, 300, struct.pack(">H", i) + encode_name("mx%02d.tc.test" % i))
                   for i in range(60)]
        return [reply(qid, question, answers=records)]
    if name == "wrongid.test":
        wrong_question = encode_name("other.test") + struct.pack(">HH", qtype, 1)
        return [reply(qid ^ 0x5a5a, question, answers=[address(name, "192.0.2.66", 60)]),
                reply(qid, wrong_question, answers=[address("other.test", "192.0.2.67", 60)]),
                reply(qid, question, answers=[address(name, "192.0.2.68", 60)])]
    if name == "flaky.test":
        if not os.path.exists(flag_path):
            return [reply(qid, question, rcode=2)]
        return [reply(qid, question, answers=[address(name, "192.0.2.88", 60)])]
    if name == "short.test":
        return [reply(qid, question, answers=[address(name, "192.0.2.99", 1)])]
    if name == "silent.test":
        return []
    if name == "late.test":
        return [(0.25, reply(qid, question, answers=[address(name, "192.0.2.77", 60)]))]
    if name == "formerr.test":
        if arcount > 0:
            return [reply(qid, question, rcode=1)]
        return [reply(qid, question, answers=[address(name, "192.0.2.55", 60)])]
    return [reply(qid, question, rcode=3, authority=[soa("test")])]


def log_query(log, proto, data):
    try:
        _qid, name, qtype, _q, _ar = parse_query(data)
    except (IndexError, struct.error):
        return
    log.write("%s %s %d\n" % (proto, name, qtype))
    log.flush()


def read_exactly(conn, count):
    data = b""
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def serve_tcp(conn, log, flag_path):
    conn.settimeout(2)
    try:
        for _ in range(16):   # bounded queries per connection
            prefix = read_exactly(conn, 2)
            if prefix is None:
                return
            data = read_exactly(conn, struct.unpack(">H", prefix)[0])
            if data is None:
                return
            log_query(log, "tcp", data)
            for message in answer(data, "tcp", flag_path):
                conn.sendall(struct.pack(">H", len(message)) + message)
    except (OSError, IndexError, struct.error):
        pass
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--flag", required=True)
    parser.add_argument("--lifetime", type=float, default=300)
    args = parser.parse_args()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", args.port))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", args.port))
    tcp.listen(16)
    selector = selectors.DefaultSelector()
    selector.register(udp, selectors.EVENT_READ, "udp")
    selector.register(tcp, selectors.EVENT_READ, "tcp")
    end = time.monotonic() + args.lifetime
    delayed = []   # (due time, message, peer), sent by the loop when due
    with open(args.log, "a") as log:
        while time.monotonic() < end:
            wait = 0.5
            if delayed:
                wait = max(0.0, min(wait, min(d[0] for d in delayed) - time.monotonic()))
            for key, _ in selector.select(timeout=wait):
                if key.data == "udp":
                    data, peer = udp.recvfrom(65535)
                    log_query(log, "udp", data)
                    try:
                        for message in answer(data, "udp", args.flag):
                            if isinstance(message, tuple):
                                delayed.append((time.monotonic() + message[0], message[1], peer))
                            else:
                                udp.sendto(message, peer)
                    except (IndexError, struct.error):
                        pass
                else:
                    conn, _ = tcp.accept()
                    serve_tcp(conn, log, args.flag)
            now = time.monotonic()
            for item in [d for d in delayed if d[0] <= now]:
                udp.sendto(item[1], item[2])
                delayed.remove(item)


if __name__ == "__main__":
    main()
