// Forced replies (see reply_policy.h).
#include "reply_policy.h"

#include <limits>

namespace ringmta::sink {

bool reply_policy::matches(std::string_view mailbox) const {
    return _options.reply_match.empty() ||
           mailbox.find(_options.reply_match) != std::string_view::npos;
}

// Takes one forced reply from the --reply-count budget; false when it is spent.
bool reply_policy::take(std::atomic<std::uint64_t>& used) const {
    if (_options.reply_count == std::numeric_limits<std::uint64_t>::max()) return true;
    return used.fetch_add(1, std::memory_order_relaxed) < _options.reply_count;
}

std::optional<smtp::reply_spec> reply_policy::on_rcpt(std::string_view mailbox) {
    if (!_options.rcpt_reply.given || !matches(mailbox)) return std::nullopt;
    if (!take(_rcpt_used)) return std::nullopt;
    return _options.rcpt_reply.spec();
}

std::optional<smtp::reply_spec> reply_policy::on_data(const smtp::envelope& envelope) {
    if (!_options.data_reply.given) return std::nullopt;
    bool any = false;
    for (const std::string& rcpt : envelope.rcpt_to) {
        if (matches(rcpt)) {
            any = true;
            break;
        }
    }
    if (!any || !take(_data_used)) return std::nullopt;
    return _options.data_reply.spec();
}

}  // namespace ringmta::sink
