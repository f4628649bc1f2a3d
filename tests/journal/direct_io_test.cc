// ring_segment_io's direct writes on a real file: appends at any offset land byte
// for byte (each one's block is staged with the bytes written before it), the end
// marker the next append overwrites is handled, a block begun by an earlier run
// is read back from the file, the padding (zeros to the end of the last block)
// never grows the file, and reads see every write, direct or buffered, up to the
// file's end: read_at (bodies read back, direct) and a buffered descriptor
// (recovery's map). Where the file system offers no O_DIRECT the same appends go
// buffered, and the mode says why.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <coroutine>
#include <cstdlib>
#include <string>

#include "journal_test_util.h"
#include "ringmta/journal/segment_io.h"
#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"

using namespace ringmta;
using namespace ringmta::journal;
using ringmta::journal::test::remove_tree;
using ringmta::journal::test::temp_directory;

namespace {

// Whether files in `directory` take O_DIRECT in 4 KiB blocks, asked of the kernel
// here independently of ring_segment_io.
bool offers_direct_io(const std::string& directory) {
    std::string path = directory + "/probe";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    struct statx st{};
    bool offers = ::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &st) == 0 &&
                  (st.stx_mask & STATX_DIOALIGN) && st.stx_dio_offset_align != 0 &&
                  4096 % st.stx_dio_offset_align == 0 && st.stx_dio_mem_align != 0 &&
                  4096 % st.stx_dio_mem_align == 0;
    ::close(fd);
    ::unlink(path.c_str());
    return offers;
}

std::string file_bytes(const std::string& path, std::size_t bytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    std::string out(bytes, '\0');
    REQUIRE(::pread(fd, out.data(), bytes, 0) == static_cast<ssize_t>(bytes));
    ::close(fd);
    return out;
}

// The file's extents still "unwritten" (preallocated, never written), as the file
// system reports them (FS_IOC_FIEMAP); -1 where it does not say.
int unwritten_extents(const std::string& path) {
    constexpr unsigned extents_max = 256;
    std::string buffer(sizeof(fiemap) + extents_max * sizeof(fiemap_extent), '\0');
    auto* map = reinterpret_cast<fiemap*>(buffer.data());
    map->fm_length = FIEMAP_MAX_OFFSET;
    map->fm_flags = FIEMAP_FLAG_SYNC;
    map->fm_extent_count = extents_max;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    int rc = ::ioctl(fd, FS_IOC_FIEMAP, map);
    ::close(fd);
    if (rc != 0) return -1;
    int unwritten = 0;
    for (unsigned i = 0; i < map->fm_mapped_extents; ++i) {
        unwritten += (map->fm_extents[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN) != 0;
    }
    return unwritten;
}

off_t file_size(const std::string& path) {
    struct stat st{};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_size;
}

// One append, awaited: the result ring_segment_io reports to its target.
struct append final : append_target {
    ring_segment_io* io;
    int fd;
    std::string_view data;
    std::uint64_t offset;
    std::coroutine_handle<> waiter;
    int result = 0;

    append(ring_segment_io* io_, int fd_, std::string_view data_, std::uint64_t offset_)
        : io(io_), fd(fd_), data(data_), offset(offset_) {}
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
        waiter = h;
        io->start_append(fd, data, offset, true, this);
    }
    int await_resume() const noexcept { return result; }
    void append_done(int r) override {
        result = r;
        runtime::reactor::current().schedule(waiter);
    }
};

// Bytes that differ from one offset to the next, so a misplaced copy shows.
std::string pattern(std::size_t bytes, std::uint64_t seed) {
    std::string out(bytes, '\0');
    for (std::size_t i = 0; i < bytes; ++i) {
        out[i] = static_cast<char>('!' + (seed * 131 + i * 7 + i / 4096) % 90);
    }
    return out;
}

struct outcome {
    std::string mode;
    std::string expected;      // what the file must hold from offset 0
    std::string seen;          // what it holds, read through the buffered descriptor
    std::string seen_reopened; // after appends by a second ring_segment_io
    std::string expected_reopened;
    off_t size_before = 0;
    off_t size_after = 0;
    std::string read_back;     // through read_at
    std::string read_back_end; // the last 100 bytes, through read_at
    bool all_whole = true;     // every append reported all its bytes
};

// The journal's pattern: each append ends with an 8-byte end marker, which the
// next one starts on; sizes cross block boundaries, stay inside one, end on one.
runtime::task<void> appends(std::string directory, outcome* out, runtime::reactor* r) {
    constexpr std::uint64_t segment_bytes = 10 * 4096 + 1000;  // not whole blocks
    {
        ring_segment_io io;
        io.use_direct_io(true);
        int fd = io.create_segment(directory, "0000000000000001.seg", segment_bytes);
        REQUIRE(fd >= 0);
        out->mode = io.write_mode();
        out->size_before = file_size(directory + "/0000000000000001.seg");
        std::uint64_t at = 0;
        // The third ends on a block boundary (4032 + 64 = 4096).
        const std::size_t sizes[] = {48, 4000, 64, 104, 9000, 16, 4088, 12000};
        std::uint64_t seed = 1;
        for (std::size_t bytes : sizes) {
            std::string data = pattern(bytes, seed++);
            data.replace(data.size() - 8, 8, 8, '\0');   // the end marker
            append a(&io, fd, data, at);
            int n = co_await a;
            out->all_whole = out->all_whole && n == static_cast<int>(data.size());
            out->expected.resize(at);
            out->expected += data;
            at += data.size() - 8;  // the next one overwrites the marker
        }
        // Up to the segment's last byte: the padding past it would grow the file.
        std::string last = pattern(segment_bytes - at, seed++);
        append a(&io, fd, last, at);
        out->all_whole = out->all_whole && co_await a == static_cast<int>(last.size());
        out->expected.resize(at);
        out->expected += last;
        out->size_after = file_size(directory + "/0000000000000001.seg");
        out->seen = file_bytes(directory + "/0000000000000001.seg", out->expected.size());
        std::string body;
        REQUIRE(co_await io.read_at(fd, 5000, 3000, &body) == 0);
        out->read_back = body;
        // The file's last bytes: its last block ends past the end of the file.
        REQUIRE(co_await io.read_at(fd, segment_bytes - 100, 100, &body) == 0);
        out->read_back_end = body;
        io.close_segment(fd);
    }
    {
        // A later run opens the file again and appends mid-block: the block's
        // earlier bytes come from the file, not from memory.
        ring_segment_io io;
        io.use_direct_io(true);
        int fd = io.open_segment(directory, "0000000000000001.seg", true);
        REQUIRE(fd >= 0);
        std::string data = pattern(5000, 99);
        append a(&io, fd, data, 4096 + 1200);
        out->all_whole = out->all_whole && co_await a == static_cast<int>(data.size());
        out->expected_reopened = out->expected;
        out->expected_reopened.replace(4096 + 1200, data.size(), data);
        // Past the data, to the end of its block, the file is not kept (an append
        // is the end of the journal's log): direct writes zero it.
        if (io.write_mode() == "O_DIRECT") {
            std::size_t end = 4096 + 1200 + data.size();
            out->expected_reopened.replace(end, 3 * 4096 - end, 3 * 4096 - end, '\0');
        }
        out->seen_reopened =
            file_bytes(directory + "/0000000000000001.seg", out->expected_reopened.size());
        io.close_segment(fd);
    }
    r->request_exit();
}

}  // namespace

TEST_CASE("direct appends land byte for byte, whatever their offset and size") {
    std::string directory = temp_directory("direct");
    bool direct = offers_direct_io(directory);
    outcome out;
    {
        runtime::reactor r(runtime::reactor_options{});
        runtime::spawn(appends(directory, &out, &r));
        r.run();
    }
    CAPTURE(out.mode);
    if (direct) {
        CHECK(out.mode == "O_DIRECT");
    } else {
        CHECK(out.mode.starts_with("buffered (the file system of "));
    }
    CHECK(out.all_whole);
    CHECK(out.seen == out.expected);
    CHECK(out.size_before == 10 * 4096 + 1000);
    CHECK(out.size_after == out.size_before);
    CHECK(out.read_back == out.expected.substr(5000, 3000));
    CHECK(out.read_back_end == out.expected.substr(out.expected.size() - 100));
    CHECK(out.seen_reopened == out.expected_reopened);
    remove_tree(directory);
}

TEST_CASE("without direct_io appends are buffered, and the mode says so") {
    ring_segment_io io;
    CHECK(io.write_mode() == "buffered (journal.direct_io = false)");
    io.use_direct_io(true);
    CHECK(io.write_mode() == "O_DIRECT (no segment opened yet)");
    io.use_direct_io(false);
    CHECK(io.write_mode() == "buffered (journal.direct_io = false)");
}

TEST_CASE("write_zeros leaves no block unwritten: appends then change no file metadata") {
    const std::string directory = temp_directory("zero-fill");
    for (bool direct : {false, true}) {
        CAPTURE(direct);
        ring_segment_io io;
        io.use_direct_io(direct);
        const std::string name = direct ? "0000000000000002.seg" : "0000000000000001.seg";
        const std::string path = directory + "/" + name;
        // Not a whole number of 1 MiB steps, nor of blocks: the last step is partial.
        const std::uint64_t bytes = (3u << 20) + 4096 + 100;
        int fd = io.create_segment(directory, name, bytes);
        REQUIRE(fd >= 0);
        const int before = unwritten_extents(path);
        REQUIRE(io.write_zeros(fd, bytes) == 0);
        io.close_segment(fd);
        if (before > 0) {
            CHECK(unwritten_extents(path) == 0);
        } else {
            MESSAGE("the file system of " << directory << " reports no unwritten extents "
                    "after preallocation: only the contents are checked");
        }
        CHECK(file_size(path) == static_cast<off_t>(bytes));
        CHECK(file_bytes(path, bytes) == std::string(bytes, '\0'));
    }
    remove_tree(directory);
}
