// segment_io: the one seam through which the journal touches files, so tests can
// put an in-memory implementation with injected short writes, torn writes and
// fdatasync failures in its place (the fault-injecting one comes with the journal
// hardening work). ring_segment_io is the production implementation.
//
// Contract: at most one append is in flight per segment_io; its completion is
// reported on the owning shard through append_target::append_done(0 or -errno),
// after the data (and, when asked, its fdatasync) are complete.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ringmta/runtime/reactor.h"

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
    // Creates `directory/name` exclusively, preallocates `bytes`, and makes the new
    // directory entry durable (fsync of the directory). fd or -errno.
    virtual int create_segment(const std::string& directory, const std::string& name,
                               std::uint64_t bytes) = 0;
    // Opens an existing segment for reading at start-up; fd or -errno.
    virtual int open_segment(const std::string& directory, const std::string& name) = 0;
    // Reads the whole file into `out` (start-up recovery only). 0 or -errno.
    virtual int read_segment(int fd, std::string& out) = 0;
    virtual int remove_segment(const std::string& directory, const std::string& name) = 0;
    virtual void close_segment(int fd) = 0;
    // Writes `data` at `offset` (resuming short writes), then fdatasync when `sync`.
    // `data` must stay valid until `done->append_done()`.
    virtual void start_append(int fd, std::string_view data, std::uint64_t offset, bool sync,
                              append_target* done) = 0;
};

// Files through the shard's io_uring: the write and its fdatasync are one linked
// chain (IOSQE_IO_LINK), so a group commit costs one submission. Segment creation
// and removal (once per segment, not per message) use plain syscalls.
class ring_segment_io final : public segment_io {
public:
    int create_segment(const std::string& directory, const std::string& name,
                       std::uint64_t bytes) override;
    int open_segment(const std::string& directory, const std::string& name) override;
    int read_segment(int fd, std::string& out) override;
    int remove_segment(const std::string& directory, const std::string& name) override;
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

    void submit();
    void step_done();

    step _write;
    step _sync_step;
    int _fd = -1;
    std::string_view _data;
    std::uint64_t _offset = 0;
    std::size_t _written = 0;
    bool _sync = false;
    bool _busy = false;
    append_target* _target = nullptr;
};

}  // namespace ringmta::journal
