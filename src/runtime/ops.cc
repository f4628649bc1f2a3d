// Composite operations built from the single-SQE awaitables in ops.h.
#include "ringmta/runtime/ops.h"

#include <cerrno>
#include <climits>

namespace ringmta::runtime::io {

task<int> send_all(int fd, std::string_view data, std::uint64_t timeout_ms) {
    std::size_t sent = 0;
    while (sent < data.size()) {
        send op(fd, data.data() + sent, data.size() - sent, timeout_ms);
        int n = co_await op;
        if (n < 0) co_return n;
        if (n == 0) co_return -EPIPE;
        sent += static_cast<std::size_t>(n);
    }
    co_return 0;
}

task<int> send_all(int fd, std::string_view head, std::string_view tail,
                   std::uint64_t timeout_ms) {
    while (!head.empty()) {
        iovec parts[2] = {{const_cast<char*>(head.data()), head.size()},
                          {const_cast<char*>(tail.data()), tail.size()}};
        send_vectored op(fd, parts, tail.empty() ? 1 : 2, timeout_ms);
        int n = co_await op;
        if (n < 0) co_return n;
        if (n == 0) co_return -EPIPE;
        auto sent = static_cast<std::size_t>(n);
        if (sent < head.size()) {
            head.remove_prefix(sent);
        } else {
            tail.remove_prefix(sent - head.size());
            head = {};
        }
    }
    co_return co_await send_all(fd, tail, timeout_ms);
}

task<int> send_all(int fd, std::span<iovec> parts, std::uint64_t timeout_ms) {
    std::size_t first = 0;
    while (true) {
        while (first < parts.size() && parts[first].iov_len == 0) ++first;
        if (first == parts.size()) co_return 0;
        std::size_t count = std::min<std::size_t>(parts.size() - first, IOV_MAX);
        send_vectored op(fd, parts.data() + first, count, timeout_ms);
        int n = co_await op;
        if (n < 0) co_return n;
        if (n == 0) co_return -EPIPE;
        auto sent = static_cast<std::size_t>(n);
        for (; sent > 0; ++first) {
            std::size_t taken = std::min(sent, parts[first].iov_len);
            parts[first].iov_base = static_cast<char*>(parts[first].iov_base) + taken;
            parts[first].iov_len -= taken;
            sent -= taken;
            if (parts[first].iov_len > 0) break;
        }
    }
}

task<long> read_fully(int fd, char* buffer, std::size_t bytes, std::uint64_t offset) {
    std::size_t done = 0;
    while (done < bytes) {
        std::size_t chunk = std::min<std::size_t>(bytes - done, 1u << 30);
        read_at op(fd, buffer + done, chunk, offset + done);
        int n = co_await op;
        if (n < 0) co_return n;
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    co_return static_cast<long>(done);
}

task<int> write_fully(int fd, std::string_view data, std::uint64_t offset) {
    std::size_t done = 0;
    while (done < data.size()) {
        std::size_t chunk = std::min<std::size_t>(data.size() - done, 1u << 30);
        write_at op(fd, data.data() + done, chunk, offset + done);
        int n = co_await op;
        if (n < 0) co_return n;
        if (n == 0) co_return -EIO;
        done += static_cast<std::size_t>(n);
    }
    co_return 0;
}

void close_detached(int fd) {
    reactor& r = reactor::current();
    io_uring_sqe* s = r.sqe();
    io_uring_prep_close(s, fd);
    io_uring_sqe_set_data64(s, tag_pointer(nullptr, user_data_tag::ignore));
}

}  // namespace ringmta::runtime::io
