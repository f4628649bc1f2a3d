// memory_segment_io: segment files in memory with injected faults, for tests of
// the journal (STYLE.md: file I/O goes through one small interface so tests can
// inject short writes, torn writes and fsync failures).
//
// Model: each file has a "cached" image (what reads see now) and a "durable" one
// (what survives a crash). A write changes the cached image at once; its
// completion, and with it any fdatasync, is delivered on a later reactor turn
// through an IORING_OP_NOP on the shard's ring, as real I/O would be. A completed
// fdatasync makes the cached image durable. crash() keeps the durable image plus,
// of every 512-byte sector written since, a random choice (the page cache writes
// back in no particular order: that is how records get torn), and drops every
// completion still in flight, as a dead process would never see them.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ringmta/journal/segment_io.h"
#include "ringmta/runtime/reactor.h"

namespace ringmta::journal {

struct fault_plan {
    std::uint64_t seed = 1;
    double short_write_probability = 0;  // a write stores only a random prefix
    std::uint64_t fail_write_at = 0;     // the Nth write (1-based) fails with -EIO; 0: never
    std::uint64_t fail_sync_at = 0;      // the Nth fdatasync fails with -EIO; 0: never
    int create_error = 0;                // create_segment fails with this -errno (-ENOSPC)
    int directory_sync_error = 0;        // sync_directory fails with this -errno
    int zero_fill_error = 0;             // write_zeros fails with this -errno (-EIO)
};

class memory_segment_io final : public segment_io, public runtime::cqe_handler {
public:
    explicit memory_segment_io(fault_plan plan = {});

    std::string prepare_directory(const std::string&) override { return {}; }
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
    // Directory entries here are durable at once (renames included).
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
    void handle_cqe(int result, std::uint32_t flags) override;

    // The process dies now: see the file comment. Later opens see the survivors.
    void crash();
    void set_plan(const fault_plan& plan);
    // Damage on the medium: flips one byte of "directory/name" (cached and durable).
    // False when there is no such file or byte.
    bool flip_byte(const std::string& path, std::uint64_t offset);
    // The file at "directory/name" as reads see it now; null when there is none.
    const std::string* file_image(const std::string& path) const;
    // Writes a whole file, durable at once (a test planting or damaging one).
    void put_file(const std::string& path, std::string data);
    std::size_t files() const { return _files.size(); }
    std::uint64_t writes() const { return _writes; }
    std::uint64_t syncs() const { return _syncs; }
    std::uint64_t zero_fills() const { return _zero_fills; }
    std::uint64_t short_writes() const { return _short_writes; }

private:
    static constexpr std::size_t sector_bytes = 512;
    struct file {
        std::string cached;
        std::string durable;
        std::set<std::uint64_t> dirty_sectors;
    };
    struct pending {
        std::string name;
        int result = 0;
        bool sync = false;
        append_target* target = nullptr;
        std::uint64_t generation = 0;
    };

    fault_plan _plan;
    std::mt19937_64 _random;
    std::map<std::string, file> _files;       // by "directory/name"
    std::map<int, std::string> _open;         // fd -> path
    int _next_fd = 1000;
    pending _in_flight;
    bool _busy = false;
    std::uint64_t _generation = 0;            // bumped by crash(): older completions drop
    std::uint64_t _writes = 0;
    std::uint64_t _syncs = 0;
    std::uint64_t _zero_fills = 0;
    std::uint64_t _short_writes = 0;
};

}  // namespace ringmta::journal
