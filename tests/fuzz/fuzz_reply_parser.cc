// libFuzzer target: what a receiver may send us. The reply parser must finish
// every reply it starts within its line and line-count bounds, report errors as
// values, consume only what it was given, and parse_ehlo must accept anything.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ringmta/smtp/capabilities.h"
#include "ringmta/smtp/reply.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ringmta::smtp;
    if (size < 1) return 0;
    reply_parser parser(512, 16);
    std::string buffer;
    std::size_t chunk = 1 + data[0] % 32;
    for (std::size_t at = 1; at < size; at += chunk) {
        buffer.append(reinterpret_cast<const char*>(data) + at, std::min(chunk, size - at));
        for (int rounds = 0; rounds < 10000 && !buffer.empty(); ++rounds) {
            reply_parser::result r = parser.parse(buffer);
            if (r.consumed > buffer.size()) std::abort();
            if (r.status == reply_parser::status::error) return 0;
            if (r.status == reply_parser::status::need_more) break;
            reply rep = parser.take();
            if (rep.code < 100 || rep.code > 999 || rep.lines.size() > 16) std::abort();
            capabilities caps = parse_ehlo(rep);
            (void)caps;
            buffer.erase(0, r.consumed);
        }
        if (buffer.size() > 512 * 16 + chunk + 16) std::abort();  // bounded while incomplete
    }
    return 0;
}
