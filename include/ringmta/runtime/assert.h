// Always-on invariant checks (Redpanda's vassert). A failed RINGMTA_ASSERT is a
// bug, never an operating error: it prints file, line, the condition and a
// printf-formatted message to stderr, then traps so a core dump shows the state.
// Operating errors (peer reset, timeout, 4xx) are values, never asserts.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace ringmta::runtime::detail {

[[noreturn]] inline void assert_failed(const char* file, int line, const char* condition) {
    std::fprintf(stderr, "ringmta: assertion failed at %s:%d: %s\n", file, line, condition);
    std::fflush(stderr);
    __builtin_trap();
}

}  // namespace ringmta::runtime::detail

// RINGMTA_ASSERT(cond, "fmt", args...): the message is formatted only on failure.
#define RINGMTA_ASSERT(condition, ...)                                                      \
    do {                                                                                    \
        if (__builtin_expect(!(condition), 0)) {                                            \
            std::fprintf(stderr, "ringmta: " __VA_ARGS__);                                  \
            std::fputc('\n', stderr);                                                       \
            ::ringmta::runtime::detail::assert_failed(__FILE__, __LINE__, #condition);      \
        }                                                                                   \
    } while (0)
