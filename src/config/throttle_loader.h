// Private: reads the throttle sections of ringmta.toml: [domains."x"] (TLS policy,
// limits, adaptive backoff), [groups."name"] and [sources."ip"], with the nested
// per-source tables. A key a [domains] or [groups] table does not set takes the
// value of [domains."*"], else the built-in default.
#pragma once

#include "section_reader.h"

#include <ringmta/config/config.h>

namespace ringmta::config::detail {

void read_throttle_sections(const toml::table& root, issue_list& issues, config& out);

}  // namespace ringmta::config::detail
