// Tests of the server-side SMTP state machine: whole conversations driven the way the
// ingress session does (feed, keep unconsumed bytes, message event, message_done).
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ringmta/smtp/server_protocol.h"

using namespace ringmta::smtp;

namespace {

struct test_hooks final : server_hooks {
    std::string refuse_sender;     // refuse MAIL for this mailbox
    std::string refuse_recipient;  // refuse RCPT for this mailbox
    std::vector<std::string> mail_checked;
    std::vector<std::string> rcpt_checked;

    std::optional<reply_spec> check_mail(const envelope&, std::string_view mailbox) override {
        mail_checked.emplace_back(mailbox);
        if (!refuse_sender.empty() && mailbox == refuse_sender) {
            return reply_spec{550, "5.7.1", "Sender refused"};
        }
        return std::nullopt;
    }
    std::optional<reply_spec> check_rcpt(const envelope&, std::string_view mailbox) override {
        rcpt_checked.emplace_back(mailbox);
        if (!refuse_recipient.empty() && mailbox == refuse_recipient) {
            return reply_spec{550, "5.1.1", "No such user"};
        }
        return std::nullopt;
    }
    void append_trace_headers(const envelope& env, std::string& content) override {
        content += "Received: from " + env.helo + "\r\n";
    }
};

// Drives a server_protocol the way an I/O loop would: bytes arrive in chunks, the
// unconsumed tail is kept, each message is "made durable" and acknowledged.
struct session {
    server_settings settings;
    test_hooks hooks;
    server_protocol protocol;
    std::string out;
    std::string buffer;
    std::vector<std::string> messages;
    std::vector<envelope> envelopes;
    bool closed = false;
    std::size_t buffer_bytes_peak = 0;

    explicit session(server_settings s = {}) : settings(s), protocol(settings, hooks) {}

    void deliver(std::string_view data, std::size_t chunk_bytes = SIZE_MAX) {
        for (std::size_t at = 0; at < data.size() && !closed; at += chunk_bytes) {
            buffer.append(data.substr(at, chunk_bytes));
            buffer_bytes_peak = std::max(buffer_bytes_peak, buffer.size());
            pump();
        }
    }

    void pump() {
        while (!closed) {
            const auto r = protocol.feed(buffer, out);
            REQUIRE(r.consumed <= buffer.size());
            buffer.erase(0, r.consumed);
            if (r.event == server_protocol::event::message) {
                envelopes.push_back(protocol.pending_envelope());
                messages.push_back(std::move(protocol.pending_content()));
                protocol.message_done({250, "2.0.0", "Ok: queued"}, out);
                continue;
            }
            closed = r.event == server_protocol::event::close;
            return;
        }
    }

    // The replies written since the last call.
    std::string take() { return std::exchange(out, {}); }
};

const std::string transaction = "MAIL FROM:<sender@news.example>\r\n"
                                "RCPT TO:<rcpt@dest.example>\r\n"
                                "DATA\r\n"
                                "Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n";

const std::string transaction_replies = "250 2.1.0 Ok\r\n"
                                        "250 2.1.5 Ok\r\n"
                                        "354 End data with <CR><LF>.<CR><LF>\r\n"
                                        "250 2.0.0 Ok: queued\r\n";

}  // namespace

TEST_CASE("greeting and EHLO advertise exactly the supported extensions") {
    session s;
    s.protocol.greet(s.out);
    CHECK(s.take() == "220 localhost ESMTP ringmta\r\n");
    s.deliver("EHLO client.example\r\n");
    CHECK(s.take() == "250-localhost\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n"
                      "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
    s.deliver("HELO client.example\r\n");
    CHECK(s.take() == "250 localhost\r\n");
    server_settings settings;
    settings.hostname = "mx.ringmta.example";
    settings.offer_dsn = true;
    settings.offer_smtputf8 = true;
    session t(settings);
    t.deliver("ehlo c\r\n");
    const std::string ehlo = t.take();
    CHECK(ehlo.find("250-mx.ringmta.example\r\n") == 0);
    CHECK(ehlo.find("250-DSN\r\n") != std::string::npos);
    CHECK(ehlo.find("250 SMTPUTF8\r\n") != std::string::npos);
    CHECK(ehlo.find("CHUNKING") == std::string::npos);
    CHECK(ehlo.find("STARTTLS") == std::string::npos);
    CHECK(ehlo.find("AUTH") == std::string::npos);
}

TEST_CASE("a conversation step by step: message event, message_done, QUIT") {
    session s;
    std::string out;
    auto r = s.protocol.feed("EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<u@d.example>\r\n", out);
    CHECK(r.event == server_protocol::event::need_more);
    CHECK(r.consumed == 53);
    out.clear();
    r = s.protocol.feed("DATA\r\n", out);
    CHECK(out == "354 End data with <CR><LF>.<CR><LF>\r\n");
    CHECK(s.protocol.in_data());
    out.clear();
    r = s.protocol.feed("line\r\n.", out);
    CHECK(r.event == server_protocol::event::need_more);
    CHECK(r.consumed == 7);
    r = s.protocol.feed("\r\n", out);  // the "." was consumed as a line start
    CHECK(r.event == server_protocol::event::message);
    CHECK(r.consumed == 2);
    CHECK(out.empty());  // no reply until the message is durable
    CHECK(s.protocol.pending_envelope().mail_from.empty());
    CHECK(s.protocol.pending_envelope().helo == "c.example");
    CHECK(s.protocol.pending_envelope().rcpt_to == std::vector<std::string>{"u@d.example"});
    CHECK(s.protocol.pending_content() == "Received: from c.example\r\nline\r\n");
    s.protocol.message_done({451, "4.3.0", "Try again later"}, out);
    CHECK(out == "451 4.3.0 Try again later\r\n");
    out.clear();
    r = s.protocol.feed("QUIT\r\nNOOP\r\n", out);
    CHECK(r.event == server_protocol::event::close);
    CHECK(r.consumed == 6);
    CHECK(out == "221 2.0.0 Bye\r\n");
    CHECK(s.protocol.closed());
    r = s.protocol.feed("NOOP\r\n", out);
    CHECK(r.consumed == 0);
    CHECK(r.event == server_protocol::event::close);
}

TEST_CASE("pipelined MAIL/RCPT/DATA in one feed; the remainder waits for message_done") {
    session s;
    std::string out;
    s.protocol.feed("EHLO c\r\n", out);
    out.clear();
    const std::string wire = transaction + "MAIL FROM:<a@b.example>\r\nQUIT\r\n";
    auto r = s.protocol.feed(wire, out);
    REQUIRE(r.event == server_protocol::event::message);
    CHECK(r.consumed == transaction.size());
    CHECK(out == "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
    CHECK(s.protocol.pending_content() ==
          "Received: from c\r\nSubject: hi\r\n\r\n.dot\r\nbody\r\n");
    CHECK_FALSE(s.protocol.pending_line_too_long());
    s.protocol.message_done({250, "2.0.0", "Ok: queued as 1"}, out);
    r = s.protocol.feed(std::string_view(wire).substr(transaction.size()), out);
    CHECK(r.event == server_protocol::event::close);
    CHECK(r.consumed == wire.size() - transaction.size());
    CHECK(out == "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
                 "250 2.0.0 Ok: queued as 1\r\n250 2.1.0 Ok\r\n221 2.0.0 Bye\r\n");
}

TEST_CASE("a whole session fed byte by byte gives the same replies and messages") {
    const std::string wire = "EHLO c\r\n" + transaction + "RSET\r\n" + transaction +
                             "NOOP\r\nQUIT\r\n";
    session whole;
    whole.deliver(wire);
    session split;
    split.deliver(wire, 1);
    CHECK(whole.closed);
    CHECK(split.closed);
    CHECK(split.out == whole.out);
    CHECK(split.messages == whole.messages);
    REQUIRE(whole.messages.size() == 2);
    CHECK(whole.out.find(transaction_replies + "250 2.0.0 Ok\r\n" + transaction_replies +
                         "250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n") != std::string::npos);
}

TEST_CASE("sequencing errors get 503 5.5.1; DATA with no valid recipients gets 554") {
    session s;
    s.deliver("MAIL FROM:<a@b.example>\r\n");
    CHECK(s.take() == "503 5.5.1 Error: send HELO/EHLO first\r\n");
    s.deliver("EHLO c\r\n");
    s.take();
    s.deliver("RCPT TO:<u@d.example>\r\n");
    CHECK(s.take() == "503 5.5.1 Error: need MAIL command\r\n");
    s.deliver("DATA\r\n");
    CHECK(s.take() == "503 5.5.1 Error: need MAIL command\r\n");
    s.deliver("MAIL FROM:<a@b.example>\r\nDATA\r\n");
    CHECK(s.take() == "250 2.1.0 Ok\r\n503 5.5.1 Error: need RCPT command\r\n");
    s.deliver("MAIL FROM:<a@b.example>\r\n");
    CHECK(s.take() == "503 5.5.1 Error: nested MAIL command\r\n");
    s.hooks.refuse_recipient = "nobody@d.example";
    s.deliver("RCPT TO:<nobody@d.example>\r\nDATA\r\n");
    CHECK(s.take() == "550 5.1.1 No such user\r\n554 5.5.1 Error: no valid recipients\r\n");
    CHECK_FALSE(s.protocol.in_data());
    s.deliver("DATA extra\r\n");
    CHECK(s.take() == "501 5.5.4 Syntax: DATA\r\n");
}

TEST_CASE("syntax errors in MAIL and RCPT; hooks see only well-formed mailboxes") {
    session s;
    s.deliver("EHLO c\r\nMAIL FROM:a@b.example\r\nMAIL TO:<a@b.example>\r\n"
              "MAIL FROM:<a@b.example> FOO=1\r\nMAIL FROM:<a@b.example> SIZE=x\r\n");
    CHECK(s.take() ==
          std::string("250-localhost\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n"
                      "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"
                      "501 5.1.7 Bad sender address syntax\r\n"
                      "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
                      "555 5.5.4 Unsupported parameter\r\n"
                      "501 5.5.4 Bad parameter syntax\r\n"));
    CHECK(s.hooks.mail_checked.empty());
    s.hooks.refuse_sender = "spam@b.example";
    s.deliver("MAIL FROM:<spam@b.example>\r\nMAIL FROM:<ok@b.example> BODY=8BITMIME\r\n"
              "RCPT TO:<bad>\r\nRCPT TO:<postmaster>\r\n");
    CHECK(s.take() == "550 5.7.1 Sender refused\r\n250 2.1.0 Ok\r\n"
                      "501 5.1.3 Bad recipient address syntax\r\n250 2.1.5 Ok\r\n");
    CHECK(s.hooks.rcpt_checked == std::vector<std::string>{"postmaster"});
}

TEST_CASE("extensions not offered are refused with 555; UTF-8 needs SMTPUTF8") {
    session s;
    s.deliver("EHLO c\r\n");
    s.take();
    s.deliver("MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n"
              "MAIL FROM:<a@b.example> SMTPUTF8\r\n"
              "MAIL FROM:<a@b.example> RET=FULL\r\n"
              "MAIL FROM:<j\xc3\xb6rg@b.example>\r\n"
              "MAIL FROM:<a@b.example>\r\n"
              "RCPT TO:<u@d.example> NOTIFY=NEVER\r\n");
    CHECK(s.take() == "555 5.5.4 Unsupported parameter\r\n555 5.5.4 Unsupported parameter\r\n"
                      "555 5.5.4 Unsupported parameter\r\n"
                      "553 5.6.7 Must declare SMTPUTF8 to send UTF-8 addresses\r\n"
                      "250 2.1.0 Ok\r\n555 5.5.4 Unsupported parameter\r\n");
    server_settings settings;
    settings.offer_smtputf8 = true;
    settings.offer_dsn = true;
    session t(settings);
    t.deliver("EHLO c\r\nMAIL FROM:<j\xc3\xb6rg@b.example> SMTPUTF8 RET=HDRS\r\n"
              "RCPT TO:<u@d.example> NOTIFY=SUCCESS\r\nRCPT TO:<\xc3\xbc@d.example>\r\n");
    CHECK(t.out.ends_with("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"));
}

TEST_CASE("more than recipients_max recipients get 452 4.5.3 and do not count as errors") {
    server_settings settings;
    settings.recipients_max = 3;
    settings.errors_max = 2;
    session s(settings);
    std::string wire = "EHLO c\r\nMAIL FROM:<a@b.example>\r\n";
    for (int i = 0; i < 5; ++i) wire += "RCPT TO:<u" + std::to_string(i) + "@d.example>\r\n";
    s.deliver(wire + "DATA\r\nx\r\n.\r\n");
    CHECK_FALSE(s.closed);
    CHECK(s.out.ends_with("250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                          "452 4.5.3 Error: too many recipients\r\n"
                          "452 4.5.3 Error: too many recipients\r\n"
                          "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued\r\n"));
    REQUIRE(s.envelopes.size() == 1);
    CHECK(s.envelopes[0].rcpt_to.size() == 3);
}

TEST_CASE("SIZE over the limit is refused at MAIL; content over it after the end of data") {
    server_settings settings;
    settings.message_bytes_max = 1000;
    session s(settings);
    s.deliver("EHLO c\r\nMAIL FROM:<a@b.example> SIZE=1001\r\n");
    CHECK(s.out.ends_with("250-SIZE 1000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"
                          "552 5.3.4 Message size exceeds fixed limit\r\n"));
    s.take();
    std::string content;
    for (int i = 0; i < 200; ++i) content += "0123456789\r\n";
    s.deliver("MAIL FROM:<a@b.example> SIZE=1000\r\nRCPT TO:<u@d.example>\r\nDATA\r\n" +
                  content + ".\r\nNOOP\r\n",
              100);
    CHECK(s.take() == "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
                      "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
                      "250 2.0.0 Ok\r\n");
    CHECK(s.messages.empty());
    s.deliver("RCPT TO:<u@d.example>\r\n");  // the transaction was reset
    CHECK(s.take() == "503 5.5.1 Error: need MAIL command\r\n");
}

TEST_CASE("overlong command lines get 500 5.5.2 without buffering them") {
    session s;
    s.deliver("EHLO c\r\n");
    s.take();
    s.deliver("NOOP " + std::string(600, 'a') + "\r\nNOOP\r\n");
    CHECK(s.take() == "500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n");
    // Trickled in without a line end: consumed as soon as it cannot fit.
    s.buffer_bytes_peak = 0;
    s.deliver("MAIL FROM:<" + std::string(5000, 'x') + "@b.example>\r\nNOOP\r\n", 64);
    CHECK(s.take() == "500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n");
    CHECK(s.buffer_bytes_peak < 512 + 64);
    // Exactly 512 octets with CRLF is allowed.
    const std::string noop = "NOOP " + std::string(505, 'b') + "\r\n";
    REQUIRE(noop.size() == 512);
    s.deliver(noop, 7);
    CHECK(s.take() == "250 2.0.0 Ok\r\n");
}

TEST_CASE("errors_max bad commands end the session with 421 4.7.0") {
    server_settings settings;
    settings.errors_max = 3;
    session s(settings);
    s.deliver("FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n");
    CHECK(s.closed);
    CHECK(s.out == "500 5.5.1 Error: command not recognized\r\n"
                   "500 5.5.1 Error: command not recognized\r\n"
                   "500 5.5.1 Error: command not recognized\r\n"
                   "421 4.7.0 localhost Error: too many errors\r\n");
    CHECK(s.buffer == "NOOP\r\n");
}

TEST_CASE("bare LF in DATA is refused with 550 5.6.11, or kept when allowed") {
    const std::string wire = "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@d.example>\r\n"
                             "DATA\r\nline\n.\nMAIL FROM:<evil@b.example>\r\n.\r\nNOOP\r\n";
    session s;
    s.deliver(wire);
    CHECK(s.messages.empty());
    CHECK(s.out.ends_with("354 End data with <CR><LF>.<CR><LF>\r\n"
                          "550 5.6.11 Bare LF/CR not allowed\r\n250 2.0.0 Ok\r\n"));
    server_settings settings;
    settings.reject_bare_lf = false;
    session t(settings);
    t.deliver(wire);
    REQUIRE(t.messages.size() == 1);
    CHECK(t.messages[0] == "Received: from c\r\nline\n.\nMAIL FROM:<evil@b.example>\r\n");
}

TEST_CASE("RSET, EHLO and HELO reset the transaction; HELO needs an argument") {
    session s;
    s.deliver("HELO\r\nHELO c\r\nMAIL FROM:<a@b.example>\r\nRSET\r\nRCPT TO:<u@d.example>\r\n"
              "MAIL FROM:<a@b.example>\r\nEHLO again\r\nRCPT TO:<u@d.example>\r\nRSET x\r\n");
    CHECK(s.out.starts_with("501 5.5.4 Syntax: HELO hostname\r\n250 localhost\r\n"
                            "250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n"
                            "503 5.5.1 Error: need MAIL command\r\n250 2.1.0 Ok\r\n"
                            "250-localhost\r\n"));
    CHECK(s.out.ends_with("250 ENHANCEDSTATUSCODES\r\n503 5.5.1 Error: need MAIL command\r\n"
                          "501 5.5.4 Syntax: RSET\r\n"));
}

TEST_CASE("NOOP, VRFY, EXPN, HELP, BDAT, STARTTLS, AUTH, junk and NUL bytes") {
    session s;
    s.deliver("noop\r\nVRFY user\r\nVRFY\r\nEXPN list\r\nHELP\r\nBDAT 10 LAST\r\n"
              "STARTTLS\r\nAUTH PLAIN\r\n");
    CHECK(s.take() ==
          "250 2.0.0 Ok\r\n"
          "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
          "501 5.5.4 Syntax: VRFY address\r\n502 5.5.1 Error: command not implemented\r\n"
          "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\r\n"
          "502 5.5.1 Error: command not implemented\r\n"
          "502 5.5.1 Error: command not implemented\r\n"
          "502 5.5.1 Error: command not implemented\r\n");
    s.deliver(std::string("NO\0OP\r\n", 7) + "M\xc3\xa4IL FROM:<a@b>\r\n\r\nXYZZY\r\n");
    CHECK(s.take() == "500 5.5.2 Error: bad syntax\r\n500 5.5.2 Error: bad syntax\r\n"
                      "500 5.5.2 Error: bad syntax\r\n"
                      "500 5.5.1 Error: command not recognized\r\n");
    CHECK_FALSE(s.closed);
}

TEST_CASE("HTTP requests, idle timeout and shutdown close with 221/421") {
    session s;
    s.deliver("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(s.closed);
    CHECK(s.out == "221 2.7.0 Error: I can break rules, too. Goodbye.\r\n");
    session t;
    t.protocol.idle_timeout(t.out);
    CHECK(t.out == "421 4.4.2 localhost Idle timeout, closing connection\r\n");
    CHECK(t.protocol.closed());
    session u;
    u.deliver("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@d.example>\r\nDATA\r\npart");
    CHECK(u.protocol.in_data());
    u.take();
    u.protocol.shutting_down(u.out);
    CHECK(u.out == "421 4.3.2 localhost Service shutting down\r\n");
    CHECK(u.protocol.feed("more\r\n.\r\n", u.out).event == server_protocol::event::close);
}

TEST_CASE("long DATA lines are kept exact and flagged; DATA still gets 250") {
    session s;
    const std::string long_line(1500, 'q');
    s.deliver("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@d.example>\r\nDATA\r\n");
    std::string out;
    s.buffer += long_line + "\r\n.\r\n";
    const auto r = s.protocol.feed(s.buffer, out);
    REQUIRE(r.event == server_protocol::event::message);
    CHECK(s.protocol.pending_line_too_long());
    CHECK(s.protocol.pending_content() == "Received: from c\r\n" + long_line + "\r\n");
}

TEST_CASE("random input never crashes, never buffers past the limits") {
    std::mt19937 random(5321);  // fixed seed: failures reproduce
    const std::string long_run(2000, 'y');
    const std::string_view pieces[] = {
        "EHLO c\r\n", "MAIL FROM:<a@b.example>\r\n", "RCPT TO:<u@d.example>\r\n",
        "DATA\r\n", "\r\n.\r\n", ".", "\n", "\r", "x", std::string_view("\0", 1), "\xff",
        "RSET\r\n", "MAIL FROM:<", "SIZE=99999999", long_run};
    server_settings settings;
    settings.message_bytes_max = 4096;
    settings.errors_max = 1000000;
    settings.reject_bare_lf = false;
    std::size_t messages = 0;
    for (int round = 0; round < 50; ++round) {
        std::string wire;
        const int count = 50 + int(random() % 200);
        for (int k = 0; k < count; ++k) wire += pieces[random() % std::size(pieces)];
        const std::size_t chunk_bytes = 1 + random() % 700;
        session s(settings);
        s.deliver(wire, chunk_bytes);
        CHECK(s.buffer_bytes_peak < settings.command_line_max + chunk_bytes);
        for (const std::string& message : s.messages) {
            CHECK(message.size() <= settings.message_bytes_max + 64);
        }
        CHECK(s.out.size() < wire.size() * 4 + 4096);
        messages += s.messages.size();
    }
    CHECK(messages > 0);  // the mix does reach DATA and the end of data
}
