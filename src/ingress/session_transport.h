// Internal to ingress: a session's connection, plain or under TLS. The session
// reads and writes plaintext; with TLS, ciphertext moves between the ring and a
// tls::session over memory buffers (the tls module never touches the socket).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ringmta/runtime/buffer_ring.h"
#include "ringmta/runtime/task.h"
#include "ringmta/tls/context.h"
#include "ringmta/tls/session.h"

namespace ringmta::ingress {

struct session_transport {
    int fd = -1;
    std::uint64_t timeout_ms = 0;
    // Plaintext receives take a buffer from the shard's provided-buffer ring only
    // while data is there, so a waiting session holds none. Under TLS (whose input
    // must fit the session's input room) or without a ring (kernels before 5.19),
    // the session allocates its own buffer on first use.
    runtime::buffer_ring* shared_buffers = nullptr;
    std::unique_ptr<char[]> buffer;
    std::unique_ptr<tls::session> tls;

    static constexpr std::size_t receive_bytes = 16 * 1024;
    char* own_buffer();
};

// Receives the plaintext that is available (waiting for some if none is): the
// number of bytes, 0 at the end of the connection (EOF or close_notify), or
// -errno (-ETIMEDOUT after timeout_ms of silence, -EPROTO for a TLS failure).
// When `in` is empty and the receive takes a buffer of the shared ring, the bytes
// stay there, lent in *lent (the caller parses them in place and gives the buffer
// back before it next waits) and `in` is untouched; otherwise they are appended
// to `in`.
runtime::task<int> read_plain(session_transport* t, std::string* in, runtime::lent_buffer* lent);
// Sends plaintext (encrypted first under TLS). 0 or -errno.
runtime::task<int> write_plain(session_transport* t, std::string_view data);
// Runs the server side of a TLS handshake on the connection. "" or why it failed.
runtime::task<std::string> accept_tls(session_transport* t, tls::context* ctx);

}  // namespace ringmta::ingress
