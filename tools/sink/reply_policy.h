// reply_policy: decides when the sink answers with a forced reply instead of
// accepting (--rcpt-reply, --data-reply, --reply-count, --reply-match). One
// instance is shared by all shards: the "first N" budget is global, so it is an
// atomic counter; it is touched only when a forced reply is configured and the
// recipient matches, never on the plain accept path.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

#include "ringmta/smtp/server_protocol.h"
#include "sink_options.h"

namespace ringmta::sink {

class reply_policy {
public:
    explicit reply_policy(const sink_options& options) : _options(options) {}
    reply_policy(const reply_policy&) = delete;
    reply_policy& operator=(const reply_policy&) = delete;

    // The reply for RCPT TO:<mailbox>, or nullopt to accept it.
    std::optional<smtp::reply_spec> on_rcpt(std::string_view mailbox);
    // The reply for the end of DATA, or nullopt to accept the message.
    std::optional<smtp::reply_spec> on_data(const smtp::envelope& envelope);

private:
    bool matches(std::string_view mailbox) const;
    bool take(std::atomic<std::uint64_t>& used) const;

    const sink_options& _options;
    alignas(64) std::atomic<std::uint64_t> _rcpt_used{0};
    alignas(64) std::atomic<std::uint64_t> _data_used{0};
};

}  // namespace ringmta::sink
