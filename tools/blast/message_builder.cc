// Message generation for ringmta-blast (see message_builder.h).
//
// Body layout for a body of B content bytes: k full lines of 76 printable
// characters + CRLF (78 bytes) and one last line of B - 78k bytes (2..79, CRLF
// included), with k = (B - 2) / 78. The full lines come from the pre-stuffed
// buffer, so only the last line and the headers are built per message.
#include "message_builder.h"

#include <ctime>

#include "ringmta/smtp/command.h"
#include "ringmta/smtp/dot.h"

namespace ringmta::blast {

namespace {

constexpr std::size_t line_text_bytes = 76;
constexpr std::size_t line_bytes = line_text_bytes + 2;
constexpr std::size_t dot_line_every = 16;  // every 16th line starts with '.'

std::string body_line(std::size_t k) {
    static constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -+=/";
    std::string line;
    line.reserve(line_bytes);
    for (std::size_t c = 0; c < line_text_bytes; ++c) {
        line += alphabet[(k * 7 + c) % alphabet.size()];
    }
    if (k % dot_line_every == 7) line[0] = '.';
    if (k % (dot_line_every * 4) == 23) line[0] = line[1] = '.';
    line += "\r\n";
    return line;
}

std::string rfc5322_now() {
    char text[64];
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    std::strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S +0000", &utc);
    return text;
}

}  // namespace

message_builder::message_builder(const blast_options& options)
    : _options(options), _date(rfc5322_now()) {
    const std::size_t at = options.domain_format.find("%u");
    for (unsigned j = 0; j < options.domains; ++j) {
        std::string domain = options.domain_format;
        domain.replace(at, 2, std::to_string(j));
        _domains.push_back(std::move(domain));
    }
    _sender_domain = std::string(smtp::domain_of(options.from));
    if (_sender_domain.empty()) _sender_domain = "sender.example.org";
    // Enough full lines for the largest body: the smallest header block is over 78 bytes.
    const std::size_t lines = std::size_t(options.size_bytes / line_bytes) + 1;
    smtp::dot_stuff_state state;
    _line_ends.reserve(lines);
    for (std::size_t k = 0; k < lines; ++k) {
        smtp::dot_stuff(body_line(k), _stuffed_lines, state);
        _line_ends.push_back(_stuffed_lines.size());
    }
}

void message_builder::append_recipient(std::string& out, std::uint64_t message,
                                       unsigned k) const {
    out += "user";
    out += std::to_string(message * _options.recipients + k);
    out += '@';
    out += _domains[message % _domains.size()];
}

std::string message_builder::headers(std::uint64_t message) const {
    const std::string number = std::to_string(message);
    std::string h;
    h.reserve(512);
    h += "From: <" + _options.from + ">\r\nTo: <";
    append_recipient(h, message, 0);
    h += ">\r\nSubject: ringmta-blast message " + number;
    h += "\r\nDate: " + _date;
    h += "\r\nMessage-ID: <" + number + ".blast@" + _sender_domain + ">";
    h += "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
    return h;
}

std::uint64_t message_builder::body_bytes(std::size_t header_bytes) const {
    if (_options.size_bytes < header_bytes + 2) return 0;  // too small for a body line
    return _options.size_bytes - header_bytes;
}

std::uint64_t message_builder::append_stuffed(std::string& out, std::uint64_t message) const {
    const std::string h = headers(message);
    smtp::dot_stuff_state state;
    smtp::dot_stuff(h, out, state);  // header lines never start with '.'; stuffed anyway
    const std::uint64_t body = body_bytes(h.size());
    if (body > 0) {
        const std::size_t full_lines = std::size_t((body - 2) / line_bytes);
        if (full_lines > 0) out.append(_stuffed_lines, 0, _line_ends[full_lines - 1]);
        const std::size_t last_line = std::size_t(body - full_lines * line_bytes);
        out.append(last_line - 2, 'x');
        out += "\r\n";
    }
    smtp::dot_stuff_finish(out, state);
    return h.size() + body;
}

}  // namespace ringmta::blast
