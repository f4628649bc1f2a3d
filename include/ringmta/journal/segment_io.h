// segment_io: the one seam through which the journal touches files, so tests can
// put an in-memory implementation with injected short writes, torn writes and
// fdatasync failures in its place (the fault-injecting one comes with the journal
// hardening work). ring_segment_io is the production implementation.
//
// Contract: at most one append is in flight per segment_io; its completion is
// reported on the owning shard, never from inside start_append, through
// append_target::append_done(result): the number of bytes written (all of them:
// the data, and its fdatasync when asked, are complete; fewer: a short write,
// no fdatasync was done, and the journal writes the rest), or -errno.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"

namespace ringmta::journal {

class append_target {
public:
    virtual void append_done(int result) = 0;

protected:
    ~append_target() = default;
};

class segment_io {
public:
    virtual ~segment_io() = default;
    // Creates `directory` (and its parents) if missing; "" or an error naming it.
    virtual std::string prepare_directory(const std::string& directory) = 0;
    // The names of the files in `directory` (start-up only); "" or an error.
    virtual std::string list_directory(const std::string& directory,
                                       std::vector<std::string>& names) = 0;
    // Creates `directory/name` exclusively, preallocates `bytes`, and makes the new
    // directory entry durable (fsync of the directory). fd or -errno.
    virtual int create_segment(const std::string& directory, const std::string& name,
                               std::uint64_t bytes) = 0;
    // Opens an existing segment: for reading at start-up, or `writable` (a recycled
    // file); fd or -errno.
    virtual int open_segment(const std::string& directory, const std::string& name,
                             bool writable = false) = 0;
    // Calls `scan` once with the whole file's bytes (start-up recovery only).
    // ring_segment_io maps the file read-only, so recovery holds no copy of a
    // segment. 0 or -errno.
    virtual int scan_segment(int fd, const std::function<void(std::string_view)>& scan) = 0;
    // Reads `bytes` at `offset` into `*out` (resized to what was read) without blocking
    // the shard: bodies read back for delivery. 0 or -errno; a short file gives less.
    virtual runtime::task<int> read_at(int fd, std::uint64_t offset, std::size_t bytes,
                                       std::string* out) = 0;
    virtual int remove_segment(const std::string& directory, const std::string& name) = 0;
    // rename(2) within `directory`, replacing `to`; not durable by itself. 0 or -errno.
    virtual int rename_segment(const std::string& directory, const std::string& from,
                               const std::string& to) = 0;
    // fsync of the directory: its entries (created, renamed, removed) are durable. 0 or
    // -errno.
    virtual int sync_directory(const std::string& directory) = 0;
    // A small file read whole (the key file): 0, -ENOENT, or -errno.
    virtual int read_small_file(const std::string& directory, const std::string& name,
                                std::string* out) = 0;
    // Replaces `directory/name` with `data` atomically and durably (a temporary file
    // written and fsynced, renamed over it, the directory fsynced). 0 or -errno.
    virtual int replace_small_file(const std::string& directory, const std::string& name,
                                   std::string_view data) = 0;
    virtual void close_segment(int fd) = 0;
    // Writes `data` at `offset`, then fdatasync when `sync` and the write was whole.
    // `data` must stay valid until `done->append_done()`.
    virtual void start_append(int fd, std::string_view data, std::uint64_t offset, bool sync,
                              append_target* done) = 0;
};

// Files through the shard's io_uring: the write and its fdatasync are one linked
// chain (IOSQE_IO_LINK), so a group commit costs one submission. Segment creation
// and removal (once per segment, not per message) use plain syscalls.
class ring_segment_io final : public segment_io {
public:
    std::string prepare_directory(const std::string& directory) override;
    std::string list_directory(const std::string& directory,
                               std::vector<std::string>& names) override;
    int create_segment(const std::string& directory, const std::string& name,
                       std::uint64_t bytes) override;
    int open_segment(const std::string& directory, const std::string& name,
                     bool writable) override;
    int scan_segment(int fd, const std::function<void(std::string_view)>& scan) override;
    runtime::task<int> read_at(int fd, std::uint64_t offset, std::size_t bytes,
                               std::string* out) override;
    int remove_segment(const std::string& directory, const std::string& name) override;
    int rename_segment(const std::string& directory, const std::string& from,
                       const std::string& to) override;
    int sync_directory(const std::string& directory) override;
    int read_small_file(const std::string& directory, const std::string& name,
                        std::string* out) override;
    int replace_small_file(const std::string& directory, const std::string& name,
                           std::string_view data) override;
    void close_segment(int fd) override;
    void start_append(int fd, std::string_view data, std::uint64_t offset, bool sync,
                      append_target* done) override;

private:
    struct step final : runtime::cqe_handler {
        ring_segment_io* owner = nullptr;
        int result = 0;
        bool arrived = false;
        void handle_cqe(int r, std::uint32_t) override {
            result = r;
            arrived = true;
            owner->step_done();
        }
    };

    void step_done();

    step _write;
    step _sync_step;
    std::size_t _bytes = 0;
    bool _sync = false;
    bool _busy = false;
    append_target* _target = nullptr;
};

}  // namespace ringmta::journal
