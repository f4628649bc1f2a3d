// Reply text and formatting (RFC 5321 4.2, RFC 2034): see ringmta/smtp/reply.h.
#include "ringmta/smtp/reply.h"

#include "ringmta/runtime/assert.h"
#include "text.h"

namespace ringmta::smtp {

std::string reply::text() const {
    std::string joined;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (i > 0) joined += "; ";
        joined += lines[i];
    }
    return joined;
}

void format_reply(std::string& out, const reply_spec& r) {
    RINGMTA_ASSERT(r.code >= 200 && r.code <= 599, "reply code %d out of range", r.code);
    RINGMTA_ASSERT(r.enhanced.empty() ||
                       (detail::enhanced_code_length(r.enhanced) == r.enhanced.size() &&
                        r.enhanced[0] == char('0' + r.code / 100)),
                   "enhanced code '%.*s' does not fit reply %d", int(r.enhanced.size()),
                   r.enhanced.data(), r.code);
    const char code[3] = {char('0' + r.code / 100), char('0' + r.code / 10 % 10),
                          char('0' + r.code % 10)};
    std::string_view text = r.text;
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    while (true) {
        const std::size_t lf = text.find('\n');
        const bool last = lf == std::string_view::npos;
        std::string_view line = last ? text : text.substr(0, lf);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        out.append(code, 3);
        if (!last || !r.enhanced.empty() || !line.empty()) out += last ? ' ' : '-';
        out += r.enhanced;
        if (!r.enhanced.empty() && !line.empty()) out += ' ';
        const std::size_t text_at = out.size();
        out += line;
        for (std::size_t i = text_at; i < out.size(); ++i) {
            if (out[i] == '\r') out[i] = ' ';  // never a bare CR on the wire
        }
        out += "\r\n";
        if (last) break;
        text.remove_prefix(lf + 1);
    }
}

}  // namespace ringmta::smtp
