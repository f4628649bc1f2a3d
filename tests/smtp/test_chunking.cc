// BDAT (RFC 3030) in the server state machine: chunks taken byte for byte, refused
// chunks still consumed, LAST ending the message, DATA refused after BDAT, sizes.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "ringmta/smtp/server_protocol.h"

using namespace ringmta::smtp;

namespace {

struct hooks final : server_hooks {
    std::optional<reply_spec> check_mail(const envelope&, std::string_view) override {
        return std::nullopt;
    }
    std::optional<reply_spec> check_rcpt(const envelope&, std::string_view m) override {
        if (m == "nobody@dest.example") return reply_spec{550, "5.1.1", "No such user"};
        return std::nullopt;
    }
    void append_trace_headers(const envelope&, std::string& content) override {
        content += "Received: test\r\n";
    }
};

struct chunk_session {
    server_settings settings;
    hooks h;
    server_protocol protocol;
    std::string out;
    std::string buffer;
    std::vector<std::string> messages;

    explicit chunk_session(std::uint64_t size_max = 1 << 20)
        : settings(make_settings(size_max)), protocol(settings, h) {}

    static server_settings make_settings(std::uint64_t size_max) {
        server_settings s;
        s.offer_chunking = true;
        s.message_bytes_max = size_max;
        return s;
    }

    void deliver(std::string_view data, std::size_t piece = SIZE_MAX) {
        for (std::size_t at = 0; at < data.size(); at += piece) {
            buffer.append(data.substr(at, piece));
            for (int rounds = 0; rounds < 1000; ++rounds) {
                auto r = protocol.feed(buffer, out);
                buffer.erase(0, r.consumed);
                if (r.event != server_protocol::event::message) break;
                messages.push_back(protocol.pending_content());
                protocol.message_done({250, "2.0.0", "Ok: queued"}, out);
            }
        }
    }
    std::string take() { return std::exchange(out, {}); }
};

const std::string envelope_lines =
    "EHLO c\r\nMAIL FROM:<a@news.example>\r\nRCPT TO:<b@dest.example>\r\n";

std::string binary_payload() {
    std::string p = "Subject: bin\r\n\r\n.\r\n.. not stuffed\nbare LF\rbare CR\r\n";
    for (int i = 0; i < 256; ++i) p.push_back(static_cast<char>(i));
    return p;
}

}  // namespace

TEST_CASE("EHLO offers CHUNKING only when configured; BDAT otherwise is 502") {
    chunk_session s;
    s.deliver("EHLO c\r\n");
    CHECK(s.take().find("250 CHUNKING\r\n") != std::string::npos);  // the last keyword
    server_settings plain;
    hooks h;
    server_protocol p(plain, h);
    std::string out;
    std::string in = "EHLO c\r\nBDAT 3 LAST\r\n";
    p.feed(in, out);
    CHECK(out.find("CHUNKING") == std::string::npos);
    CHECK(out.find("502 5.5.1") != std::string::npos);
}

TEST_CASE("BDAT chunks are taken byte for byte, with no unstuffing, and LAST ends them") {
    chunk_session s;
    const std::string payload = binary_payload();
    const std::string first = payload.substr(0, 10);
    const std::string rest = payload.substr(10);
    s.deliver(envelope_lines + "BDAT " + std::to_string(first.size()) + "\r\n" + first +
              "BDAT " + std::to_string(rest.size()) + " LAST\r\n" + rest + "QUIT\r\n");
    REQUIRE(s.messages.size() == 1);
    CHECK(s.messages[0] == "Received: test\r\n" + payload);
    const std::string replies = s.take();
    CHECK(replies.find("250 2.0.0 10 octets received\r\n") != std::string::npos);
    CHECK(replies.find("250 2.0.0 Ok: queued\r\n221 2.0.0 Bye\r\n") != std::string::npos);
}

TEST_CASE("BDAT fed byte by byte gives the same message as one piece") {
    const std::string payload = binary_payload();
    const std::string session_text = envelope_lines + "BDAT 7\r\n" + payload.substr(0, 7) +
                                     "BDAT " + std::to_string(payload.size() - 7) + " LAST\r\n" +
                                     payload.substr(7) + "BDAT 0 LAST\r\n";
    chunk_session whole;
    whole.deliver(session_text);
    chunk_session bytes;
    bytes.deliver(session_text, 1);
    REQUIRE(whole.messages.size() == 1);
    CHECK(bytes.messages == whole.messages);
    CHECK(bytes.take() == whole.take());
}

TEST_CASE("BDAT 0 LAST ends a message; an empty message is allowed") {
    chunk_session s;
    s.deliver(envelope_lines + "BDAT 5\r\nhello" + "BDAT 0 LAST\r\n");
    REQUIRE(s.messages.size() == 1);
    CHECK(s.messages[0] == "Received: test\r\nhello");
}

TEST_CASE("a refused BDAT still consumes its chunk, so the next command is read in step") {
    chunk_session s;
    // No MAIL yet: 503, and the 11 octets (which look like a command) are dropped.
    s.deliver("EHLO c\r\nBDAT 11\r\nQUIT\r\nQUIT\r\nNOOP\r\n");
    const std::string replies = s.take();
    CHECK(replies.find("503 5.5.1 Error: need MAIL command\r\n") != std::string::npos);
    CHECK(replies.find("250 2.0.0") != std::string::npos);   // NOOP answered
    CHECK(replies.find("221") == std::string::npos);         // "QUIT" was chunk data
    // No valid recipient: 554, chunk consumed.
    chunk_session t;
    t.deliver("EHLO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<nobody@dest.example>\r\n"
              "BDAT 4 LAST\r\nQUITNOOP\r\n");
    const std::string r = t.take();
    CHECK(r.find("554 5.5.1") != std::string::npos);
    CHECK(r.find("250 2.0.0 Ok\r\n") != std::string::npos);  // NOOP after the chunk
    CHECK(t.messages.empty());
}

TEST_CASE("DATA after BDAT in one transaction is 503; BDAT syntax errors are 501") {
    chunk_session s;
    s.deliver(envelope_lines + "BDAT 3\r\nabcDATA\r\n");
    CHECK(s.take().find("503 5.5.1 Error: DATA after BDAT\r\n") != std::string::npos);
    for (const char* bad : {"BDAT\r\n", "BDAT x\r\n", "BDAT 5 LASTX\r\n", "BDAT -1\r\n",
                            "BDAT 1234567890123456\r\n"}) {
        chunk_session t;
        t.deliver(envelope_lines + bad);
        CHECK_MESSAGE(t.take().find("501 5.5.4 Syntax: BDAT size [LAST]") != std::string::npos,
                      bad);
    }
}

TEST_CASE("BDAT content past the size limit is read, not stored, and refused with 552") {
    chunk_session s(100);
    std::string big(150, 'x');
    s.deliver(envelope_lines + "BDAT 150\r\n" + big + "BDAT 10 LAST\r\n" + big.substr(0, 10) +
              "NOOP\r\n");
    const std::string replies = s.take();
    CHECK(replies.find("552 5.3.4") != std::string::npos);
    CHECK(replies.find("250 2.0.0 Ok\r\n") != std::string::npos);  // NOOP, in step
    CHECK(s.messages.empty());
    CHECK(s.buffer.empty());
}
