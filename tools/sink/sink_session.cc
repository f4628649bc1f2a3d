// The sink's session loop (see sink_session.h). Replies are collected while the
// protocol consumes every complete command in the input and sent in one write
// when it needs more input, so a pipelining client gets its replies batched.
#include "sink_session.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "input_buffer.h"
#include "message_store.h"
#include "ringmta/runtime/log.h"
#include "ringmta/runtime/net.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/smtp/server_protocol.h"
#include "sink_shard.h"

namespace ringmta::sink {

namespace {

namespace io = runtime::io;

constexpr std::uint64_t idle_timeout_ms = 60'000;  // per read, as Postfix's smtpd_timeout
constexpr std::uint64_t send_timeout_ms = 60'000;
constexpr std::size_t recv_bytes = 64 * 1024;

// The sink accepts every sender, asks the policy about recipients, and adds no
// trace header, so stored content is byte for byte what the client sent.
class sink_hooks final : public smtp::server_hooks {
public:
    explicit sink_hooks(reply_policy& policy) : _policy(policy) {}
    std::optional<smtp::reply_spec> check_mail(const smtp::envelope&,
                                               std::string_view) override {
        return std::nullopt;
    }
    std::optional<smtp::reply_spec> check_rcpt(const smtp::envelope&,
                                               std::string_view mailbox) override {
        return _policy.on_rcpt(mailbox);
    }
    void append_trace_headers(const smtp::envelope&, std::string&) override {}

private:
    reply_policy& _policy;
};

struct session {
    session(sink_shard* owner, int socket_fd)
        : shard(owner),
          fd(socket_fd),
          hooks(owner->policy()),
          protocol(owner->settings(), hooks),
          input(recv_bytes) {
        link.fd = socket_fd;
        runtime::socket_address peer = runtime::peer_address(socket_fd);
        if (peer.length > 0) client = runtime::format_address(peer.get());
    }

    sink_shard* shard;
    int fd;
    std::string client;
    sink_hooks hooks;
    smtp::server_protocol protocol;
    input_buffer input;
    std::string output;
    session_link link;
};

// --no-pipelining: the smtp module always offers PIPELINING, so the sink takes
// the keyword out of the EHLO reply it produced (it is never the last line).
void drop_pipelining(std::string& output, std::size_t from) {
    static constexpr std::string_view keyword = "250-PIPELINING\r\n";
    std::size_t at = output.find(keyword, from);
    if (at != std::string::npos) output.erase(at, keyword.size());
}

// Counts, stores and answers the message the protocol just completed.
runtime::task<void> finish_message(session* s) {
    const smtp::envelope& envelope = s->protocol.pending_envelope();
    const std::string& content = s->protocol.pending_content();
    sink_shard& shard = *s->shard;
    if (std::optional<smtp::reply_spec> forced = shard.policy().on_data(envelope)) {
        shard.counters().add_rejected();
        s->protocol.message_done(*forced, s->output);
        co_return;
    }
    const std::string id = std::to_string(shard.index()) + "-" +
                           std::to_string(shard.next_sequence());
    if (!shard.options().store_dir.empty()) {
        std::string json = envelope_json(envelope, content.size(), s->client);
        int rc = co_await store_message(shard.options().store_dir, id, content,
                                        std::move(json));
        if (rc < 0) {
            log_error("store %s in %s: %s", id.c_str(),
                               shard.options().store_dir.c_str(), std::strerror(-rc));
            s->protocol.message_done({451, "4.3.0", "Error: cannot store message"},
                                     s->output);
            co_return;
        }
    }
    shard.counters().add_message(envelope.rcpt_to.size(), content.size());
    const std::string text = "Ok: queued as " + id;
    s->protocol.message_done({250, "2.0.0", text}, s->output);
}

// Sends the collected replies. False when the peer is gone.
runtime::task<bool> flush(session* s) {
    if (s->output.empty()) co_return true;
    int rc = co_await io::send_all(s->fd, s->output, send_timeout_ms);
    s->output.clear();
    co_return rc == 0;
}

runtime::task<void> run_session(session* s) {
    s->protocol.greet(s->output);
    while (true) {
        const std::size_t output_before = s->output.size();
        smtp::server_protocol::feed_result r = s->protocol.feed(s->input.view(), s->output);
        s->input.consume(r.consumed);
        if (!s->shard->options().pipelining) drop_pipelining(s->output, output_before);
        if (r.event == smtp::server_protocol::event::message) {
            co_await finish_message(s);
            continue;  // pipelined commands may follow in the buffer
        }
        if (!co_await flush(s)) co_return;
        if (r.event == smtp::server_protocol::event::close) co_return;
        char* room = s->input.space();  // compacts first: call before space_bytes()
        io::recv op(s->fd, room, s->input.space_bytes(), idle_timeout_ms);
        int n = co_await op;
        if (n == -ETIMEDOUT) {
            s->protocol.idle_timeout(s->output);
            co_await flush(s);
            co_return;
        }
        if (n <= 0) co_return;  // EOF, reset, or the shard's stop shut the socket down
        s->input.commit(std::size_t(n));
    }
}

}  // namespace

runtime::task<void> serve_connection(sink_shard* shard, int fd) {
    auto s = std::make_unique<session>(shard, fd);
    shard->attach(&s->link);
    co_await run_session(s.get());
    shard->detach(&s->link);
    shard->counters().end_connection();
    io::close_detached(fd);
}

}  // namespace ringmta::sink
