// Private: the TOML side of the configuration module. loader.cc is the only file
// that includes toml++ (a heavy header), so this interface speaks plain types.
#pragma once

#include <ringmta/config/config.h>

#include <string>
#include <string_view>

namespace ringmta::config::detail {

// Overlays the TOML document on settings, which hold the defaults, and validates
// every section, key and value. Throws config_error "SOURCE:LINE:COLUMN: KEY: MESSAGE"
// for the error that comes first in the file.
void apply_toml(std::string_view toml_text, std::string_view source_name, config& settings);

// "SOURCE:LINE:COLUMN: KEY: MESSAGE", the one shape of every located error.
std::string located(std::string_view source_name, unsigned line, unsigned column,
                    std::string_view key, std::string_view message);

}  // namespace ringmta::config::detail
