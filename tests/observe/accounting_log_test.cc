// The accounting log writer on a real ring and a real file: thousands of lines in
// writes of many lines each, none lost, torn or reordered on the way, and the
// destructor writes what is left.
#include <ringmta/observe/accounting_log.h>  // first: the header compiles on its own

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../config/test_support.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"

namespace {

using ringmta::observe::accounting_event;
using ringmta::observe::accounting_log;
using ringmta::observe::outcome;
namespace runtime = ringmta::runtime;

// The log's file, made empty in a scratch directory (removed at the end).
struct scratch_file {
    ringmta::config::testing::temp_dir dir;
    std::string path = dir.write("accounting.log", "");
    std::string read() const {
        std::ifstream in(path);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }
};

// The event's strings are views: `recipient` keeps the one that varies.
accounting_event event(unsigned n, std::string& recipient) {
    recipient = "user" + std::to_string(n) + "@example.net";
    accounting_event e{};  // the writer does not care what the fields say
    e.time_unix_ms = 1795415520123;
    e.recipient = recipient;
    e.status = outcome::delivered;
    e.reply = "a reply long enough to make the line about 300 octets, as real ones are: "
              "250 2.0.0 Ok: queued as 4XzKq81Zz9z1q8 on mx1.example.net (the receiver)";
    return e;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::size_t from = 0;
    while (from < text.size()) {
        std::size_t end = text.find('\n', from);
        if (end == std::string::npos) {
            out.push_back(text.substr(from) + "<torn>");
            break;
        }
        out.push_back(text.substr(from, end - from));
        from = end + 1;
    }
    return out;
}

// Runs `body` as a task on a fresh reactor with `log` as its turn hook.
template <typename Body>
void run_with(accounting_log& log, Body body) {
    runtime::reactor r(runtime::reactor_options{});
    r.add_turn_hook(&log);
    struct runner {
        static runtime::task<void> go(Body b, runtime::reactor* r) {
            co_await b();
            r->request_exit();
        }
    };
    runtime::spawn(runner::go(std::move(body), &r));
    r.run();
}

}  // namespace

TEST_CASE("accounting log: thousands of lines in several writes, none lost, torn or "
          "reordered; the destructor writes the rest") {
    scratch_file f;
    constexpr unsigned count = 5000;  // 1.6 MB of lines, a reactor turn every 100
    std::size_t lines_while_running = 0;
    {
        accounting_log log;
        REQUIRE(log.open(f.path).empty());
        run_with(log, [&]() -> runtime::task<void> {
            std::string recipient;
            for (unsigned n = 0; n < count; ++n) {
                log.add(event(n, recipient));
                if (n % 100 == 99) {  // a reactor turn every 100 lines
                    runtime::io::sleep_for turn(1);
                    co_await turn;
                }
            }
            // Everything goes out while the loop runs (bounded: 2 s).
            for (int i = 0; i < 200 && !log.idle(); ++i) {
                runtime::io::sleep_for pause(10);
                co_await pause;
            }
            lines_while_running = lines_of(f.read()).size();
        });
        std::string recipient;
        log.add(event(count, recipient));  // left for the destructor
    }
    CHECK(lines_while_running == count);
    std::vector<std::string> lines = lines_of(f.read());
    REQUIRE(lines.size() == count + 1);
    for (unsigned n = 0; n <= count; ++n) {
        const std::string want = "\"recipient\":\"user" + std::to_string(n) + "@example.net\"";
        if (lines[n].find(want) == std::string::npos || lines[n].back() != '}' ||
            lines[n].front() != '{') {
            FAIL_CHECK("line " << n << " is " << lines[n]);
            break;
        }
    }
}
