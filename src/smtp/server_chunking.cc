// BDAT (RFC 3030 CHUNKING) for server_protocol: "BDAT <size> [LAST]" followed by
// exactly <size> octets of message content, taken as they are (no dot-unstuffing,
// no line rules). A refused BDAT still has its octets read and dropped: the client
// sends them anyway, and reading them keeps the command stream in step. Content past
// message_bytes_max is counted, not stored, and the transaction gets 552 5.3.4.
#include <charconv>

#include "ringmta/smtp/server_protocol.h"
#include "text.h"

namespace ringmta::smtp {

namespace {

// 1*DIGIT, at most 15 digits (RFC 3030 chunk sizes are unbounded; 10^15 octets is
// far past any message size, and keeps the sum of chunk sizes from overflowing).
bool parse_chunk_size(std::string_view text, std::uint64_t& size) {
    if (text.empty() || text.size() > 15) return false;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
    }
    std::from_chars(text.data(), text.data() + text.size(), size);
    return true;
}

}  // namespace

void server_protocol::handle_bdat(const command& cmd, std::string& out) {
    std::string_view arg = cmd.argument;
    std::size_t space = arg.find(' ');
    std::uint64_t size = 0;
    bool last = false;
    if (space != std::string_view::npos) {
        last = detail::iequals(arg.substr(space + 1), "LAST");
        if (!last) return reply_error(out, 501, "5.5.4", "Syntax: BDAT size [LAST]");
        arg = arg.substr(0, space);
    }
    // A malformed size leaves the chunk's length unknown: nothing can be skipped.
    if (!parse_chunk_size(arg, size)) {
        return reply_error(out, 501, "5.5.4", "Syntax: BDAT size [LAST]");
    }
    _chunk_remaining = size;
    _chunk_last = last;
    _chunk_discard = true;
    _phase = phase::chunk;
    if (!_mail_given) return reply_error(out, 503, "5.5.1", "Error: need MAIL command");
    if (_env.rcpt_to.empty()) {
        if (_rcpt_attempted) return reply(out, 554, "5.5.1", "Error: no valid recipients");
        return reply_error(out, 503, "5.5.1", "Error: need RCPT command");
    }
    if (!_bdat_used) {  // the first chunk of the message: trace headers first
        _content.clear();
        _hooks.append_trace_headers(_env, _content);
        _bdat_used = true;
    }
    _chunk_discard = false;
}

// Returns false when all of `in` was consumed and the chunk still wants more.
bool server_protocol::feed_chunk(std::string_view in, std::size_t& i, std::string& out) {
    std::uint64_t n = std::min<std::uint64_t>(_chunk_remaining, in.size() - i);
    if (!_chunk_discard) {
        _chunk_bytes_total += n;
        if (_chunk_bytes_total > _settings.message_bytes_max) _chunk_too_big = true;
        if (!_chunk_too_big) _content.append(in.data() + i, std::size_t(n));
    }
    i += std::size_t(n);
    _chunk_remaining -= n;
    if (_chunk_remaining > 0) return false;
    _phase = phase::command;
    if (_chunk_discard) return true;
    if (_chunk_too_big && _chunk_last) {
        reply(out, 552, "5.3.4", "Message size exceeds fixed maximum message size");
        reset_transaction();
    } else if (_chunk_last) {
        _phase = phase::message_pending;
    } else {
        reply(out, 250, "2.0.0", std::to_string(_chunk_bytes_total) + " octets received");
    }
    return true;
}

}  // namespace ringmta::smtp
