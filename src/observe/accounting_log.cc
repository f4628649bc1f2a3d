// accounting_log (see accounting_log.h).
#include "ringmta/observe/accounting_log.h"

#include <fcntl.h>
#include <liburing.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ringmta/runtime/log.h"

namespace ringmta::observe {

std::string accounting_log::open(const std::string& path) {
    _path = path;
    _fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (_fd < 0) return path + ": " + std::strerror(errno);
    return {};
}

std::string accounting_log::reopen() {
    int fd = ::open(_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) return _path + ": " + std::strerror(errno);
    if (_writing && _writing_fd == _fd) {
        _close_after_write = true;  // the write in flight (and its rest) ends there
    } else {
        ::close(_fd);
    }
    _fd = fd;
    return {};
}

accounting_log::~accounting_log() {
    if (_fd < 0) return;
    // Whatever the ring did not write yet goes out now, at shutdown.
    std::string rest = _writing ? _writing_buffer.substr(_written) : std::string();
    rest += _pending;
    if (!rest.empty()) [[maybe_unused]] ssize_t n = ::write(_fd, rest.data(), rest.size());
    ::close(_fd);
    if (_close_after_write) ::close(_writing_fd);
}

void accounting_log::before_wait() {
    if (_writing || _pending.empty() || _fd < 0) return;
    _writing_buffer.swap(_pending);
    _pending.clear();
    _written = 0;
    _writing = true;
    _writing_fd = _fd;
    io_uring_sqe* s = runtime::reactor::current().sqe();
    // Offset -1: use (and advance) the file position; with O_APPEND, the end.
    io_uring_prep_write(s, _writing_fd, _writing_buffer.data(),
                        static_cast<unsigned>(_writing_buffer.size()), static_cast<__u64>(-1));
    io_uring_sqe_set_data64(s, runtime::handler_data(this));
}

void accounting_log::handle_cqe(int result, std::uint32_t) {
    if (result < 0) {
        log_error("accounting log %s: write failed: %s (lines lost)", _path.c_str(),
                  std::strerror(-result));
    } else {
        _written += static_cast<std::size_t>(result);
        if (_written < _writing_buffer.size() && result > 0) {  // short write: the rest
            io_uring_sqe* s = runtime::reactor::current().sqe();
            io_uring_prep_write(s, _writing_fd, _writing_buffer.data() + _written,
                                static_cast<unsigned>(_writing_buffer.size() - _written),
                                static_cast<__u64>(-1));
            io_uring_sqe_set_data64(s, runtime::handler_data(this));
            return;
        }
    }
    _writing = false;
    _writing_buffer.clear();
    if (_close_after_write) {
        ::close(_writing_fd);
        _close_after_write = false;
    }
}

}  // namespace ringmta::observe
