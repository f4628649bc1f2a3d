// message_builder: the content blast sends, built fast enough that generation is
// never the bottleneck. The body lines are generated and dot-stuffed once; each
// message then costs a few hundred bytes of headers and one copy of a prefix of
// the stuffed body. Content is exactly size_bytes (unless the headers alone are
// longer), ends with CRLF, and has lines starting with '.' so the receiver's
// unstuffing is exercised. Immutable after construction: shards share it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "blast_options.h"

namespace ringmta::blast {

class message_builder {
public:
    explicit message_builder(const blast_options& options);

    // Recipient k of message i: user<i*R+k>@domain(i mod D).
    void append_recipient(std::string& out, std::uint64_t message, unsigned k) const;
    // Appends the dot-stuffed content of message i and the terminating ".\r\n";
    // returns its content bytes (before stuffing: the SIZE= value).
    std::uint64_t append_stuffed(std::string& out, std::uint64_t message) const;

private:
    std::string headers(std::uint64_t message) const;
    std::uint64_t body_bytes(std::size_t header_bytes) const;

    const blast_options& _options;
    std::vector<std::string> _domains;  // index: message mod D
    std::string _date;                  // RFC 5322 date, taken once at start
    std::string _sender_domain;
    std::string _stuffed_lines;          // the body lines, dot-stuffed
    std::vector<std::size_t> _line_ends;  // _stuffed_lines offset after line k
};

}  // namespace ringmta::blast
