// Pooled client connections (see engine.h): find where the pool's mail goes
// (static next hops, or MX from DNS), connect to the first candidate that
// greets, EHLO (HELO fallback), STARTTLS by the domain's policy (then EHLO
// again), and move bytes in plaintext or through TLS.
//
// Failover (RFC 5321 §5.1): a connection failure, a greeting or EHLO reply of
// 421 (or any other refusal), or a TLS refusal moves on to the next candidate;
// failures that say the host is unwell (no connection, a timeout, 421) also mark
// the address down for delivery.host_down_time, so a dead host is not hammered.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "budget_table.h"
#include "pool.h"
#include "ringmta/runtime/log.h"
#include "ringmta/runtime/net.h"
#include "ringmta/runtime/ops.h"

namespace ringmta::delivery {

namespace {

smtp::reply local_reply(std::string_view enhanced, std::string text) {
    smtp::reply r;
    r.code = 0;  // no reply from the peer: treated as a temporary failure
    r.enhanced = std::string(enhanced);
    r.lines.push_back(std::move(text));
    return r;
}

bool positive(const smtp::reply& r) { return r.code >= 200 && r.code < 300; }

std::string io_error_text(std::string_view what, const std::string& hop, int error) {
    return std::string(what) + " " + hop + ": " + std::strerror(-error);
}

// Sends whatever ciphertext the TLS session produced (records, alerts).
runtime::task<int> flush_tls(engine::connection* c) {
    if (!c->tls->wants_output()) co_return 0;
    std::string cipher;
    c->tls->take_output(cipher);
    co_return co_await runtime::io::send_all(c->fd, cipher, c->timeout_ms);
}

// One socket read into the receive buffer: bytes read, 0 at EOF, or -errno.
runtime::task<int> receive_some(engine::connection* c, std::size_t room) {
    if (!c->receive) c->receive.reset(new char[engine::connection::receive_bytes]);
    runtime::io::recv op(c->fd, c->receive.get(),
                         std::min(room, engine::connection::receive_bytes), c->timeout_ms);
    co_return co_await op;
}

// Appends the plaintext available now or after one more read: >0 bytes, 0 at
// the end of the stream, or -errno.
runtime::task<int> read_more(engine::connection* c) {
    if (!c->tls) {
        int n = co_await receive_some(c, engine::connection::receive_bytes);
        if (n > 0) c->buffer.append(c->receive.get(), static_cast<std::size_t>(n));
        co_return n;
    }
    // Each round decrypts what is buffered or receives more; bounded, since every
    // round returns or takes new bytes from the peer under the timeout.
    for (int rounds = 0; rounds < 1 << 20; ++rounds) {
        std::size_t before = c->buffer.size();
        tls::session::status st = c->tls->read(c->buffer);
        int sent = co_await flush_tls(c);
        if (sent < 0) co_return sent;
        if (c->buffer.size() > before) co_return static_cast<int>(c->buffer.size() - before);
        if (st == tls::session::status::closed) co_return 0;
        if (st == tls::session::status::failed) co_return -EPROTO;
        std::size_t room = c->tls->input_room();
        if (room == 0) co_return -EPROTO;
        int n = co_await receive_some(c, room);
        if (n <= 0) co_return n;
        c->tls->put_input(std::string_view(c->receive.get(), static_cast<std::size_t>(n)));
    }
    co_return -EPROTO;
}

// A reply that ends the attempt at this address, with whether the host is to be
// marked down (no usable service there) rather than just skipped.
struct refusal {
    smtp::reply why;
    bool host_down = false;
};

// Greeting, EHLO (HELO if EHLO is refused with 5xx): true when the peer said 2xx.
runtime::task<bool> greet(engine* e, engine::connection* c, bool expect_greeting,
                          refusal* out) {
    int rc = 0;
    if (expect_greeting) {
        smtp::reply greeting;
        rc = co_await read_reply(c, &greeting);
        if (rc == 0 && !positive(greeting)) {
            *out = refusal{greeting, greeting.code == 421 || greeting.code < 500};
            co_return false;
        }
    }
    smtp::reply hello;
    std::string command = "EHLO " + e->ehlo_name() + "\r\n";
    if (rc == 0) rc = co_await send_plain(c, command);
    if (rc == 0) rc = co_await read_reply(c, &hello);
    if (rc == 0 && hello.code >= 500) {  // no ESMTP: HELO
        command = "HELO " + e->ehlo_name() + "\r\n";
        rc = co_await send_plain(c, command);
        if (rc == 0) rc = co_await read_reply(c, &hello);
        c->caps = smtp::capabilities{};
    } else if (rc == 0) {
        c->caps = smtp::parse_ehlo(hello);
    }
    if (rc < 0) {
        *out = refusal{local_reply("4.4.2", io_error_text("greeting from", c->next_hop, rc)),
                       true};
        co_return false;
    }
    if (!positive(hello)) {
        *out = refusal{hello, hello.code == 421};
        co_return false;
    }
    co_return true;
}

// STARTTLS by policy on a greeted connection: true to go on (under TLS, or in
// plaintext where the policy allows it). `*plaintext_retry` asks the caller to
// reconnect without TLS (opportunistic TLS whose handshake failed).
runtime::task<bool> negotiate_tls(engine* e, engine::pool* p, engine::connection* c,
                                  refusal* out, bool* plaintext_retry) {
    bool mandatory = p->tls == config::tls_policy::required ||
                     p->tls == config::tls_policy::verify;
    if (!c->caps.starttls) {
        if (!mandatory) co_return true;
        *out = refusal{smtp::reply{0, "4.7.4", {"TLS is required, but " + c->exchanger +
                                                " (" + c->next_hop +
                                                ") does not offer STARTTLS"}}};
        co_return false;
    }
    tls::context* ctx = e->client_tls(p->tls);
    if (ctx == nullptr) {
        if (!mandatory) co_return true;
        *out = refusal{local_reply("4.7.5", "no TLS client context (see the log)")};
        co_return false;
    }
    static constexpr std::string_view starttls = "STARTTLS\r\n";
    smtp::reply ready;
    int rc = co_await send_plain(c, starttls);
    if (rc == 0) rc = co_await read_reply(c, &ready);
    if (rc < 0) {
        *out = refusal{local_reply("4.4.2", io_error_text("STARTTLS to", c->next_hop, rc)), true};
        co_return false;
    }
    if (ready.code != 220) {
        if (!mandatory && ready.code != 421) co_return true;  // refused: go on in plaintext
        *out = refusal{ready, ready.code == 421};
        co_return false;
    }
    // RFC 3207 §5: nothing the server sent before the handshake may be used.
    if (!c->buffer.empty()) {
        *out = refusal{local_reply("4.7.0", c->next_hop + " sent data after 220 to STARTTLS")};
        co_return false;
    }
    // The name to send (SNI) and verify: the MX host name; a static next hop has
    // none, so its certificate chain is checked but not a name.
    std::string name = c->exchanger;
    std::string error = co_await start_tls(c, ctx, name);
    if (!error.empty()) {
        if (!mandatory) *plaintext_retry = true;
        *out = refusal{local_reply(p->tls == config::tls_policy::verify ? "4.7.5" : "4.7.0",
                                   "TLS with " + c->exchanger + " (" + c->next_hop +
                                       ") failed: " + error)};
        co_return false;
    }
    ++e->mutable_stats().tls_connections;
    refusal after;
    if (!co_await greet(e, c, false, &after)) {
        *out = after;
        co_return false;
    }
    co_return true;
}

}  // namespace

runtime::task<int> read_reply(engine::connection* c, smtp::reply* out) {
    for (int reads = 0; reads < 4096; ++reads) {
        if (!c->buffer.empty()) {
            smtp::reply_parser::result r = c->parser.parse(c->buffer);
            if (r.status == smtp::reply_parser::status::ready) {
                *out = c->parser.take();
                c->buffer.erase(0, r.consumed);
                co_return 0;
            }
            if (r.status == smtp::reply_parser::status::error) co_return -EPROTO;
            c->buffer.erase(0, r.consumed);
        }
        int n = co_await read_more(c);
        if (n == 0) co_return -ECONNRESET;
        if (n < 0) co_return n;
    }
    co_return -EPROTO;
}

runtime::task<int> send_plain(engine::connection* c, std::string_view data) {
    if (!c->tls) co_return co_await runtime::io::send_all(c->fd, data, c->timeout_ms);
    if (c->tls->write(data) != tls::session::status::done) co_return -EPROTO;
    co_return co_await flush_tls(c);
}

runtime::task<int> send_plain(engine::connection* c, std::string_view head,
                              std::string_view tail) {
    if (!c->tls) co_return co_await runtime::io::send_all(c->fd, head, tail, c->timeout_ms);
    if (c->tls->write(head) != tls::session::status::done) co_return -EPROTO;
    if (c->tls->write(tail) != tls::session::status::done) co_return -EPROTO;
    co_return co_await flush_tls(c);
}

runtime::task<int> send_pieces(engine::connection* c, std::span<const std::string_view> pieces) {
    if (!c->tls) {
        std::vector<iovec> parts;
        parts.reserve(pieces.size());
        for (std::string_view p : pieces) parts.push_back({const_cast<char*>(p.data()), p.size()});
        co_return co_await runtime::io::send_all(c->fd, std::span<iovec>(parts), c->timeout_ms);
    }
    for (std::string_view p : pieces) {
        if (c->tls->write(p) != tls::session::status::done) co_return -EPROTO;
    }
    co_return co_await flush_tls(c);
}

runtime::task<std::string> start_tls(engine::connection* c, tls::context* ctx,
                                     std::string peer_name) {
    c->tls = std::make_unique<tls::session>(*ctx, peer_name);
    for (int rounds = 0; rounds < 1000; ++rounds) {
        tls::session::status st = c->tls->handshake();
        int sent = co_await flush_tls(c);  // our flight, or an alert
        if (st == tls::session::status::done) co_return std::string();
        if (st != tls::session::status::want_input) co_return std::string(c->tls->error_text());
        if (sent < 0) co_return "send failed: " + std::string(std::strerror(-sent));
        std::size_t room = c->tls->input_room();
        if (room == 0) co_return std::string("handshake input overflow");
        int n = co_await receive_some(c, room);
        if (n == 0) co_return std::string("the server closed the connection");
        if (n < 0) co_return n == -ETIMEDOUT ? "timed out" : std::strerror(-n);
        c->tls->put_input(std::string_view(c->receive.get(), static_cast<std::size_t>(n)));
    }
    co_return std::string("the handshake did not finish");
}

namespace {

// Looks the exchangers up (the resolver caches them for find_candidates) and
// lets budget_table decide the group. A failed lookup leaves the pool with its
// own budget; its connection then defers on the same failure.
runtime::task<void> decide_group(engine* e, engine::pool* p) {
    dns::mx_result mx = co_await e->resolver().resolve_mx(p->key);
    if (mx.status == dns::mx_status::exchangers) {
        std::vector<std::string> hosts;
        for (const dns::exchanger& x : mx.exchangers) hosts.push_back(x.name);
        e->budgets().regroup(*p, hosts);
    }
    p->group_pending = false;
    e->poke();
}

}  // namespace

bool group_decided(engine* e, engine::pool* p) {
    if (!p->group_pending) return true;
    if (!p->group_resolving) {
        p->group_resolving = true;
        runtime::spawn(decide_group(e, p));   // may finish at once (a cached answer)
    }
    return !p->group_pending;
}

runtime::task<std::vector<candidate>> find_candidates(engine* e, engine::pool* p,
                                                      smtp::reply* why) {
    std::vector<candidate> out;
    if (p->route != nullptr) {
        const auto& hops = p->route->next_hops;
        for (std::size_t i = 0; i < hops.size(); ++i) {
            const config::endpoint& hop = hops[(p->next_hop_turn + i) % hops.size()];
            candidate c;
            std::memcpy(&c.address.storage, &hop.address, sizeof hop.address);
            c.address.length = hop.address_len;
            c.text = hop.text;
            out.push_back(std::move(c));
        }
        ++p->next_hop_turn;
        co_return out;
    }
    dns::mx_result mx = co_await e->resolver().resolve_mx(p->key);
    switch (mx.status) {
    case dns::mx_status::exchangers: break;
    case dns::mx_status::null_mx:
        *why = smtp::reply{556, "5.1.10", {"Recipient address rejected: " + p->key +
                                           " does not accept mail (null MX)"}};
        co_return out;
    case dns::mx_status::nxdomain:
    case dns::mx_status::invalid_domain:
        *why = smtp::reply{550, "5.1.2", {"Recipient address rejected: domain " + p->key +
                                          " not found (" + mx.detail + ")"}};
        co_return out;
    case dns::mx_status::no_address:
        *why = smtp::reply{550, "5.4.4", {"Unable to route: no address for the mail "
                                          "exchangers of " + p->key + " (" + mx.detail + ")"}};
        co_return out;
    case dns::mx_status::temporary_failure:
        *why = local_reply("4.4.3", "DNS lookup for " + p->key + " failed: " + mx.detail);
        co_return out;
    }
    auto port = static_cast<std::uint16_t>(e->settings().delivery.port);
    for (const dns::exchanger& x : mx.exchangers) {
        for (const dns::ip_address& ip : x.addresses) {
            candidate c;
            c.address = ip.with_port(port);
            c.exchanger = x.name;
            c.text = runtime::format_address(c.address.get());
            out.push_back(std::move(c));
        }
    }
    co_return out;
}

runtime::task<bool> open_connection(engine* e, engine::pool* p, engine::connection* c,
                                    std::vector<candidate> candidates, smtp::reply* why) {
    const config::delivery_config& d = e->settings().delivery;
    auto connect_ms = static_cast<std::uint64_t>(d.connect_timeout.count());
    auto reply_ms = static_cast<std::uint64_t>(d.reply_timeout.count());
    std::uint64_t now = runtime::monotonic_ms();
    std::size_t skipped = 0;
    bool plaintext_retry = false;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        const candidate& to = candidates[i];
        if (!plaintext_retry && e->host_down(to.text, now)) {
            ++skipped;
            continue;
        }
        bool without_tls = plaintext_retry;
        plaintext_retry = false;
        int fd = runtime::connect_socket(to.address.family());
        if (fd < 0) {
            *why = local_reply("4.4.1", io_error_text("socket for", to.text, fd));
            continue;
        }
        if (d.source_address.address_len != 0) {
            sockaddr_storage source = d.source_address.address;
            if (::bind(fd, reinterpret_cast<const sockaddr*>(&source),
                       d.source_address.address_len) != 0) {
                int error = -errno;
                ::close(fd);
                *why = local_reply("4.4.1", io_error_text("bind to source address",
                                                          d.source_address.text, error));
                continue;
            }
        }
        runtime::io::connect op(fd, to.address.get(), to.address.length, connect_ms);
        int rc = co_await op;
        if (rc < 0) {
            ::close(fd);
            *why = local_reply("4.4.1", io_error_text("connect to", to.text, rc));
            e->mark_down(to.text, runtime::monotonic_ms());
            ++e->mutable_stats().exchanger_failures;
            continue;
        }
        c->fd = fd;
        c->exchanger = to.exchanger.empty() ? to.text : to.exchanger;
        c->next_hop = to.text;
        c->buffer.clear();
        c->parser = smtp::reply_parser{};
        c->tls.reset();
        c->timeout_ms = reply_ms;
        refusal failed;
        bool ok = co_await greet(e, c, true, &failed);
        if (ok && !without_tls && p->tls != config::tls_policy::none) {
            ok = co_await negotiate_tls(e, p, c, &failed, &plaintext_retry);
        }
        if (ok) co_return true;
        *why = failed.why;
        if (failed.host_down) e->mark_down(to.text, runtime::monotonic_ms());
        ++e->mutable_stats().exchanger_failures;
        log_info("delivery to %s: %s (%s) failed: %s%s", p->key.c_str(), c->exchanger.c_str(),
                 to.text.c_str(), failed.why.text().c_str(),
                 plaintext_retry ? "; retrying without TLS" : "");
        if (c->tls) {
            c->tls->shutdown();
            [[maybe_unused]] int sent = co_await flush_tls(c);
        }
        ::close(fd);
        c->fd = -1;
        c->tls.reset();
        if (plaintext_retry) --i;  // the same address again, in plaintext
    }
    if (skipped == candidates.size() && !candidates.empty()) {
        *why = local_reply("4.4.1", "every mail exchanger of " + p->key +
                                        " failed recently; not retried until host_down_time "
                                        "has passed");
    } else if (candidates.empty()) {
        *why = local_reply("4.4.4", "no address to deliver to for " + p->key);
    }
    co_return false;
}

}  // namespace ringmta::delivery
