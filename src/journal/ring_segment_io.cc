// ring_segment_io (see segment_io.h): segment files on the shard's ring.
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "ringmta/journal/segment_io.h"
#include "ringmta/runtime/assert.h"

namespace ringmta::journal {

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
    int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0 || ::fsync(dir) != 0) {
        int error = errno;
        if (dir >= 0) ::close(dir);
        ::close(fd);
        return -error;
    }
    ::close(dir);
    return fd;
}

int ring_segment_io::open_segment(const std::string& directory, const std::string& name) {
    std::string path = directory + "/" + name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int ring_segment_io::read_segment(int fd, std::string& out) {
    struct stat st{};
    if (::fstat(fd, &st) != 0) return -errno;
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    out.resize(done);
    return 0;
}

int ring_segment_io::remove_segment(const std::string& directory, const std::string& name) {
    std::string path = directory + "/" + name;
    return ::unlink(path.c_str()) == 0 ? 0 : -errno;
}

void ring_segment_io::close_segment(int fd) { ::close(fd); }

void ring_segment_io::start_append(int fd, std::string_view data, std::uint64_t offset,
                                   bool sync, append_target* done) {
    RINGMTA_ASSERT(!_busy, "one journal append in flight at a time");
    _busy = true;
    _fd = fd;
    _data = data;
    _offset = offset;
    _written = 0;
    _sync = sync;
    _target = done;
    _write.owner = this;
    _sync_step.owner = this;
    submit();
}

void ring_segment_io::submit() {
    runtime::reactor& r = runtime::reactor::current();
    _write.arrived = false;
    _sync_step.arrived = !_sync;
    std::size_t remaining = std::min<std::size_t>(_data.size() - _written, 1u << 30);
    io_uring_sqe* w = r.sqes(_sync ? 2 : 1);
    io_uring_prep_write(w, _fd, _data.data() + _written, static_cast<unsigned>(remaining),
                        _offset + _written);
    io_uring_sqe_set_data64(w, runtime::handler_data(&_write));
    if (!_sync) return;
    // Linked: the fdatasync starts only after the write completed in full; a short or
    // failed write cancels it (-ECANCELED) and step_done() decides what follows.
    w->flags |= IOSQE_IO_LINK;
    io_uring_sqe* f = io_uring_get_sqe(r.ring());
    io_uring_prep_fsync(f, _fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(f,
                            runtime::handler_data(&_sync_step));
}

void ring_segment_io::step_done() {
    if (!_write.arrived || !_sync_step.arrived) return;
    int result = 0;
    if (_write.result < 0) {
        result = _write.result;
    } else if (_write.result == 0 && _written < _data.size()) {
        result = -EIO;
    } else {
        _written += static_cast<std::size_t>(_write.result);
        if (_written < _data.size()) {  // short write: resume the rest, then sync
            submit();
            return;
        }
        if (_sync) result = _sync_step.result;
    }
    _busy = false;
    _target->append_done(result);
}

}  // namespace ringmta::journal
