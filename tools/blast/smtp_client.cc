// The blast client's socket side (see smtp_client.h).
#include "smtp_client.h"

#include <cerrno>
#include <cstring>

#include "ringmta/runtime/ops.h"

namespace ringmta::blast {

namespace io = runtime::io;

smtp_client::smtp_client() : _recv_buffer(std::make_unique<char[]>(recv_bytes)) {}

smtp_client::~smtp_client() { close(); }

void smtp_client::close() {
    if (_fd >= 0) io::close_detached(_fd);
    _fd = -1;
    _parser = smtp::reply_parser();
    _input.clear();
    _input_begin = 0;
}

std::string describe(const smtp::reply& r) {
    std::string text = std::to_string(r.code);
    if (!r.enhanced.empty()) text += " " + r.enhanced;
    const std::string lines = r.text();
    if (!lines.empty()) text += " " + lines;
    return text;
}

runtime::task<int> smtp_client::send(smtp_client* c, std::string_view data,
                                     std::uint64_t timeout_ms) {
    co_return co_await io::send_all(c->_fd, data, timeout_ms);
}

runtime::task<int> smtp_client::read_reply(smtp_client* c, smtp::reply* out,
                                           std::uint64_t timeout_ms) {
    while (true) {
        std::string_view pending(c->_input);
        pending.remove_prefix(c->_input_begin);
        smtp::reply_parser::result r = c->_parser.parse(pending);
        if (r.status == smtp::reply_parser::status::ready) {
            *out = c->_parser.take();
            c->_input_begin += r.consumed;
            if (c->_input_begin == c->_input.size()) {
                c->_input.clear();
                c->_input_begin = 0;
            }
            co_return 0;
        }
        if (r.status == smtp::reply_parser::status::error) co_return -EPROTO;
        // The parser keeps its place relative to the unparsed bytes, so dropping
        // the parsed prefix before appending is safe.
        c->_input.erase(0, c->_input_begin);
        c->_input_begin = 0;
        io::recv op(c->_fd, c->_recv_buffer.get(), recv_bytes, timeout_ms);
        int n = co_await op;
        if (n == 0) co_return -ECONNRESET;
        if (n < 0) co_return n;
        c->_input.append(c->_recv_buffer.get(), std::size_t(n));
    }
}

runtime::task<int> smtp_client::open(smtp_client* c, runtime::socket_address server,
                                     std::uint64_t timeout_ms, std::string* failure) {
    c->close();
    c->_capabilities = {};
    c->_fd = runtime::connect_socket(server.family());
    if (c->_fd < 0) {
        *failure = std::string("socket: ") + std::strerror(-c->_fd);
        co_return c->_fd;
    }
    io::connect op(c->_fd, server.get(), server.length, timeout_ms);
    int rc = co_await op;
    const char* stage = "connect";
    smtp::reply r;
    if (rc == 0) {
        stage = "greeting";
        rc = co_await read_reply(c, &r, timeout_ms);
    }
    if (rc == 0 && r.code / 100 == 2) {
        stage = "EHLO";
        rc = co_await send(c, "EHLO blast.example.org\r\n", timeout_ms);
        if (rc == 0) rc = co_await read_reply(c, &r, timeout_ms);
        if (rc == 0 && r.code / 100 == 2) c->_capabilities = smtp::parse_ehlo(r);
    }
    if (rc == 0 && r.code / 100 != 2 && std::string_view(stage) == "EHLO") {
        stage = "HELO";
        rc = co_await send(c, "HELO blast.example.org\r\n", timeout_ms);
        if (rc == 0) rc = co_await read_reply(c, &r, timeout_ms);
    }
    if (rc < 0) {
        *failure = std::string(stage) + ": " + std::strerror(-rc);
    } else if (r.code / 100 != 2) {
        *failure = std::string(stage) + " refused: " + describe(r);
        rc = -ECONNREFUSED;
    }
    if (rc < 0) c->close();
    co_return rc;
}

}  // namespace ringmta::blast
