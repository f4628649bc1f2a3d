// ring_segment_io (see segment_io.h): segment files on the shard's ring.
#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "ringmta/journal/segment_io.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/assert.h"

namespace ringmta::journal {

namespace {

// A staging buffer larger than this is given back after its write (a burst of
// large messages), as the journal does with its batch buffers.
constexpr std::size_t bounce_keep_bytes = 8u << 20;
// write_zeros() writes this much a step.
constexpr std::size_t zero_fill_step_bytes = 1u << 20;

}  // namespace

ring_segment_io::~ring_segment_io() {
    for (const direct_file& d : _direct_files) ::close(d.direct_fd);
}

void ring_segment_io::attach_direct(int fd, const std::string& path) {
    if (!_direct) return;
    // The file system says whether it takes direct I/O, and with what alignment
    // (Linux 6.1+); a block of ours must be a whole number of its units.
    struct statx st{};
    if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN | STATX_SIZE, &st) != 0 ||
        !(st.stx_mask & STATX_DIOALIGN) || st.stx_dio_offset_align == 0 ||
        block_bytes % st.stx_dio_offset_align != 0 || st.stx_dio_mem_align == 0 ||
        block_bytes % st.stx_dio_mem_align != 0) {
        _write_mode = "buffered (the file system of " + path + " offers no O_DIRECT)";
        return;
    }
    int direct_fd = ::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
    if (direct_fd < 0) {
        _write_mode = "buffered (" + path + ": O_DIRECT: " + std::strerror(errno) + ")";
        return;
    }
    _direct_files.push_back({fd, direct_fd, st.stx_size, 0, 0, std::string(block_bytes, '\0')});
    _write_mode = "O_DIRECT";
}

ring_segment_io::direct_file* ring_segment_io::direct_of(int fd) {
    for (direct_file& d : _direct_files) {
        if (d.fd == fd) return &d;
    }
    return nullptr;
}

std::string ring_segment_io::prepare_directory(const std::string& directory) {
    std::size_t from = 0;
    while (from <= directory.size()) {
        std::size_t slash = directory.find('/', from);
        if (slash == std::string::npos) slash = directory.size();
        std::string partial = directory.substr(0, slash);
        if (!partial.empty() && ::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
            return partial + ": " + std::strerror(errno);
        }
        from = slash + 1;
    }
    return {};
}

std::string ring_segment_io::list_directory(const std::string& directory,
                                            std::vector<std::string>& names) {
    DIR* dir = ::opendir(directory.c_str());
    if (!dir) return directory + ": " + std::strerror(errno);
    while (dirent* entry = ::readdir(dir)) names.emplace_back(entry->d_name);
    ::closedir(dir);
    return {};
}

int ring_segment_io::create_segment(const std::string& directory, const std::string& name,
                                    std::uint64_t bytes) {
    std::string path = directory + "/" + name;
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    // Reserve the extent up front: a full disk shows here, at segment creation,
    // rather than as a failed append under load.
    if (bytes > 0 && ::posix_fallocate(fd, 0, static_cast<off_t>(bytes)) != 0) {
        int error = errno ? errno : ENOSPC;
        ::close(fd);
        ::unlink(path.c_str());
        return -error;
    }
    // fdatasync on the segment does not persist its directory entry; without this
    // a crash could lose the whole file even though its appends were "durable".
    if (int rc = sync_directory(directory); rc < 0) {
        ::close(fd);
        return rc;
    }
    attach_direct(fd, path);
    return fd;
}

int ring_segment_io::write_zeros(int fd, std::uint64_t bytes) {
    // Through the O_DIRECT descriptor where there is one: 2 x 64 MiB of zeros per
    // shard need not pass through, or stay in, the page cache.
    const direct_file* d = direct_of(fd);
    std::unique_ptr<char, free_deleter> zeros(
        static_cast<char*>(std::aligned_alloc(block_bytes, zero_fill_step_bytes)));
    if (!zeros) return -ENOMEM;
    std::memset(zeros.get(), 0, zero_fill_step_bytes);
    for (std::uint64_t at = 0; at < bytes;) {
        std::size_t step = static_cast<std::size_t>(
            std::min<std::uint64_t>(zero_fill_step_bytes, bytes - at));
        // A step that is not whole blocks (the last one, or after a short write)
        // goes buffered.
        const bool aligned = (at | step) % block_bytes == 0;
        const int to = d && aligned ? d->direct_fd : fd;
        ssize_t n = ::pwrite(to, zeros.get(), step, static_cast<off_t>(at));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        if (n == 0) return -EIO;
        at += static_cast<std::uint64_t>(n);
    }
    return ::fdatasync(fd) == 0 ? 0 : -errno;
}

int ring_segment_io::open_segment(const std::string& directory, const std::string& name,
                                  bool writable) {
    std::string path = directory + "/" + name;
    int fd = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) return -errno;
    if (writable) attach_direct(fd, path);
    return fd;
}

int ring_segment_io::scan_segment(int fd, const std::function<void(std::string_view)>& scan) {
    struct stat st{};
    if (::fstat(fd, &st) != 0) return -errno;
    auto size = static_cast<std::size_t>(st.st_size);
    if (size == 0) {
        scan({});
        return 0;
    }
    void* at = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (at == MAP_FAILED) return -errno;
    ::madvise(at, size, MADV_SEQUENTIAL);
    scan(std::string_view(static_cast<const char*>(at), size));
    ::munmap(at, size);
    return 0;
}

runtime::task<int> ring_segment_io::read_at(int fd, std::uint64_t offset, std::size_t bytes,
                                            std::string* out) {
    // Buffered, also for a segment written direct: a miss reads ahead, so bodies
    // read back in order share disk reads (direct reads, one per body, measured
    // slower: docs/benchmarks.md, "Buffered or O_DIRECT writes").
    out->resize(bytes);
    std::size_t done = 0;
    // Bounded: every round reads at least one byte or ends.
    while (done < bytes) {
        runtime::io::read_at op(fd, out->data() + done, bytes - done, offset + done);
        int n = co_await op;
        if (n == -EINTR || n == -EAGAIN) continue;
        if (n < 0) co_return n;
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    out->resize(done);
    co_return 0;
}

int ring_segment_io::remove_segment(const std::string& directory, const std::string& name) {
    std::string path = directory + "/" + name;
    return ::unlink(path.c_str()) == 0 ? 0 : -errno;
}

int ring_segment_io::rename_segment(const std::string& directory, const std::string& from,
                                    const std::string& to) {
    std::string old_path = directory + "/" + from;
    std::string new_path = directory + "/" + to;
    return ::rename(old_path.c_str(), new_path.c_str()) == 0 ? 0 : -errno;
}

int ring_segment_io::sync_directory(const std::string& directory) {
    int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return -errno;
    int rc = ::fsync(dir) == 0 ? 0 : -errno;
    ::close(dir);
    return rc;
}

int ring_segment_io::read_small_file(const std::string& directory, const std::string& name,
                                     std::string* out) {
    std::string path = directory + "/" + name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    out->clear();
    char buffer[4096];
    int rc = 0;
    // Bounded: a small file; more than 64 KiB is not one of ours (and reads as damaged).
    while (out->size() <= 65536) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) rc = -errno;
        if (n <= 0) break;
        out->append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return rc;
}

int ring_segment_io::replace_small_file(const std::string& directory, const std::string& name,
                                        std::string_view data) {
    std::string path = directory + "/" + name;
    std::string temporary = path + ".tmp";
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    std::size_t done = 0;
    int rc = 0;
    while (done < data.size() && rc == 0) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) rc = n < 0 ? -errno : -EIO;
        else done += static_cast<std::size_t>(n);
    }
    if (rc == 0 && ::fsync(fd) != 0) rc = -errno;
    ::close(fd);
    if (rc == 0 && ::rename(temporary.c_str(), path.c_str()) != 0) rc = -errno;
    if (rc != 0) {
        ::unlink(temporary.c_str());
        return rc;
    }
    return sync_directory(directory);
}

void ring_segment_io::close_segment(int fd) {
    RINGMTA_ASSERT(!_busy || _direct_fd_in_flight < 0 || _append_fd != fd,
                   "segment closed under its append");
    if (const direct_file* d = direct_of(fd)) {
        ::close(d->direct_fd);
        _direct_files.erase(_direct_files.begin() + (d - _direct_files.data()));
    }
    ::close(fd);
}

void ring_segment_io::start_append(int fd, std::string_view data, std::uint64_t offset,
                                   bool sync, append_target* done) {
    RINGMTA_ASSERT(!_busy, "one journal append in flight at a time");
    RINGMTA_ASSERT(data.size() <= (1u << 30), "append of %zu bytes", data.size());
    _busy = true;
    _bytes = data.size();
    _write_offset = offset;
    _sync = sync;
    _target = done;
    _write.owner = this;
    _sync_step.owner = this;
    _write.arrived = false;
    _sync_step.arrived = !sync;
    runtime::reactor& r = runtime::reactor::current();
    io_uring_sqe* w = r.sqes(sync ? 2 : 1);
    _append_fd = fd;
    _direct_fd_in_flight = stage_direct(fd, data, offset);
    if (_direct_fd_in_flight >= 0) {
        io_uring_prep_write(w, _direct_fd_in_flight, _bounce.get(),
                            static_cast<unsigned>(_staged), offset - _prefix);
    } else {
        io_uring_prep_write(w, fd, data.data(), static_cast<unsigned>(data.size()), offset);
    }
    io_uring_sqe_set_data64(w, runtime::handler_data(&_write));
    if (!sync) return;
    // Linked: the fdatasync starts only after the write completed in full; a short or
    // failed write cancels it (-ECANCELED) and the journal decides what follows.
    w->flags |= IOSQE_IO_LINK;
    io_uring_sqe* f = io_uring_get_sqe(r.ring());
    io_uring_prep_fsync(f, fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(f, runtime::handler_data(&_sync_step));
}

int ring_segment_io::stage_direct(int fd, std::string_view data, std::uint64_t offset) {
    direct_file* d = _direct ? direct_of(fd) : nullptr;
    if (!d) return -1;
    std::uint64_t first_block = offset & ~std::uint64_t{block_bytes - 1};
    _prefix = static_cast<std::size_t>(offset - first_block);
    _staged = (_prefix + data.size() + block_bytes - 1) & ~(block_bytes - 1);
    if (first_block + _staged > d->file_bytes) {
        // The padding would grow the file (a segment size that is not a whole number
        // of blocks): this append goes buffered, and the block is read back next time.
        d->tail_bytes = 0;
        return -1;
    }
    if (_staged > _bounce_bytes) {
        _bounce.reset(static_cast<char*>(std::aligned_alloc(block_bytes, _staged)));
        RINGMTA_ASSERT(_bounce != nullptr, "out of memory");
        _bounce_bytes = _staged;
    }
    char* staged = _bounce.get();
    if (_prefix > 0) {
        // The block's earlier bytes, written before: from the last append, or (after a
        // short write, or a first append into a block) read back from the file.
        if (d->tail_bytes >= _prefix && d->tail_block == first_block) {
            std::memcpy(staged, d->tail.data(), _prefix);
        } else if (::pread(fd, staged, _prefix, static_cast<off_t>(first_block)) !=
                   static_cast<ssize_t>(_prefix)) {
            d->tail_bytes = 0;
            return -1;  // buffered, then
        }
    }
    std::memcpy(staged + _prefix, data.data(), data.size());
    std::memset(staged + _prefix + data.size(), 0, _staged - _prefix - data.size());
    return d->direct_fd;
}

void ring_segment_io::step_done() {
    if (!_write.arrived || !_sync_step.arrived) return;
    int result = _write.result;
    if (_direct_fd_in_flight >= 0) {
        _direct_fd_in_flight = -1;
        direct_file* d = direct_of(_append_fd);  // not closed meanwhile (asserted)
        d->tail_bytes = 0;
        if (result >= 0 && static_cast<std::size_t>(result) == _staged) {
            // Keep the last block written: the next append starts inside it.
            std::size_t end = _prefix + _bytes;
            std::size_t tail_at = (end - 1) & ~(block_bytes - 1);
            d->tail.assign(_bounce.get() + tail_at, block_bytes);
            d->tail_block = (_write_offset - _prefix) + tail_at;
            d->tail_bytes = end - tail_at;
            result = static_cast<int>(_bytes);
        } else if (result >= 0) {
            // Short: report the data bytes written, and never all of them, as no
            // fdatasync was done; the journal writes the rest (and its block's
            // earlier bytes come from the file).
            std::size_t written = static_cast<std::size_t>(result) > _prefix
                                      ? static_cast<std::size_t>(result) - _prefix
                                      : 0;
            result = static_cast<int>(std::min(written, _bytes - 1));
        }
        if (_bounce_bytes > bounce_keep_bytes) {
            _bounce.reset();
            _bounce_bytes = 0;
        }
    }
    if (result >= 0 && static_cast<std::size_t>(result) == _bytes && _sync &&
        _sync_step.result < 0) {
        result = _sync_step.result;
    }
    _busy = false;
    _target->append_done(result);
}

}  // namespace ringmta::journal
