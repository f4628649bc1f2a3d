// Unit tests of the DSN builder. Each test parses the produced message the way a mail
// reader would (header section, unfolding, multipart split on the boundary, RFC 3464
// field blocks) and checks it field by field: headers, the delivery-status report, the
// returned headers or message, header injection, line lengths and the boundary choice.
// When python3 is installed, its email package must agree with our reading.
#include <ringmta/delivery/dsn.h>  // first: the header compiles on its own

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace {

using ringmta::delivery::build_dsn;
using ringmta::delivery::dsn_recipient;
using ringmta::delivery::dsn_request;

using fields = std::vector<std::pair<std::string, std::string>>;

bool equals_no_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// Header lines (each ending CRLF) into name/value pairs, continuation lines unfolded.
fields parse_fields(std::string_view text) {
    fields out;
    while (!text.empty()) {
        const std::size_t end = text.find("\r\n");
        REQUIRE(end != std::string_view::npos);
        const std::string_view line = text.substr(0, end);
        text.remove_prefix(end + 2);
        if (line.front() == ' ' || line.front() == '\t') {
            REQUIRE(!out.empty());
            out.back().second.append(line);
            continue;
        }
        const std::size_t colon = line.find(':');
        REQUIRE(colon != std::string_view::npos);
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        out.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    return out;
}

std::string field(const fields& f, std::string_view name) {
    for (const auto& [key, value] : f) {
        if (equals_no_case(key, name)) return value;
    }
    return "<absent>";
}

std::size_t field_count(const fields& f, std::string_view name) {
    return static_cast<std::size_t>(std::count_if(f.begin(), f.end(), [&](const auto& kv) {
        return equals_no_case(kv.first, name);
    }));
}

struct entity {
    fields headers;
    std::string body;
};

entity parse_entity(std::string_view s) {
    if (s.substr(0, 2) == "\r\n") return {{}, std::string(s.substr(2))};
    const std::size_t end = s.find("\r\n\r\n");
    REQUIRE(end != std::string_view::npos);
    return {parse_fields(s.substr(0, end + 2)), std::string(s.substr(end + 4))};
}

std::string boundary_of(const entity& e) {
    const std::string type = field(e.headers, "Content-Type");
    const std::size_t at = type.find("boundary=\"");
    REQUIRE(at != std::string::npos);
    const std::size_t start = at + 10;
    return type.substr(start, type.find('"', start) - start);
}

// The parts between "--boundary" lines; the CRLF before a delimiter belongs to it.
std::vector<std::string> split_parts(std::string_view body, std::string_view boundary) {
    const std::string open = "--" + std::string(boundary);
    const std::string close = open + "--";
    std::vector<std::string> parts;
    bool in_part = false;
    bool closed = false;
    while (!body.empty()) {
        const std::size_t end = body.find("\r\n");
        REQUIRE(end != std::string_view::npos);
        const std::string_view line = body.substr(0, end);
        body.remove_prefix(end + 2);
        if (line == open || line == close) {
            REQUIRE(!closed);
            if (in_part) parts.back().resize(parts.back().size() - 2);
            in_part = line == open;
            closed = line == close;
            if (in_part) parts.emplace_back();
        } else if (in_part) {
            parts.back().append(line).append("\r\n");
        }
    }
    CHECK(closed);
    return parts;
}

// RFC 3464 blocks: fields separated by empty lines.
std::vector<fields> split_blocks(std::string_view report) {
    std::vector<fields> blocks;
    std::string text(report);
    text.append("\r\n");  // the last field's CRLF went to the delimiter
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find("\r\n\r\n", start);
        end = end == std::string::npos ? text.size() : end + 2;
        blocks.push_back(parse_fields(std::string_view(text).substr(start, end - start)));
        start = end + 2;
    }
    return blocks;
}

// Every line ends CRLF (no bare CR or LF) and holds at most 998 octets.
void check_lines(std::string_view msg) {
    std::size_t longest = 0;
    std::size_t start = 0;
    while (start < msg.size()) {
        const std::size_t end = msg.find("\r\n", start);
        REQUIRE(end != std::string_view::npos);
        const std::string_view line = msg.substr(start, end - start);
        CHECK(line.find_first_of("\r\n") == std::string_view::npos);
        longest = std::max(longest, line.size());
        start = end + 2;
    }
    CHECK(longest <= 998);
}

struct parsed_dsn {
    entity top;
    std::string boundary;
    std::vector<entity> parts;
};

parsed_dsn parse_dsn(const std::string& msg) {
    check_lines(msg);
    parsed_dsn p;
    p.top = parse_entity(msg);
    p.boundary = boundary_of(p.top);
    for (const std::string& part : split_parts(p.top.body, p.boundary)) {
        p.parts.push_back(parse_entity(part));
    }
    REQUIRE(p.parts.size() == 3);
    return p;
}

constexpr std::string_view original_headers =
    "From: News <news@example.com>\r\n"
    "To: bob@example.net\r\n"
    "Subject: hello\r\n"
    "Message-ID: <m1@example.com>\r\n";
constexpr std::string_view original_body = "\r\nBODY-MARKER line 1\r\nline 2\r\n";

// A request for two recipients: one rejected by the receiver, one expired unreached.
struct fixture {
    std::string content = std::string(original_headers) + std::string(original_body);
    std::vector<dsn_recipient> recipients = {
        {"bob@example.net", "failed", "5.1.1", "dns; mx1.example.net",
         "smtp; 550 5.1.1 <bob@example.net>: No such user", 1795415510000},
        {"carol@example.org", "failed", "4.4.7", "", "connect: Connection refused",
         1795415515000},
    };
    dsn_request request() const {
        dsn_request r;
        r.reporting_mta = "mta.example.com";
        r.postmaster = "MAILER-DAEMON@mta.example.com";
        r.original_sender = "news@example.com";
        r.queue_id = "0123456789abcdef";
        r.arrival_unix_ms = 1795412000000;  // Mon, 23 Nov 2026 05:33:20 +0000
        r.now_unix_ms = 1795415520123;      // Mon, 23 Nov 2026 06:32:00 +0000
        r.original_content = content;
        r.recipients = recipients;
        r.boundary_seed = "0123456789abcdef.1795415520123";
        return r;
    }
};

std::string next_hex(std::string_view boundary, std::uint64_t step) {
    const std::string_view hex = boundary.substr(boundary.size() - 16);
    const std::uint64_t value = std::stoull(std::string(hex), nullptr, 16) + step;
    char digits[17];
    std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(value));
    return std::string(boundary.substr(0, boundary.size() - 16)) + digits;
}

}  // namespace

TEST_CASE("dsn: top-level headers of a bounce") {
    const fixture f;
    const std::string msg = build_dsn(f.request());
    const parsed_dsn p = parse_dsn(msg);
    const fields& h = p.top.headers;
    CHECK(field(h, "From") == "Mail Delivery System <MAILER-DAEMON@mta.example.com>");
    CHECK(field(h, "To") == "<news@example.com>");
    CHECK(field(h, "Subject") == "Undelivered Mail Returned to Sender");
    CHECK(field(h, "Date") == "Mon, 23 Nov 2026 06:32:00 +0000");
    CHECK(field(h, "Message-ID") == "<0123456789abcdef.1795415520123@mta.example.com>");
    CHECK(field(h, "Auto-Submitted") == "auto-replied");
    CHECK(field(h, "MIME-Version") == "1.0");
    const std::string type = field(h, "Content-Type");
    CHECK(type.rfind("multipart/report;", 0) == 0);
    CHECK(type.find("report-type=delivery-status") != std::string::npos);
    CHECK(p.boundary.size() <= 70);
    CHECK(p.boundary.find_first_of(" \"") == std::string::npos);
    for (const auto& [name, value] : h) {
        CAPTURE(name);
        CHECK(field_count(h, name) == 1);
    }
    CHECK(field(p.parts[0].headers, "Content-Type") == "text/plain; charset=us-ascii");
    CHECK(field(p.parts[1].headers, "Content-Type") == "message/delivery-status");
    CHECK(field(p.parts[2].headers, "Content-Type") == "text/rfc822-headers");
}

TEST_CASE("dsn: the delivery-status report, field by field") {
    const fixture f;
    const parsed_dsn p = parse_dsn(build_dsn(f.request()));
    const std::vector<fields> blocks = split_blocks(p.parts[1].body);
    REQUIRE(blocks.size() == 3);
    CHECK(blocks[0].size() == 3);
    CHECK(field(blocks[0], "Reporting-MTA") == "dns; mta.example.com");
    CHECK(field(blocks[0], "X-Ringmta-Queue-ID") == "0123456789abcdef");
    CHECK(field(blocks[0], "Arrival-Date") == "Mon, 23 Nov 2026 05:33:20 +0000");

    const fields& bob = blocks[1];
    CHECK(field(bob, "Final-Recipient") == "rfc822; bob@example.net");
    CHECK(field(bob, "Action") == "failed");
    CHECK(field(bob, "Status") == "5.1.1");
    CHECK(field(bob, "Remote-MTA") == "dns; mx1.example.net");
    CHECK(field(bob, "Diagnostic-Code") == "smtp; 550 5.1.1 <bob@example.net>: No such user");
    CHECK(field(bob, "Last-Attempt-Date") == "Mon, 23 Nov 2026 06:31:50 +0000");
    CHECK(bob.size() == 6);

    const fields& carol = blocks[2];  // expired without ever connecting
    CHECK(field(carol, "Final-Recipient") == "rfc822; carol@example.org");
    CHECK(field(carol, "Action") == "failed");
    CHECK(field(carol, "Status") == "4.4.7");
    CHECK(field(carol, "Remote-MTA") == "<absent>");
    CHECK(field(carol, "Diagnostic-Code") == "X-Ringmta; connect: Connection refused");
    CHECK(field(carol, "Last-Attempt-Date") == "Mon, 23 Nov 2026 06:31:55 +0000");

    const std::string& text = p.parts[0].body;  // the human explanation names everyone
    CHECK(text.find("<bob@example.net>: host mx1.example.net said: 550 5.1.1") !=
          std::string::npos);
    CHECK(text.find("<carol@example.org>: connect: Connection refused") != std::string::npos);
    CHECK(text.find("mta.example.com") != std::string::npos);
}

TEST_CASE("dsn: RET=HDRS returns the original header section only") {
    const fixture f;
    const parsed_dsn p = parse_dsn(build_dsn(f.request()));
    CHECK(field(p.parts[2].headers, "Content-Type") == "text/rfc822-headers");
    CHECK(p.parts[2].body == original_headers);
    const fields returned = parse_fields(p.parts[2].body);
    CHECK(field(returned, "Subject") == "hello");
    CHECK(field(returned, "Message-ID") == "<m1@example.com>");
    CHECK(build_dsn(f.request()).find("BODY-MARKER") == std::string::npos);
}

TEST_CASE("dsn: RET=FULL returns the whole original message, 8-bit labelled") {
    fixture f;
    f.content = std::string(original_headers) + std::string(original_body) + "caf\xc3\xa9\r\n";
    dsn_request r = f.request();
    r.return_full = true;
    const std::string msg = build_dsn(r);
    const parsed_dsn p = parse_dsn(msg);
    CHECK(field(p.parts[2].headers, "Content-Type") == "message/rfc822");
    CHECK(field(p.parts[2].headers, "Content-Transfer-Encoding") == "8bit");
    CHECK(field(p.top.headers, "Content-Transfer-Encoding") == "8bit");
    CHECK(p.parts[2].body == f.content);
    const entity inner = parse_entity(p.parts[2].body);
    CHECK(field(inner.headers, "Subject") == "hello");
    CHECK(inner.body.find("BODY-MARKER line 1") == 0);
    CHECK(p.parts[0].body.find("followed by your message.") != std::string::npos);
}

TEST_CASE("dsn: CR and LF in peer text cannot inject headers or fields") {
    fixture f;
    f.recipients[0].diagnostic =
        "smtp; 550 no\r\nBcc: victim@example.org\r\n\r\nX-Evil: 1\nSubject: pwned";
    f.recipients[0].remote_mta = "mx1.example.net\r\nX-Injected: 1";
    f.recipients[1].address = "carol@example.org\rX-Also: 1";
    const std::string msg = build_dsn(f.request());
    const parsed_dsn p = parse_dsn(msg);
    for (const char* bad : {"\nBcc:", "\nX-Evil:", "\nSubject: pwned", "\nX-Injected:",
                            "\nX-Also:", "\n\n"}) {
        CAPTURE(bad);
        CHECK(msg.find(bad) == std::string::npos);
    }
    CHECK(field_count(p.top.headers, "Subject") == 1);
    const std::vector<fields> blocks = split_blocks(p.parts[1].body);
    REQUIRE(blocks.size() == 3);
    CHECK(field(blocks[1], "Diagnostic-Code") ==
          "smtp; 550 no Bcc: victim@example.org X-Evil: 1 Subject: pwned");
    CHECK(field(blocks[1], "Remote-MTA") == "dns; mx1.example.net X-Injected: 1");
    CHECK(field(blocks[2], "Final-Recipient") == "rfc822; carol@example.org X-Also: 1");
    CHECK(blocks[1].size() == 6);
}

TEST_CASE("dsn: no line passes 998 octets, with 5000-octet diagnostics and lines") {
    fixture f;
    std::string words = "smtp; 550 5.7.1";
    for (int i = 0; words.size() < 5000; ++i) words += " word" + std::to_string(i % 997);
    const std::string one_word = "smtp; 550 " + std::string(5000, 'x');
    f.recipients[0].diagnostic = words;
    f.recipients[1].diagnostic = one_word;
    const std::string long_header = "X-Long: " + std::string(2500, 'h');
    const std::string long_body_line(3000, 'b');
    f.content = std::string(original_headers) + long_header + "\r\n\r\n" + long_body_line +
                "\r\n";
    for (const bool full : {false, true}) {
        CAPTURE(full);
        dsn_request r = f.request();
        r.return_full = full;
        const std::string msg = build_dsn(r);
        const parsed_dsn p = parse_dsn(msg);  // checks every line
        const std::vector<fields> blocks = split_blocks(p.parts[1].body);
        REQUIRE(blocks.size() == 3);
        CHECK(field(blocks[1], "Diagnostic-Code") == words);  // folds only at spaces
        std::string unbroken = field(blocks[2], "Diagnostic-Code");
        unbroken.erase(std::remove(unbroken.begin(), unbroken.end(), ' '), unbroken.end());
        CHECK(unbroken == "smtp;550" + std::string(5000, 'x'));
        // The long lines are broken, and nothing of them is lost.
        const entity returned = parse_entity(p.parts[2].body + (full ? "" : "\r\n"));
        std::string header = field(returned.headers, "X-Long");
        CHECK(header.size() > 2500);  // broken by a fold, which unfolds to a space
        header.erase(std::remove(header.begin(), header.end(), ' '), header.end());
        CHECK(header == std::string(2500, 'h'));
        std::string body = returned.body;
        body.erase(std::remove_if(body.begin(), body.end(),
                                  [](char c) { return c == '\r' || c == '\n'; }),
                   body.end());
        CHECK(body == (full ? long_body_line : ""));
        CHECK(returned.body.size() == (full ? 3000u + 3 * 2 + 2 : 0u));  // 3 breaks, 1 end
    }
}

TEST_CASE("dsn: the boundary never occurs in the returned content or the report") {
    fixture f;
    const std::string first = parse_dsn(build_dsn(f.request())).boundary;
    // Content (and a receiver's reply) holding the first choice and its next values.
    f.content = std::string(original_headers) + "X-Trap: --" + first + "\r\n\r\n--" + first +
                "\r\n--" + next_hex(first, 1) + "\r\nmore\r\n--" + next_hex(first, 2) +
                "--\r\n";
    const std::string reply = "smtp; 550 --" + next_hex(first, 3);  // outlives the views
    f.recipients[0].diagnostic = reply;
    for (const bool full : {false, true}) {
        CAPTURE(full);
        dsn_request r = f.request();
        r.return_full = full;
        const std::string msg = build_dsn(r);
        const parsed_dsn p = parse_dsn(msg);
        CHECK(p.boundary != first);
        CHECK(f.content.find(p.boundary) == std::string::npos);
        CHECK(f.recipients[0].diagnostic.find(p.boundary) == std::string::npos);
        CHECK(p.boundary.substr(0, p.boundary.size() - 16) ==
              first.substr(0, first.size() - 16));
        CHECK(p.parts[2].body ==
              (full ? f.content : std::string(original_headers) + "X-Trap: --" + first +
                                      "\r\n"));
    }
}

TEST_CASE("dsn: all delayed gives the delay subject; a mix is a bounce") {
    fixture f;
    f.recipients = {
        {"bob@example.net", "delayed", "4.2.2", "mx1.example.net",
         "smtp; 452 4.2.2 Mailbox full", 1795415510000},
        {"dave@example.net", "delayed", "", "", "", 1795415511000},
    };
    parsed_dsn p = parse_dsn(build_dsn(f.request()));
    CHECK(field(p.top.headers, "Subject") == "Delayed Mail (still being retried)");
    std::vector<fields> blocks = split_blocks(p.parts[1].body);
    REQUIRE(blocks.size() == 3);
    CHECK(field(blocks[1], "Action") == "delayed");
    CHECK(field(blocks[1], "Status") == "4.2.2");
    CHECK(field(blocks[1], "Remote-MTA") == "dns; mx1.example.net");  // bare host given
    CHECK(field(blocks[2], "Status") == "4.0.0");  // none given: the class default
    CHECK(field(blocks[2], "Diagnostic-Code") == "<absent>");
    CHECK(p.parts[0].body.find("still trying") != std::string::npos);
    CHECK(p.parts[0].body.find("failed permanently") == std::string::npos);

    f.recipients[1].action = "failed";
    f.recipients[1].status = "not-a-code";
    p = parse_dsn(build_dsn(f.request()));
    CHECK(field(p.top.headers, "Subject") == "Undelivered Mail Returned to Sender");
    blocks = split_blocks(p.parts[1].body);
    REQUIRE(blocks.size() == 3);
    CHECK(field(blocks[2], "Status") == "5.0.0");
    CHECK(p.parts[0].body.find("failed permanently") != std::string::npos);
    CHECK(p.parts[0].body.find("is delayed") != std::string::npos);
}

TEST_CASE("dsn: Python's email parser reads the same message (skipped without python3)") {
    if (std::system("command -v python3 >/dev/null 2>&1") != 0) {
        MESSAGE("python3 not found: cross-check skipped");
        return;
    }
    fixture f;
    dsn_request r = f.request();
    r.return_full = true;
    const std::string msg = build_dsn(r);
    const char* tmp = std::getenv("TMPDIR");
    std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/ringmta_dsn_XXXXXX";
    const int fd = mkstemp(path.data());
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, msg.data(), msg.size()) == static_cast<ssize_t>(msg.size()));
    close(fd);
    const std::string script =
        "import email, sys\n"
        "m = email.message_from_binary_file(open(sys.argv[1], 'rb'))\n"
        "assert not m.defects, m.defects\n"
        "assert m.get_content_type() == 'multipart/report'\n"
        "assert m.get_param('report-type') == 'delivery-status'\n"
        "assert m['Auto-Submitted'] == 'auto-replied'\n"
        "p = m.get_payload()\n"
        "assert [x.get_content_type() for x in p] == ['text/plain', "
        "'message/delivery-status', 'message/rfc822'], p\n"
        "assert all(not x.defects for x in p)\n"
        "b = p[1].get_payload()\n"
        "assert len(b) == 3, len(b)\n"
        "assert b[0]['Reporting-MTA'] == 'dns; mta.example.com'\n"
        "assert b[1]['Final-Recipient'] == 'rfc822; bob@example.net'\n"
        "assert b[1]['Status'] == '5.1.1'\n"
        "assert b[2]['Diagnostic-Code'] == 'X-Ringmta; connect: Connection refused'\n"
        "inner = p[2].get_payload(0)\n"
        "assert inner['Subject'] == 'hello', inner['Subject']\n"
        "assert inner.get_payload().startswith('BODY-MARKER'), inner.get_payload()\n";
    const std::string command = "python3 -c \"$(cat <<'EOF'\n" + script + "EOF\n)\" " + path;
    const int status = std::system(command.c_str());
    std::remove(path.c_str());
    CHECK(status == 0);
}

TEST_CASE("dsn: ENVID and ORCPT come back decoded; a relayed report has its own subject") {
    dsn_recipient relayed{"dave@example.net", "relayed", "", "mx.example.net",
                          "smtp; 250 2.0.0 queued", 1'795'000'000'000};
    relayed.original_recipient = "rfc822;Dave+2BTag@example.net";
    const std::string original = "Subject: hi\r\n\r\nbody\r\n";
    dsn_request r{"mta.example.com", "MAILER-DAEMON@mta.example.com", "alice@example.org",
                  "0123456789abcdef", 1'795'000'000'000, 1'795'000'001'000, original, false,
                  std::span(&relayed, 1), "seed"};
    r.envid = "campaign+2B42";
    const parsed_dsn p = parse_dsn(build_dsn(r));
    CHECK(field(p.top.headers, "Subject") == "Successful Mail Delivery Report");
    const std::vector<fields> blocks = split_blocks(p.parts[1].body);
    REQUIRE(blocks.size() == 2);
    CHECK(field(blocks[0], "Original-Envelope-Id") == "campaign+42");
    CHECK(field(blocks[1], "Original-Recipient") == "rfc822; Dave+Tag@example.net");
    CHECK(field(blocks[1], "Action") == "relayed");
    CHECK(field(blocks[1], "Status") == "2.0.0");
    CHECK(p.parts[0].body.find("relayed for these recipients") != std::string::npos);
}
