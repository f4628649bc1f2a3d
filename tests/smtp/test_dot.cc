// Tests of DATA transparency: the server-side unstuffer (including the SMTP smuggling
// variants that must not end a message) and the client-side stuffer.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "ringmta/smtp/dot.h"

using namespace ringmta::smtp;

namespace {

struct unstuffed {
    std::string body;
    std::size_t consumed = 0;
    bool done = false;
    bool bare_lf = false;
    bool line_too_long = false;
    bool too_big = false;
    std::uint64_t bytes_seen = 0;
};

// Feeds `wire` in chunks of `chunk_bytes`, like successive socket reads.
unstuffed unstuff(std::string_view wire, std::size_t chunk_bytes = SIZE_MAX,
                  std::size_t body_bytes_max = 1 << 20) {
    dot_unstuffer reader(body_bytes_max);
    unstuffed u;
    while (u.consumed < wire.size() && !u.done) {
        const auto chunk = wire.substr(u.consumed, chunk_bytes);
        const auto r = reader.feed(chunk, u.body);
        REQUIRE((r.done || r.consumed == chunk.size()));
        u.consumed += r.consumed;
        u.done = r.done;
    }
    u.bare_lf = reader.bare_lf();
    u.line_too_long = reader.line_too_long();
    u.too_big = reader.too_big();
    u.bytes_seen = reader.bytes_seen();
    return u;
}

std::string stuff(std::string_view content, std::size_t chunk_bytes = SIZE_MAX) {
    std::string out;
    dot_stuff_state state;
    for (std::size_t at = 0; at < content.size(); at += chunk_bytes) {
        dot_stuff(content.substr(at, chunk_bytes), out, state);
    }
    dot_stuff_finish(out, state);
    return out;
}

// The DATA reader's contract, one octet at a time and nothing clever: what the real
// one, which scans many octets a step, must match exactly.
struct octet_model {
    enum class at { line_start, mid_line, cr, dot, dot_cr, done };
    at state = at::line_start;
    unstuffed out;
    std::size_t line_bytes = 0;
    std::size_t line_bytes_max;
    std::size_t body_bytes_max;

    octet_model(std::size_t body_max, std::size_t line_max)
        : line_bytes_max(line_max), body_bytes_max(body_max) {}

    void content(char c) {
        ++out.bytes_seen;
        if (++line_bytes > line_bytes_max) out.line_too_long = true;
        if (out.bytes_seen > body_bytes_max) out.too_big = true;
        out.body += c;
    }
    void mid_line(char c) {
        content(c);
        if (c == '\r') {
            state = at::cr;
        } else if (c == '\n') {  // bare LF: the line length restarts, no line start
            out.bare_lf = true;
            line_bytes = 0;
        }
    }
    void feed(char c) {
        ++out.consumed;
        switch (state) {
        case at::line_start:
            if (c == '.') {
                state = at::dot;
                return;
            }
            state = at::mid_line;
            return mid_line(c);
        case at::mid_line:
            return mid_line(c);
        case at::cr:
            if (c == '\n') {
                content(c);
                line_bytes = 0;
                state = at::line_start;
                return;
            }
            out.bare_lf = true;
            state = at::mid_line;
            return mid_line(c);
        case at::dot:
            if (c == '\r') {
                state = at::dot_cr;
                return;
            }
            state = at::mid_line;
            return mid_line(c);
        case at::dot_cr:
            if (c == '\n') {
                state = at::done;
                out.done = true;
                return;
            }
            content('\r');
            out.bare_lf = true;  // the CR was not followed by LF
            state = at::mid_line;
            return mid_line(c);
        case at::done:
            return;
        }
    }
};

}  // namespace

TEST_CASE("dot_unstuffer removes leading dots and stops right after CRLF.CRLF") {
    const std::string wire = "Subject: t\r\n\r\n..leading\r\n.x\r\n...\r\nend\r\n.\r\nQUIT\r\n";
    const unstuffed u = unstuff(wire);
    CHECK(u.done);
    CHECK(u.consumed == wire.size() - 6);
    CHECK(u.body == "Subject: t\r\n\r\n.leading\r\nx\r\n..\r\nend\r\n");
    CHECK_FALSE(u.bare_lf);
    CHECK(u.bytes_seen == u.body.size());
}

TEST_CASE("dot_unstuffer: a lone dot as the first line is an empty message") {
    unstuffed u = unstuff(".\r\nMAIL FROM:<>\r\n");
    CHECK(u.done);
    CHECK(u.consumed == 3);
    CHECK(u.body.empty());
    u = unstuff("\r\n.\r\n");
    CHECK(u.done);
    CHECK(u.body == "\r\n");
    u = unstuff("no terminator yet\r\n.");
    CHECK_FALSE(u.done);
    CHECK(u.consumed == 20);
}

TEST_CASE("dot_unstuffer gives identical output fed byte by byte or in one piece") {
    const std::string wire = "From: a@b\r\n\r\n..\r\n.\rx\r\nab\rc\r\n\n.\n\r.\r"
                             "tail . \r\n..\r\n\r\n.\r\nNEXT";
    const unstuffed whole = unstuff(wire);
    CHECK(whole.body == "From: a@b\r\n\r\n.\r\n\rx\r\nab\rc\r\n\n.\n\r.\rtail . \r\n.\r\n\r\n");
    CHECK(whole.bare_lf);
    for (std::size_t chunk : {1u, 2u, 3u, 7u}) {
        const unstuffed split = unstuff(wire, chunk);
        CHECK(split.done == whole.done);
        CHECK(split.consumed == whole.consumed);
        CHECK(split.body == whole.body);
        CHECK(split.bare_lf == whole.bare_lf);
    }
    CHECK(whole.done);
    CHECK(whole.consumed == wire.size() - 4);
}

TEST_CASE("smuggling variants do not end the message and are flagged as bare LF/CR") {
    // Each would end DATA on a receiver that accepts bare LF or CR; here they are
    // content, and only the real CRLF.CRLF after them ends the message.
    for (std::string_view fake : {"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r\n.\r",
                                  "\r.\r\n"}) {
        const std::string wire = "a" + std::string(fake) + "MAIL FROM:<x@y>\r\n.\r\n";
        for (std::size_t chunk : {std::size_t(1), SIZE_MAX}) {
            const unstuffed u = unstuff(wire, chunk);
            CHECK(u.done);
            CHECK(u.consumed == wire.size());
            CHECK(u.bare_lf);
            CHECK(u.body.find("MAIL FROM:<x@y>\r\n") != std::string::npos);
        }
    }
    const unstuffed u = unstuff("a\n.\nb\r\n.\r\n");
    CHECK(u.body == "a\n.\nb\r\n");  // a dot after a bare LF is not a line start
}

TEST_CASE("dot_unstuffer keeps 998-octet lines exact and flags longer ones") {
    const std::string line998(998, 'x');
    unstuffed u = unstuff(line998 + "\r\n.\r\n");
    CHECK(u.body == line998 + "\r\n");
    CHECK_FALSE(u.line_too_long);
    // The stuffed dot does not count towards the limit (RFC 5321 4.5.3.1.6).
    u = unstuff("." + std::string(1, '.') + std::string(997, 'y') + "\r\n.\r\n");
    CHECK(u.body.size() == 1000);
    CHECK_FALSE(u.line_too_long);
    const std::string line999(999, 'z');
    u = unstuff("short\r\n" + line999 + "\r\nshort\r\n.\r\n", 5);
    CHECK(u.body == "short\r\n" + line999 + "\r\nshort\r\n");
    CHECK(u.line_too_long);
}

TEST_CASE("dot_unstuffer stops storing past body_bytes_max but reads to the end") {
    std::string wire;
    for (int i = 0; i < 100; ++i) wire += "0123456789012345678\r\n";  // 21 octets a line
    wire += ".\r\nRSET\r\n";
    const unstuffed u = unstuff(wire, 64, 1000);
    CHECK(u.done);
    CHECK(u.too_big);
    CHECK(u.consumed == wire.size() - 6);
    CHECK(u.body.size() <= 1000);
    CHECK(u.bytes_seen == 2100);
    const unstuffed fits = unstuff(wire, 64, 2100);
    CHECK_FALSE(fits.too_big);
    CHECK(fits.body.size() == 2100);
}

TEST_CASE("dot_unstuffer::reset readies the reader for the next message") {
    dot_unstuffer reader(100);
    std::string body;
    CHECK(reader.feed("a\nb\r\n.\r\n", body).done);
    CHECK(reader.bare_lf());
    CHECK(reader.feed("more", body).consumed == 0);
    reader.reset();
    body.clear();
    const auto r = reader.feed(".\r\n", body);
    CHECK(r.done);
    CHECK(r.consumed == 3);
    CHECK(body.empty());
    CHECK_FALSE(reader.bare_lf());
}

TEST_CASE("dot_stuff doubles leading dots and ends with CRLF.CRLF") {
    CHECK(stuff("") == ".\r\n");
    CHECK(stuff("hello\r\n") == "hello\r\n.\r\n");
    CHECK(stuff("no final line end") == "no final line end\r\n.\r\n");
    CHECK(stuff(".\r\n..\r\nx.y\r\n.") == "..\r\n...\r\nx.y\r\n..\r\n.\r\n");
}

TEST_CASE("dot_stuff turns bare LF and bare CR into CRLF, across call boundaries") {
    CHECK(stuff("a\nb\n") == "a\r\nb\r\n.\r\n");
    CHECK(stuff("a\n.\n") == "a\r\n..\r\n.\r\n");  // LF.LF cannot end data downstream
    CHECK(stuff("a\r.\r") == "a\r\n..\r\n.\r\n");
    CHECK(stuff("a\r\r\nb") == "a\r\n\r\nb\r\n.\r\n");
    const std::string mixed = "x\r\n.y\rz\n\r\n.\r\n\r.a\n";
    const std::string whole = stuff(mixed);
    for (std::size_t chunk : {1u, 2u, 3u}) CHECK(stuff(mixed, chunk) == whole);
}

TEST_CASE("dot_stuff then dot_unstuffer round-trips random content, any split") {
    std::mt19937 random(20240613);  // fixed seed: failures reproduce
    const std::string_view pieces[] = {".", "..", "\r\n", "\r\n.", "a", "text ", "\r\n.\r\n",
                                       "x", "\r\n\r\n"};
    for (int round = 0; round < 300; ++round) {
        std::string content;
        const int count = int(random() % 64);
        for (int k = 0; k < count; ++k) content += pieces[random() % std::size(pieces)];
        if (!content.empty() && !content.ends_with("\r\n")) content += "\r\n";
        const std::size_t stuff_chunk = 1 + random() % 17;
        const std::size_t read_chunk = 1 + random() % 13;
        const std::string wire = stuff(content, stuff_chunk) + "NEXT";
        const unstuffed u = unstuff(wire, read_chunk);
        REQUIRE(u.done);
        CHECK(u.consumed == wire.size() - 4);
        CHECK(u.body == content);
        CHECK_FALSE(u.bare_lf);
    }
}

TEST_CASE("dot_unstuffer matches an octet-at-a-time model on random input, any split") {
    // Line breaks, dots and runs long enough to cross the 16-octet scan steps.
    std::mt19937 random(20261124);  // fixed seed: failures reproduce
    const std::string_view pieces[] = {"\r\n", "\r", "\n", ".", "\r\n.", "\r\n.\r\n",
                                       "a", "0123456789abcdef0123", "\r\n..", "x\r"};
    for (int round = 0; round < 2000; ++round) {
        std::string wire;
        const int count = int(random() % 48);
        for (int k = 0; k < count; ++k) wire += pieces[random() % std::size(pieces)];
        wire += "\r\n.\r\nNEXT";
        const std::size_t line_max = 3 + random() % 40;
        const std::size_t body_max = random() % 400;
        octet_model model(body_max, line_max);
        for (char c : wire) {
            if (model.state == octet_model::at::done) break;
            model.feed(c);
        }
        const std::size_t chunk = 1 + random() % 37;
        dot_unstuffer reader(body_max, line_max);
        unstuffed real;
        while (real.consumed < wire.size() && !real.done) {
            const auto r = reader.feed(std::string_view(wire).substr(real.consumed, chunk),
                                       real.body);
            real.consumed += r.consumed;
            real.done = r.done;
        }
        CAPTURE(wire);
        CAPTURE(chunk);
        REQUIRE(real.done);
        CHECK(real.consumed == model.out.consumed);
        CHECK(reader.bare_lf() == model.out.bare_lf);
        CHECK(reader.line_too_long() == model.out.line_too_long);
        CHECK(reader.too_big() == model.out.too_big);
        CHECK(reader.bytes_seen() == model.out.bytes_seen);
        // Past the limit the body holds some prefix, which the caller discards.
        if (!model.out.too_big) CHECK(real.body == model.out.body);
    }
}
