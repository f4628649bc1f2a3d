// AUTH (RFC 4954) in the server state machine: advertising (only under TLS unless
// allowed in plaintext), PLAIN and LOGIN with and without an initial response, the
// hand-over of the credentials to the caller, each reply code, the line limit,
// sequencing, the AUTH= MAIL parameter and the reset by STARTTLS.
#include <doctest/doctest.h>

#include <string>

#include "ringmta/smtp/server_protocol.h"

using namespace ringmta::smtp;

namespace {

struct hooks final : server_hooks {
    std::optional<reply_spec> check_mail(const envelope&, std::string_view) override {
        return std::nullopt;
    }
    std::optional<reply_spec> check_rcpt(const envelope& env, std::string_view) override {
        seen_auth_user = env.auth_user;
        return std::nullopt;
    }
    void append_trace_headers(const envelope&, std::string&) override {}
    std::string seen_auth_user;
};

server_settings plaintext_auth() {
    server_settings s;
    s.offer_auth = true;
    s.auth_requires_tls = false;
    return s;
}

// base64("\0alice\0s3cret") and friends, computed with Python's base64 module.
constexpr const char* plain_alice = "AGFsaWNlAHMzY3JldA==";
constexpr const char* plain_with_authzid = "Ym9zcwBhbGljZQBzM2NyZXQ=";  // boss\0alice\0s3cret
constexpr const char* b64_alice = "YWxpY2U=";
constexpr const char* b64_secret = "czNjcmV0";

bool has(const std::string& out, const char* needle) {
    return out.find(needle) != std::string::npos;
}

struct session {
    server_settings settings;
    hooks h;
    server_protocol p;
    std::string out;
    explicit session(server_settings s) : settings(std::move(s)), p(settings, h) {}
    server_protocol::event feed(const std::string& in) {
        out.clear();
        auto r = p.feed(in, out);
        consumed = r.consumed;
        return r.event;
    }
    std::size_t consumed = 0;
};

}  // namespace

TEST_CASE("AUTH is advertised under TLS only, unless plaintext is allowed") {
    server_settings tls_only;
    tls_only.offer_auth = true;
    tls_only.offer_starttls = true;
    session s(tls_only);
    s.feed("EHLO c\r\n");
    CHECK(!has(s.out, "AUTH"));
    s.feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n");
    CHECK(s.out == "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
    s.feed("STARTTLS\r\n");
    s.p.tls_started();
    s.feed("EHLO c\r\n");
    CHECK(has(s.out, "AUTH PLAIN LOGIN\r\n"));
    CHECK(s.feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n") ==
          server_protocol::event::auth);

    session plain(plaintext_auth());
    plain.feed("EHLO c\r\n");
    CHECK(has(plain.out, "AUTH PLAIN LOGIN\r\n"));

    session none{server_settings{}};
    none.feed("EHLO c\r\nAUTH PLAIN\r\n");
    CHECK(!has(none.out, "AUTH"));
    CHECK(has(none.out, "502 5.5.1"));
}

TEST_CASE("AUTH PLAIN with an initial response hands the credentials over; 235 after") {
    session s(plaintext_auth());
    const std::string line = "AUTH PLAIN " + std::string(plain_alice) + "\r\n";
    CHECK(s.feed("EHLO c\r\n" + line + "MAIL FROM:<a@b.example>\r\n") ==
          server_protocol::event::auth);
    CHECK(s.consumed == std::string("EHLO c\r\n").size() + line.size());  // MAIL waits
    const auth_credentials& c = s.p.pending_auth();
    CHECK(c.mechanism == "PLAIN");
    CHECK(c.authzid == "");
    CHECK(c.user == "alice");
    CHECK(c.password == "s3cret");
    s.out.clear();
    s.p.auth_done(auth_result::success, s.out);
    CHECK(s.out == "235 2.7.0 Authentication successful\r\n");
    CHECK(s.p.authenticated());
    s.feed("MAIL FROM:<a@b.example> AUTH=<>\r\nRCPT TO:<x@y.example>\r\n");
    CHECK(has(s.out, "250 2.1.0"));
    CHECK(s.h.seen_auth_user == "alice");
    s.feed("RSET\r\nAUTH PLAIN " + std::string(plain_alice) + "\r\n");
    CHECK(has(s.out, "503 5.5.1 Error: already authenticated"));
}

TEST_CASE("AUTH PLAIN without an initial response: an empty 334, then the response") {
    session s(plaintext_auth());
    s.feed("EHLO c\r\n");
    CHECK(s.feed("AUTH plain\r\n") == server_protocol::event::need_more);
    CHECK(s.out == "334 \r\n");
    CHECK(s.feed(std::string(plain_with_authzid) + "\r\n") == server_protocol::event::auth);
    CHECK(s.p.pending_auth().authzid == "boss");
    CHECK(s.p.pending_auth().user == "alice");
    s.out.clear();
    s.p.auth_done(auth_result::failure, s.out);
    CHECK(s.out == "535 5.7.8 Error: authentication failed\r\n");
    CHECK(!s.p.authenticated());
    // A failed AUTH may be retried.
    CHECK(s.feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n") ==
          server_protocol::event::auth);
    s.out.clear();
    s.p.auth_done(auth_result::unavailable, s.out);
    CHECK(s.out == "454 4.7.0 Temporary authentication failure, try again later\r\n");
}

TEST_CASE("AUTH LOGIN asks for the user and the password; an initial response is the user") {
    session s(plaintext_auth());
    s.feed("EHLO c\r\n");
    s.feed("AUTH LOGIN\r\n");
    CHECK(s.out == "334 VXNlcm5hbWU6\r\n");
    s.feed(std::string(b64_alice) + "\r\n");
    CHECK(s.out == "334 UGFzc3dvcmQ6\r\n");
    CHECK(s.feed(std::string(b64_secret) + "\r\n") == server_protocol::event::auth);
    CHECK(s.p.pending_auth().mechanism == "LOGIN");
    CHECK(s.p.pending_auth().user == "alice");
    CHECK(s.p.pending_auth().password == "s3cret");
    s.p.auth_done(auth_result::failure, s.out);

    s.feed("AUTH LOGIN " + std::string(b64_alice) + "\r\n");
    CHECK(s.out == "334 UGFzc3dvcmQ6\r\n");
    CHECK(s.feed(std::string(b64_secret) + "\r\n") == server_protocol::event::auth);
    CHECK(s.p.pending_auth().user == "alice");
}

TEST_CASE("AUTH failure codes: bad base64, unknown mechanism, cancel, malformed PLAIN") {
    struct row {
        const char* in;
        const char* reply;
    };
    const row rows[] = {
        {"AUTH PLAIN not*base64\r\n", "501 5.5.2 Error: invalid base64 data\r\n"},
        {"AUTH PLAIN\r\nAGFsaWNlAHMzY3JldA=x\r\n",  // padding in the middle
         "334 \r\n501 5.5.2 Error: invalid base64 data\r\n"},
        {"AUTH CRAM-MD5\r\n", "504 5.5.4 Unrecognized authentication type\r\n"},
        {"AUTH LOGIN\r\n*\r\n", "334 VXNlcm5hbWU6\r\n501 5.0.0 Authentication cancelled\r\n"},
        // "alice": no NUL separators; "\0alice\0": an empty password; "=": empty.
        {"AUTH PLAIN YWxpY2U=\r\n", "501 5.5.2 Error: invalid PLAIN response\r\n"},
        {"AUTH PLAIN AGFsaWNlAA==\r\n", "501 5.5.2 Error: invalid PLAIN response\r\n"},
        {"AUTH PLAIN =\r\n", "501 5.5.2 Error: invalid PLAIN response\r\n"},
        {"AUTH\r\n", "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n"},
        {"AUTH PLAIN a b\r\n", "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n"},
        // After each failed exchange the session reads commands again.
        {"NOOP\r\n", "250 2.0.0 Ok\r\n"},
    };
    session s(plaintext_auth());
    s.feed("EHLO c\r\n");
    for (const row& r : rows) {
        CAPTURE(r.in);
        CHECK(s.feed(r.in) == server_protocol::event::need_more);
        CHECK(s.out == r.reply);
    }
}

TEST_CASE("AUTH out of sequence: before EHLO, after HELO, inside a transaction: 503") {
    session s(plaintext_auth());
    s.feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n");
    CHECK(s.out == "503 5.5.1 Error: send EHLO first\r\n");
    s.feed("HELO c\r\nAUTH PLAIN " + std::string(plain_alice) + "\r\n");
    CHECK(has(s.out, "503 5.5.1 Error: send EHLO first"));
    s.feed("EHLO c\r\nMAIL FROM:<a@b.example>\r\nAUTH PLAIN " + std::string(plain_alice) +
           "\r\n");
    CHECK(has(s.out, "503 5.5.1 Error: MAIL transaction in progress"));
}

TEST_CASE("AUTH lines: up to auth_line_max, longer is 500 5.5.6 and ends the exchange") {
    server_settings settings = plaintext_auth();
    settings.auth_line_max = 1024;
    session s(settings);
    s.feed("EHLO c\r\nAUTH PLAIN\r\n");
    // 600 octets: over the 512 command limit, within the AUTH limit (valid base64).
    const std::string long_response(600, 'A');
    s.feed(long_response + "\r\n");
    CHECK(s.out == "501 5.5.2 Error: invalid PLAIN response\r\n");  // 450 NULs: no user
    s.feed("AUTH PLAIN\r\n");
    CHECK(s.feed(std::string(2000, 'A')) == server_protocol::event::need_more);
    CHECK(s.out == "500 5.5.6 Authentication Exchange line is too long\r\n");
    s.feed(std::string(100, 'A') + "\r\nNOOP\r\n");  // the rest of that line is skipped
    CHECK(s.out == "250 2.0.0 Ok\r\n");
    // Other commands keep the 512-octet limit.
    s.feed("NOOP " + std::string(600, 'x') + "\r\n");
    CHECK(s.out == "500 5.5.2 Error: line too long\r\n");
}

TEST_CASE("failed AUTHs count towards errors_max") {
    server_settings settings = plaintext_auth();
    settings.errors_max = 2;
    session s(settings);
    s.feed("EHLO c\r\n");
    for (int i = 0; i < 2; ++i) {
        REQUIRE(s.feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n") ==
                server_protocol::event::auth);
        s.out.clear();
        s.p.auth_done(auth_result::failure, s.out);
    }
    CHECK(has(s.out, "535 5.7.8"));
    CHECK(has(s.out, "421 4.7.0"));
    CHECK(s.p.closed());
}

TEST_CASE("STARTTLS forgets an AUTH made before it") {
    server_settings settings = plaintext_auth();
    settings.offer_starttls = true;
    session s(settings);
    s.feed("EHLO c\r\nAUTH PLAIN " + std::string(plain_alice) + "\r\n");
    s.p.auth_done(auth_result::success, s.out);
    CHECK(s.p.authenticated());
    s.feed("STARTTLS\r\n");
    s.p.tls_started();
    CHECK(!s.p.authenticated());
    s.feed("EHLO c\r\nAUTH PLAIN " + std::string(plain_alice) + "\r\n");
    CHECK(s.p.pending_auth().user == "alice");
}

TEST_CASE("MAIL AUTH= is accepted when AUTH is offered, 555 otherwise") {
    session s(plaintext_auth());
    s.feed("EHLO c\r\nMAIL FROM:<a@b.example> AUTH=a+40b.example\r\n");
    CHECK(has(s.out, "250 2.1.0"));
    s.feed("RSET\r\nMAIL FROM:<a@b.example> AUTH=bad=value\r\n");
    CHECK(has(s.out, "501 5.5.4"));
    s.feed("MAIL FROM:<a@b.example> AUTH=<> AUTH=<>\r\n");
    CHECK(has(s.out, "501 5.5.4"));
    session none{server_settings{}};
    none.feed("EHLO c\r\nMAIL FROM:<a@b.example> AUTH=<>\r\n");
    CHECK(has(none.out, "555 5.5.4"));
}
