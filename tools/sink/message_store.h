// message_store: writes an accepted message for --store DIR as DIR/<stem>.eml
// (the content bytes exactly as received after unstuffing) and then
// DIR/<stem>.json (the envelope), both through the shard's ring. The .json is
// written to a temporary name and renamed, and only after the .eml is complete,
// so a reader that sees the .json may read both. Runs on the session's shard,
// before the 250 is sent.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ringmta/runtime/task.h"
#include "ringmta/smtp/server_protocol.h"

namespace ringmta::sink {

// {"mail_from":"...","rcpt_to":["..."],"helo":"...","bytes":N,"client":"ip:port"}
std::string envelope_json(const smtp::envelope& envelope, std::uint64_t bytes,
                          std::string_view client);

// 0 or -errno. `content` must stay valid until the task ends.
runtime::task<int> store_message(std::string dir, std::string stem, std::string_view content,
                                 std::string json);

}  // namespace ringmta::sink
