// ESMTP capabilities a receiver advertised in its EHLO reply (RFC 5321 4.1.1.1,
// RFC 1869): what the client side (delivery) may use on this connection. Pure code.
#pragma once

#include <cstdint>

#include "ringmta/smtp/reply.h"

namespace ringmta::smtp {

struct capabilities {
    bool esmtp = false;  // the EHLO was answered with 2xx
    bool pipelining = false;
    bool eightbitmime = false;
    bool chunking = false;
    bool binarymime = false;
    bool starttls = false;
    bool smtputf8 = false;
    bool dsn = false;
    bool enhanced_status_codes = false;
    std::uint64_t size_max = 0;  // 0: not advertised or no limit
};

// The reply's first line is the greeting, the others keywords (case-insensitive),
// each optionally followed by parameters ("SIZE 10240000"). A non-2xx reply yields
// all false. A SIZE value that is missing, malformed or overflows gives size_max 0.
capabilities parse_ehlo(const reply& r);

}  // namespace ringmta::smtp
