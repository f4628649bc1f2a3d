// Awaitable io_uring operations. Each awaitable lives in the awaiting coroutine's
// frame and holds the completion its SQE points at, so the frame outlives the
// operation by construction: the coroutine cannot resume before the CQE arrives.
//
// A non-zero timeout_ms puts the operation in the reactor's deadline list (see
// reactor::watch_deadline); when it expires the reactor cancels the operation and
// the awaitable reports -ETIMEDOUT. Results are the kernel's: >= 0 success, -errno
// failure.
#pragma once

#include <liburing.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstdint>
#include <span>
#include <string_view>

#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"

namespace ringmta::runtime::io {

template <typename Derived>
class uring_op {
public:
    bool await_ready() const noexcept { return false; }

    void await_suspend(std::coroutine_handle<> waiter) {
        _done.waiter = waiter;
        reactor& r = reactor::current();
        io_uring_sqe* s = r.sqe();
        static_cast<Derived*>(this)->prepare(s);
        io_uring_sqe_set_data64(s, tag_pointer(&_done, user_data_tag::completion));
        if (_timeout_ms == 0) return;
        _owner = &r;
        r.watch_deadline(&_done, _timeout_ms);
    }

    int await_resume() const noexcept {
        // -EINTR: the cancel interrupted an operation blocking in an io-wq worker.
        if (_done.timed_out && (_done.result == -ECANCELED || _done.result == -EINTR)) {
            return -ETIMEDOUT;
        }
        return _done.result;
    }

    std::uint32_t cqe_flags() const { return _done.flags; }

protected:
    explicit uring_op(std::uint64_t timeout_ms) : _timeout_ms(timeout_ms) {}
    // Normally the CQE took it out of the list already; this keeps the list sound
    // should a frame ever be destroyed with its operation in flight.
    ~uring_op() {
        if (_done.deadline_ms != 0) _owner->unwatch_deadline(&_done);
    }

private:
    completion _done;
    std::uint64_t _timeout_ms;
    reactor* _owner = nullptr;
};

class recv : public uring_op<recv> {
public:
    recv(int fd, void* buffer, std::size_t bytes, std::uint64_t timeout_ms = 0)
        : uring_op(timeout_ms), _fd(fd), _buffer(buffer), _bytes(bytes) {}
    void prepare(io_uring_sqe* s) { io_uring_prep_recv(s, _fd, _buffer, _bytes, 0); }

private:
    int _fd;
    void* _buffer;
    std::size_t _bytes;
};

class send : public uring_op<send> {
public:
    send(int fd, const void* data, std::size_t bytes, std::uint64_t timeout_ms = 0)
        : uring_op(timeout_ms), _fd(fd), _data(data), _bytes(bytes) {}
    void prepare(io_uring_sqe* s) { io_uring_prep_send(s, _fd, _data, _bytes, MSG_NOSIGNAL); }

private:
    int _fd;
    const void* _data;
    std::size_t _bytes;
};

// sendmsg of a few pieces at once (a command line and the content after it), so
// that they leave in one segment without first being copied together.
class send_vectored : public uring_op<send_vectored> {
public:
    send_vectored(int fd, iovec* parts, std::size_t count, std::uint64_t timeout_ms = 0)
        : uring_op(timeout_ms), _fd(fd) {
        _header.msg_iov = parts;
        _header.msg_iovlen = count;
    }
    void prepare(io_uring_sqe* s) { io_uring_prep_sendmsg(s, _fd, &_header, MSG_NOSIGNAL); }

private:
    int _fd;
    msghdr _header{};
};

class connect : public uring_op<connect> {
public:
    connect(int fd, const sockaddr* address, socklen_t length, std::uint64_t timeout_ms = 0)
        : uring_op(timeout_ms), _fd(fd), _address(address), _length(length) {}
    void prepare(io_uring_sqe* s) { io_uring_prep_connect(s, _fd, _address, _length); }

private:
    int _fd;
    const sockaddr* _address;
    socklen_t _length;
};

class write_at : public uring_op<write_at> {
public:
    write_at(int fd, const void* data, std::size_t bytes, std::uint64_t offset)
        : uring_op(0), _fd(fd), _data(data), _bytes(bytes), _offset(offset) {}
    void prepare(io_uring_sqe* s) {
        io_uring_prep_write(s, _fd, _data, static_cast<unsigned>(_bytes), _offset);
    }

private:
    int _fd;
    const void* _data;
    std::size_t _bytes;
    std::uint64_t _offset;
};

class read_at : public uring_op<read_at> {
public:
    read_at(int fd, void* buffer, std::size_t bytes, std::uint64_t offset)
        : uring_op(0), _fd(fd), _buffer(buffer), _bytes(bytes), _offset(offset) {}
    void prepare(io_uring_sqe* s) {
        io_uring_prep_read(s, _fd, _buffer, static_cast<unsigned>(_bytes), _offset);
    }

private:
    int _fd;
    void* _buffer;
    std::size_t _bytes;
    std::uint64_t _offset;
};

class fdatasync : public uring_op<fdatasync> {
public:
    explicit fdatasync(int fd) : uring_op(0), _fd(fd) {}
    void prepare(io_uring_sqe* s) { io_uring_prep_fsync(s, _fd, IORING_FSYNC_DATASYNC); }

private:
    int _fd;
};

// Suspends for `ms` milliseconds (an IORING_OP_TIMEOUT). Resumes with 0.
class sleep_for : public uring_op<sleep_for> {
public:
    explicit sleep_for(std::uint64_t ms) : uring_op(0) {
        _duration.tv_sec = static_cast<long long>(ms / 1000);
        _duration.tv_nsec = static_cast<long long>(ms % 1000) * 1000000;
    }
    void prepare(io_uring_sqe* s) { io_uring_prep_timeout(s, &_duration, 0, 0); }

private:
    __kernel_timespec _duration{};
};

// Sends all of `data`, resuming after short writes. 0 or -errno (-ETIMEDOUT when one
// send made no progress for timeout_ms).
task<int> send_all(int fd, std::string_view data, std::uint64_t timeout_ms);

// Sends all of `head` and then all of `tail` as if they were one buffer: one
// sendmsg while both fit in the socket's buffer.
task<int> send_all(int fd, std::string_view head, std::string_view tail,
                   std::uint64_t timeout_ms);

// Sends all of `parts`, in order, as if they were one buffer: one sendmsg while they
// fit in the socket's buffer (and IOV_MAX). The caller keeps `parts` and what they
// point at alive until the task ends; the entries are advanced past what was sent.
task<int> send_all(int fd, std::span<iovec> parts, std::uint64_t timeout_ms);

// Reads from `fd` at `offset` until `bytes` are read or EOF; returns bytes read or -errno.
task<long> read_fully(int fd, char* buffer, std::size_t bytes, std::uint64_t offset);

// Writes all of `data` at `offset`, resuming after short writes; 0 or -errno.
task<int> write_fully(int fd, std::string_view data, std::uint64_t offset);

// Closes `fd` on the ring without waiting for the result.
void close_detached(int fd);

}  // namespace ringmta::runtime::io
