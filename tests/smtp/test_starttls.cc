// STARTTLS (RFC 3207) in the server state machine: offered only when configured,
// syntax and sequencing replies, the hand-over to the caller without reading the
// bytes that follow, and the fresh start after the handshake.
#include <doctest/doctest.h>

#include <string>

#include "ringmta/smtp/server_protocol.h"

using namespace ringmta::smtp;

namespace {

struct hooks final : server_hooks {
    std::optional<reply_spec> check_mail(const envelope&, std::string_view) override {
        return std::nullopt;
    }
    std::optional<reply_spec> check_rcpt(const envelope&, std::string_view) override {
        return std::nullopt;
    }
    void append_trace_headers(const envelope&, std::string&) override {}
};

server_settings with_tls() {
    server_settings s;
    s.offer_starttls = true;
    return s;
}

}  // namespace

TEST_CASE("STARTTLS is 502 and not advertised unless offered") {
    server_settings plain;
    hooks h;
    server_protocol p(plain, h);
    std::string out;
    p.feed("EHLO c\r\nSTARTTLS\r\n", out);
    CHECK(out.find("STARTTLS\r\n") == std::string::npos);
    CHECK(out.find("502 5.5.1") != std::string::npos);
}

TEST_CASE("STARTTLS hands over right after its line; the bytes after it are not read") {
    server_settings s = with_tls();
    hooks h;
    server_protocol p(s, h);
    std::string out;
    const std::string in = "EHLO c\r\nSTARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n";
    auto r = p.feed(in, out);
    CHECK(out.find("250 STARTTLS\r\n") != std::string::npos);
    CHECK(out.find("220 2.0.0 Ready to start TLS\r\n") != std::string::npos);
    CHECK(r.event == server_protocol::event::starttls);
    CHECK(r.consumed == std::string("EHLO c\r\nSTARTTLS\r\n").size());
    CHECK(out.find("2.1.0") == std::string::npos);  // the MAIL after it was not answered
}

TEST_CASE("after the handshake the session starts over, without STARTTLS on offer") {
    server_settings s = with_tls();
    hooks h;
    server_protocol p(s, h);
    std::string out;
    p.feed("EHLO c\r\nMAIL FROM:<a@b.example>\r\nSTARTTLS\r\n", out);
    p.tls_started();
    CHECK(p.tls_active());
    out.clear();
    // What was learnt before TLS is gone: no HELO, no transaction.
    p.feed("MAIL FROM:<a@b.example>\r\n", out);
    CHECK(out.find("503 5.5.1 Error: send HELO/EHLO first") != std::string::npos);
    out.clear();
    p.feed("EHLO c\r\nRCPT TO:<x@y.example>\r\nSTARTTLS\r\n", out);
    CHECK(out.find("STARTTLS\r\n") == std::string::npos);        // not offered again
    CHECK(out.find("503 5.5.1 Error: need MAIL command") != std::string::npos);
    CHECK(out.find("503 5.5.1 Error: TLS already active") != std::string::npos);
}

TEST_CASE("STARTTLS with a parameter is a syntax error") {
    server_settings s = with_tls();
    hooks h;
    server_protocol p(s, h);
    std::string out;
    auto r = p.feed("EHLO c\r\nSTARTTLS now\r\n", out);
    CHECK(out.find("501 5.5.4 Syntax: STARTTLS") != std::string::npos);
    CHECK(r.event == server_protocol::event::need_more);
}
