"""A small SMTP receiver for delivery tests, in-process on a thread: Python's
ssl (OpenSSL) is the TLS peer, so ringmta's client is tested against another
implementation. It offers what a test asks for (STARTTLS, CHUNKING, SMTPUTF8,
PIPELINING), can refuse the greeting, and records each message with its
envelope, the TLS version, cipher and SNI it was received under, and whether it
came by BDAT. It counts the connections open at once (`peak`), records when
each was accepted (`accepted`, monotonic) and stamps each message with its
arrival time, for throttle tests; refuse_data() makes it answer a reply such as
421 to the end of DATA (or BDAT LAST) instead of storing the message (a 421 closes the
connection, as RFC 5321 says), until it is called with None, and `refused_at`
stamps each refusal. With hold_replies, the replies to MAIL and RCPT wait for
the next command, so a client that does not pipeline stalls (and the read
times out); each message records whether its content command came while they
waited (`pipelined`). Each message records the number of the connection it came
on (`connection`, 1 for the first accepted); first_greeting_delay_s holds back
the first connection's greeting, as a busy server greets some clients late.
Standard library only; every read has a timeout."""

import socket
import socketserver
import ssl
import threading
import time

READ_TIMEOUT_S = 10
LINE_MAX = 4096
MESSAGE_MAX = 16 << 20


class message:
    def __init__(self, mail_from, rcpt_to, data, tls, bdat, mail_params, rcpt_params,
                 pipelined=False, connection=0):
        self.connection = connection   # the connection's number, in accept order from 1
        self.pipelined = pipelined   # DATA/BDAT came before the MAIL and RCPT replies left
        self.rcpt_params = rcpt_params   # per recipient, the parameters after the address
        self.arrived = time.monotonic()   # when the final reply was about to be sent
        self.mail_from = mail_from
        self.rcpt_to = rcpt_to
        self.data = data
        self.tls = tls            # None, or (version, cipher, sni)
        self.bdat = bdat
        self.mail_params = mail_params


class receiver:
    """Listens on host:port until stop(); messages and connections are recorded."""

    def __init__(self, host, port, cert=None, key=None, chunking=False, smtputf8=False,
                 pipelining=True, greeting=b"220 receiver.test ESMTP", name="receiver.test",
                 dsn=False, data_delay_s=0, hold_replies=False, first_greeting_delay_s=0):
        self.hold_replies = hold_replies
        self.first_greeting_delay_s = first_greeting_delay_s
        self.dsn = dsn
        self.data_delay_s = data_delay_s   # a slow receiver: wait before each final reply
        self.data_refusal = None   # bytes: the reply to the end of DATA or BDAT LAST, not 250
        self.refused_at = []       # monotonic times of the refusals
        self.messages = []
        self.connections = 0
        self.open = 0      # connections open now (accepted, session not yet ended)
        self.peak = 0      # the most open at once
        self.accepted = []  # time.monotonic() of each accept
        self.peers = []    # (client address, EHLO/HELO argument) per greeting
        self.lock = threading.Lock()
        self.chunking = chunking
        self.smtputf8 = smtputf8
        self.pipelining = pipelining
        self.greeting = greeting
        self.name = name
        self.context = None
        if cert:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(cert, key)
            self.sni = {}
            self.context.sni_callback = self._remember_sni
        outer = self

        class handler(socketserver.StreamRequestHandler):
            def handle(self):
                with outer.lock:
                    outer.connections += 1
                    number = outer.connections
                ended = [False]   # uncounted at QUIT, before the 221
                try:
                    outer._session(self.request, ended, number)
                except (OSError, ValueError, ssl.SSLError):
                    pass
                finally:
                    outer._end_connection(ended)

        class server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True
            # The default backlog of 5 drops connections a busy sender opens at once.
            request_queue_size = 128

            def process_request(self, request, client_address):
                # Counted as soon as accepted, before the session's thread starts.
                with outer.lock:
                    outer.open += 1
                    outer.peak = max(outer.peak, outer.open)
                    outer.accepted.append(time.monotonic())
                super().process_request(request, client_address)

        self.server = server((host, port), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _remember_sni(self, sock, name, context):
        self.sni[id(sock)] = name

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def received(self):
        with self.lock:
            return list(self.messages)

    def refuse_data(self, reply):
        """From now on answers `reply` (bytes, e.g. b"421 4.7.0 Try again later")
        to the end of each message's DATA, storing nothing; None: accept again."""
        with self.lock:
            self.data_refusal = reply

    def refusals(self):
        with self.lock:
            return list(self.refused_at)

    def _end_connection(self, ended):
        with self.lock:
            if not ended[0]:
                self.open -= 1
                ended[0] = True

    def _session(self, sock, ended, number):
        sock.settimeout(READ_TIMEOUT_S)
        # Replies go out one line per send: without this, Nagle holds each second
        # line for the client's delayed ACK (40 ms a transaction).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream = sock.makefile("rb")
        tls = None

        held = []   # with hold_replies: the MAIL and RCPT replies not yet sent

        def send(line):
            sock.sendall(b"".join(held) + line + b"\r\n")
            held.clear()

        def reply_or_hold(line):
            if self.hold_replies:
                held.append(line + b"\r\n")
            else:
                send(line)

        def ehlo_lines():
            lines = [self.name.encode(), b"SIZE 10485760", b"8BITMIME"]
            if self.pipelining:
                lines.append(b"PIPELINING")
            if self.chunking:
                lines.append(b"CHUNKING")
            if self.smtputf8:
                lines.append(b"SMTPUTF8")
            if self.dsn:
                lines.append(b"DSN")
            if self.context is not None and tls is None:
                lines.append(b"STARTTLS")
            return lines

        if number == 1:
            time.sleep(self.first_greeting_delay_s)
        send(self.greeting)
        if not self.greeting.startswith(b"2"):
            return
        mail_from, rcpts, params, chunks, rcpt_params = None, [], [], b"", []
        for _ in range(10000):
            line = stream.readline(LINE_MAX)
            if not line:
                return
            command = line.rstrip(b"\r\n")
            verb = command[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                with self.lock:
                    self.peers.append((sock.getpeername()[0], command[5:].decode("utf-8", "replace")))
            if verb == b"EHLO":
                lines = ehlo_lines()
                for i, text in enumerate(lines):
                    send((b"250 " if i == len(lines) - 1 else b"250-") + text)
            elif verb == b"HELO":
                send(b"250 " + self.name.encode())
            elif command.upper() == b"STARTTLS" and self.context is not None and tls is None:
                send(b"220 2.0.0 go ahead")
                sock = self.context.wrap_socket(sock, server_side=True)
                sock.settimeout(READ_TIMEOUT_S)
                stream = sock.makefile("rb")
                tls = (sock.version(), sock.cipher()[0], self.sni.get(id(sock)))
                mail_from, rcpts, params = None, [], []
            elif verb == b"MAIL":
                address, _, rest = command[10:].partition(b">")
                mail_from = address.lstrip(b"<").decode("utf-8", "replace")
                params = rest.split()
                rcpts, rcpt_params = [], []
                reply_or_hold(b"250 2.1.0 ok")
            elif verb == b"RCPT":
                address, _, rest = command[8:].partition(b">")
                rcpts.append(address.lstrip(b"<").decode("utf-8", "replace"))
                rcpt_params.append([p.decode() for p in rest.split()])
                reply_or_hold(b"250 2.1.5 ok")
            elif verb == b"DATA":
                pipelined = bool(held)
                send(b"354 go ahead")
                data = b""
                while len(data) < MESSAGE_MAX:
                    chunk = stream.readline(LINE_MAX)
                    if not chunk or chunk == b".\r\n":
                        break
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                refusal = self._refuse(send)
                if refusal is not None:
                    if refusal.startswith(b"421"):
                        return
                    continue
                self._store(mail_from, rcpts, data, tls, False, params, rcpt_params, pipelined,
                            number)
                time.sleep(self.data_delay_s)
                send(b"250 2.0.0 queued")
            elif verb == b"BDAT":
                pipelined = bool(held)
                words = command.split()
                size = int(words[1])
                chunks += stream.read(size) if size <= MESSAGE_MAX else b""
                if len(words) > 2 and words[2].upper() == b"LAST":
                    refusal = self._refuse(send)
                    if refusal is not None:
                        chunks = b""
                        if refusal.startswith(b"421"):   # RFC 5321: 421 closes
                            return
                        continue
                    self._store(mail_from, rcpts, chunks, tls, True, params, rcpt_params,
                                pipelined, number)
                    time.sleep(self.data_delay_s)
                    send(b"250 2.0.0 queued %d octets" % len(chunks))
                    chunks = b""
                else:
                    send(b"250 2.0.0 chunk")
            elif verb == b"RSET":
                mail_from, rcpts, params, chunks = None, [], [], b""
                send(b"250 2.0.0 ok")
            elif verb == b"QUIT":
                self._end_connection(ended)
                send(b"221 2.0.0 bye")
                return
            else:
                send(b"502 5.5.2 not implemented")

    def _refuse(self, send):
        """Sends the refusal set for the end of a message's content, if one is
        set, and returns it (else None)."""
        with self.lock:
            refusal = self.data_refusal
            if refusal is not None:
                self.refused_at.append(time.monotonic())
        if refusal is not None:
            send(refusal)
        return refusal

    def _store(self, mail_from, rcpts, data, tls, bdat, params, rcpt_params, pipelined,
               connection):
        with self.lock:
            self.messages.append(message(mail_from, list(rcpts), data, tls, bdat,
                                         [p.decode() for p in params], list(rcpt_params),
                                         pipelined, connection))
