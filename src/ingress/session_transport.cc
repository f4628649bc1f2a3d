// A session's connection, plain or under TLS (see session_transport.h).
#include "session_transport.h"

#include <cerrno>

#include "ringmta/runtime/ops.h"

namespace ringmta::ingress {

namespace {

// Sends whatever ciphertext the TLS session produced (records, alerts, tickets).
runtime::task<int> flush_tls(session_transport* t) {
    if (!t->tls->wants_output()) co_return 0;
    std::string cipher;
    t->tls->take_output(cipher);
    co_return co_await runtime::io::send_all(t->fd, cipher, t->timeout_ms);
}

// Receives ciphertext into the TLS session, within its input room.
runtime::task<int> receive_tls(session_transport* t) {
    std::size_t room = std::min(t->tls->input_room(), session_transport::receive_bytes);
    if (room == 0) co_return -EPROTO;  // the session asked for no more: a bug or a flood
    char* buffer = t->own_buffer();
    runtime::io::recv op(t->fd, buffer, room, t->timeout_ms);
    int n = co_await op;
    if (n > 0) t->tls->put_input(std::string_view(buffer, static_cast<std::size_t>(n)));
    co_return n;
}

}  // namespace

char* session_transport::own_buffer() {
    if (!buffer) buffer.reset(new char[receive_bytes]);
    return buffer.get();
}

runtime::task<int> read_plain(session_transport* t, std::string* in, runtime::lent_buffer* lent) {
    if (!t->tls && t->shared_buffers && in->empty()) {
        runtime::task<int> received =
            runtime::io::recv_lent(t->fd, t->shared_buffers, lent, t->timeout_ms);
        co_return co_await std::move(received);
    }
    if (!t->tls && t->shared_buffers) {
        runtime::task<int> received =
            runtime::io::recv_into(t->fd, t->shared_buffers, in, t->timeout_ms);
        co_return co_await std::move(received);
    }
    if (!t->tls) {
        char* buffer = t->own_buffer();
        runtime::io::recv op(t->fd, buffer, session_transport::receive_bytes, t->timeout_ms);
        int n = co_await op;
        if (n > 0) in->append(buffer, static_cast<std::size_t>(n));
        co_return n;
    }
    // Each round decrypts what is buffered or receives more; bounded, since every
    // round either returns or takes new bytes from the peer under the idle timeout.
    for (int rounds = 0; rounds < 1 << 20; ++rounds) {
        std::size_t before = in->size();
        tls::session::status st = t->tls->read(*in);
        int sent = co_await flush_tls(t);
        if (sent < 0) co_return sent;
        if (in->size() > before) co_return static_cast<int>(in->size() - before);
        if (st == tls::session::status::closed) co_return 0;
        if (st == tls::session::status::failed) co_return -EPROTO;
        int n = co_await receive_tls(t);
        if (n <= 0) co_return n;
    }
    co_return -EPROTO;
}

runtime::task<int> write_plain(session_transport* t, std::string_view data) {
    if (!t->tls) co_return co_await runtime::io::send_all(t->fd, data, t->timeout_ms);
    if (t->tls->write(data) == tls::session::status::failed) co_return -EPROTO;
    co_return co_await flush_tls(t);
}

runtime::task<std::string> accept_tls(session_transport* t, tls::context* ctx) {
    t->tls = std::make_unique<tls::session>(*ctx, "");
    for (int rounds = 0; rounds < 1000; ++rounds) {
        tls::session::status st = t->tls->handshake();
        int sent = co_await flush_tls(t);  // the server's flight, or an alert
        if (st == tls::session::status::done) co_return std::string();
        if (st != tls::session::status::want_input) {
            co_return "TLS handshake failed: " + std::string(t->tls->error_text());
        }
        if (sent < 0) co_return "TLS handshake: send failed";
        int n = co_await receive_tls(t);
        if (n == 0) co_return "TLS handshake: the client closed the connection";
        if (n < 0) co_return n == -ETIMEDOUT ? "TLS handshake timed out" : "TLS handshake: receive failed";
    }
    co_return "TLS handshake did not finish";
}

}  // namespace ringmta::ingress
