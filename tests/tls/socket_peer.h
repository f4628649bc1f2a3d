// Test-only plumbing to talk to a real OpenSSL peer (openssl s_server / s_client) over
// loopback TCP: blocking sockets with timeouts, and loops that move a session's
// bytes over them. The tls module itself never touches a socket; its tests may.
#pragma once

#include <cstdio>
#include <string>

#include "ringmta/tls/session.h"

namespace ringmta::tls::test {

// A command started with popen (stdout and stderr together); pclose on destruction.
class child_process {
public:
    explicit child_process(const std::string& command);
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    // Reads lines until one contains `marker`; that line, or "" at EOF.
    std::string read_until(std::string_view marker);
    // Everything it still writes, until it exits.
    std::string read_rest();

private:
    std::FILE* _pipe;
};

// Listening socket on 127.0.0.1 with a kernel-chosen port.
int listen_loopback(int& port);
// Accepts one connection within timeout_ms; -1 on timeout.
int accept_one(int listen_fd, int timeout_ms);
int connect_loopback(int port);

// Handshake over a connected socket: send output, receive input, until done/failed.
session::status handshake_over(session& s, int fd);
// Sends all pending output (e.g. the close_notify after shutdown()).
bool flush_over(session& s, int fd);
// Writes plaintext and sends the ciphertext.
bool write_over(session& s, int fd, std::string_view plaintext);
// Reads plaintext until it contains `until` or the peer closes (TLS or TCP).
session::status read_over(session& s, int fd, std::string& plaintext, std::string_view until);

}  // namespace ringmta::tls::test
