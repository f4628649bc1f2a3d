// accounting_log: one shard's writer of the JSON-lines accounting log (one line
// per recipient outcome). Lines collect in memory during a reactor turn and go
// out as one ring write per turn to a file opened with O_APPEND, which every
// shard shares: the kernel appends each write whole. Off the durability path:
// the journal, not this log, is the record of truth; a crash may lose the last
// lines. Reopen for rotation with reopen() (SIGHUP).
#pragma once

#include <string>

#include "ringmta/observe/accounting.h"
#include "ringmta/runtime/reactor.h"

namespace ringmta::observe {

class accounting_log final : public runtime::turn_hook, public runtime::cqe_handler {
public:
    // Returns "" or an error naming the file.
    std::string open(const std::string& path);
    // Opens the path again (after a rotation moved the file away); a write still in
    // flight finishes into the old file, which is closed after it. "" or an error.
    std::string reopen();
    ~accounting_log();

    void add(const accounting_event& e) { append_accounting_line(_pending, e); }
    void before_wait() override;
    void handle_cqe(int result, std::uint32_t flags) override;
    bool idle() const { return !_writing && _pending.empty(); }

private:
    std::string _path;
    int _fd = -1;
    int _writing_fd = -1;            // the file the write in flight goes to
    bool _close_after_write = false; // reopen() replaced _writing_fd meanwhile
    std::string _pending;
    std::string _writing_buffer;
    std::size_t _written = 0;
    bool _writing = false;
};

}  // namespace ringmta::observe
