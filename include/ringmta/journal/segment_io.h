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
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"

namespace ringmta::journal {

// An append's block: what the file held past an append, to the end of the block
// it ends in, is not kept (see start_append).
inline constexpr std::size_t append_block_bytes = 4096;

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
    // Writes zeros over the first `bytes` of a segment just created and makes them
    // durable (blocking: start-up only). Preallocation leaves the blocks "unwritten"
    // on ext4 and XFS: each append into them changes the file's extent map, which
    // its fdatasync must then write too. 0 or -errno.
    virtual int write_zeros(int fd, std::uint64_t bytes) = 0;
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
    // `data` must stay valid until `done->append_done()`. An append is the end of
    // the journal's log: what the file held past it, to the end of its
    // append_block_bytes block, is not kept (direct writes zero it).
    virtual void start_append(int fd, std::string_view data, std::uint64_t offset, bool sync,
                              append_target* done) = 0;
};

// Files through the shard's io_uring: the write and its fdatasync are one linked
// chain (IOSQE_IO_LINK), so a group commit costs one submission. Segment creation
// and removal (once per segment, not per message) use plain syscalls.
//
// Direct writes (use_direct_io): a buffered file write on the ring is never done
// inline on ext4 (it runs in an io-wq worker, which also copies it into the page
// cache, and the fdatasync then builds and submits the writeback). A writable
// segment gets a second, O_DIRECT descriptor when the file system reports direct
// I/O alignment (statx STATX_DIOALIGN) that 4 KiB blocks satisfy. An append is
// staged in an aligned buffer from the start of its first block: the block's
// earlier bytes (kept from the last append, or read back from the file), the
// data, zeros to the block's end. Those earlier bytes are rewritten unchanged, so
// a torn write can only tear the new bytes, as with page-cache writeback; the
// zeros lie past the journal's end marker. On a block already written (a recycled
// segment) the kernel submits the write inline; the fdatasync is left with the
// cache flush. Other descriptors (recovery's map, bodies read back) stay buffered
// and see the data: a direct write drops the cached pages it covers.
class ring_segment_io final : public segment_io {
public:
    ring_segment_io() = default;
    ~ring_segment_io() override;
    ring_segment_io(const ring_segment_io&) = delete;
    ring_segment_io& operator=(const ring_segment_io&) = delete;

    // Appends with O_DIRECT where the file system takes it (set before the first
    // segment is opened); see "Direct writes" above.
    void use_direct_io(bool on) {
        _direct = on;
        _write_mode = on ? "O_DIRECT (no segment opened yet)" : "buffered (journal.direct_io = false)";
    }
    // How appends are written, for the start-up log: "O_DIRECT", or "buffered (why)".
    const std::string& write_mode() const { return _write_mode; }
    std::string prepare_directory(const std::string& directory) override;
    std::string list_directory(const std::string& directory,
                               std::vector<std::string>& names) override;
    int create_segment(const std::string& directory, const std::string& name,
                       std::uint64_t bytes) override;
    int write_zeros(int fd, std::uint64_t bytes) override;
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

    // A writable segment written with O_DIRECT: a second descriptor, and the bytes
    // of the last block written (the next append starts inside it).
    struct direct_file {
        int fd = -1;          // the segment's (buffered) descriptor, the key
        int direct_fd = -1;
        std::uint64_t file_bytes = 0;  // its size when opened: padding stays inside
        std::uint64_t tail_block = 0;  // offset of the block `tail` holds
        std::size_t tail_bytes = 0;    // 0: none
        std::string tail;              // block_bytes
    };
    struct free_deleter {
        void operator()(char* p) const { std::free(p); }
    };
    static constexpr std::size_t block_bytes = append_block_bytes;

    void step_done();
    void attach_direct(int fd, const std::string& path);
    direct_file* direct_of(int fd);
    // Copies the append into the aligned staging buffer, from the start of its first
    // block; the file's direct descriptor, or -1 to write it buffered.
    int stage_direct(int fd, std::string_view data, std::uint64_t offset);

    bool _direct = false;
    std::string _write_mode = "buffered (journal.direct_io = false)";
    std::vector<direct_file> _direct_files;
    std::unique_ptr<char, free_deleter> _bounce;  // aligned staging buffer of the append in flight
    std::size_t _bounce_bytes = 0;
    int _append_fd = -1;               // the segment of the append in flight
    int _direct_fd_in_flight = -1;     // its direct descriptor when written direct
    std::size_t _prefix = 0;           // bytes before the data in the staged write
    std::size_t _staged = 0;           // bytes of the staged write (a whole number of blocks)
    std::uint64_t _write_offset = 0;   // the append's offset
    step _write;
    step _sync_step;
    std::size_t _bytes = 0;
    bool _sync = false;
    bool _busy = false;
    append_target* _target = nullptr;
};

}  // namespace ringmta::journal
