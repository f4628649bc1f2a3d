// acceptor (see acceptor.h): multishot accept with a bounded queue of sockets.
#include "ringmta/runtime/acceptor.h"

#include <liburing.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "ringmta/runtime/log.h"

namespace ringmta::runtime {

acceptor::acceptor(int listen_fd, std::size_t accepted_max)
    : _listen_fd(listen_fd), _accepted_max(accepted_max) {}

acceptor::~acceptor() {
    for (int fd : _accepted) ::close(fd);
}

void acceptor::start() {
    _stopped = false;
    if (!_armed) arm();
}

void acceptor::arm() {
    io_uring_sqe* s = reactor::current().sqe();
    // Multishot (Linux 5.19+): one SQE yields a CQE per connection, flagged
    // IORING_CQE_F_MORE while it stays armed. SOCK_CLOEXEC keeps sockets out of children.
    io_uring_prep_multishot_accept(s, _listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, handler_data(this));
    _armed = true;
}

void acceptor::stop() {
    _stopped = true;
    if (_armed) {
        io_uring_sqe* s = reactor::current().sqe();
        io_uring_prep_cancel64(s, handler_data(this), 0);
        io_uring_sqe_set_data64(s, tag_pointer(nullptr, user_data_tag::ignore));
    }
    if (_waiter) {
        reactor::current().schedule(_waiter);
        _waiter = {};
    }
}

void acceptor::handle_cqe(int result, std::uint32_t flags) {
    bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (!more) _armed = false;
    if (result >= 0) {
        if (_stopped) {
            ::close(result);
        } else {
            _accepted.push_back(result);
        }
    } else if (result != -ECANCELED) {
        // EMFILE/ENFILE/ENOBUFS: the kernel ends the multishot; we re-arm below,
        // after the queue drains, so a descriptor shortage does not spin.
        log_warn("accept on fd %d: %s", _listen_fd, std::strerror(-result));
        if (result == -EMFILE || result == -ENFILE) _error = result;
    }
    if (!_armed && !_stopped && _accepted.size() < _accepted_max && _error == 0) arm();
    if (_waiter && (!_accepted.empty() || _stopped || _error != 0)) {
        reactor::current().schedule(_waiter);
        _waiter = {};
    }
}

int acceptor::pop() {
    if (_accepted.empty() && _error != 0 && !_stopped) {
        // The caller backs off, then start() re-arms.
        return std::exchange(_error, 0);
    }
    if (_accepted.empty()) return -ECANCELED;
    int fd = _accepted.front();
    _accepted.pop_front();
    if (!_armed && !_stopped && _accepted.size() < _accepted_max / 2) arm();
    return fd;
}

}  // namespace ringmta::runtime
