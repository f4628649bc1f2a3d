// config_error: the one exception type of the configuration module. Its what()
// is what an operator reads, "FILE:LINE:COLUMN: KEY: MESSAGE" when it comes from
// load_file / load_string, or just "MESSAGE" from the parse_* helpers.
// Configuration code may throw; the data path never does (STYLE.md).
#pragma once

#include <stdexcept>

namespace ringmta::config {

struct config_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace ringmta::config
