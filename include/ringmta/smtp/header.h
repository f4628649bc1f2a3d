// The header section of a message (RFC 5322 section 2.2), read without copying:
// what ingress needs to pick submission options from a message's own headers
// (ingress.priority_header) and what a DSN quotes (RET=HDRS). Pure code.
#pragma once

#include <optional>
#include <string_view>

namespace ringmta::smtp {

// Everything before the message's first empty line (the whole content if it has
// none); line ends CRLF or LF.
std::string_view header_section(std::string_view content);

// The value of the first header field named `name` (ASCII, any case), with the
// spaces around it trimmed; a folded value is returned as it stands, folds
// included (CRLF WSP). nullopt when no field has that name.
std::optional<std::string_view> header_value(std::string_view content, std::string_view name);

}  // namespace ringmta::smtp
