// Operator log: one line per event, "2026-11-23T06:32:00.123Z ringmta[shard] level: text".
// Written with one write(2) per line to stderr or the configured log file; log
// lines are rare events (start, stop, errors), never per message.
#pragma once

#include <string>

namespace ringmta::runtime {

enum class log_level { debug, info, warn, error };

// Opens `path` for appending (""= stderr). Returns an error text, empty on success.
std::string log_open(const std::string& path);
void log_set_level(log_level level);
void log_set_program(const char* name);

void log_write(log_level level, const char* format, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) ::ringmta::runtime::log_write(::ringmta::runtime::log_level::debug, __VA_ARGS__)
#define log_info(...) ::ringmta::runtime::log_write(::ringmta::runtime::log_level::info, __VA_ARGS__)
#define log_warn(...) ::ringmta::runtime::log_write(::ringmta::runtime::log_level::warn, __VA_ARGS__)
#define log_error(...) ::ringmta::runtime::log_write(::ringmta::runtime::log_level::error, __VA_ARGS__)

}  // namespace ringmta::runtime
