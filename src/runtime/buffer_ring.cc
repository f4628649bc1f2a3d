// Provided-buffer rings (see buffer_ring.h). liburing 2.3 has the registration
// call but not io_uring_setup_buf_ring() (2.4), so the ring is mapped here.
#include "ringmta/runtime/buffer_ring.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ringmta/runtime/assert.h"

namespace ringmta::runtime {

namespace {

std::size_t round_to_pages(std::size_t bytes) {
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return (bytes + page - 1) / page * page;
}

}  // namespace

buffer_ring::buffer_ring(unsigned group_id, unsigned count, std::size_t buffer_bytes)
    : _group_id(group_id), _count(count), _buffer_bytes(buffer_bytes) {}

std::unique_ptr<buffer_ring> buffer_ring::create(unsigned group_id, unsigned count,
                                                 std::size_t buffer_bytes, int* error) {
    RINGMTA_ASSERT(count >= 1 && count <= 32768 && (count & (count - 1)) == 0,
                   "buffer_ring count %u must be a power of two up to 32768", count);
    RINGMTA_ASSERT(group_id <= 0xffff && buffer_bytes >= 1 && buffer_bytes <= (1u << 30),
                   "buffer_ring group %u, %zu bytes", group_id, buffer_bytes);
    std::unique_ptr<buffer_ring> b(new buffer_ring(group_id, count, buffer_bytes));
    b->_owner = &reactor::current();
    // The ring the kernel reads buffer addresses from: shared memory, page-aligned.
    b->_ring_bytes = round_to_pages(sizeof(io_uring_buf) * count);
    void* ring = ::mmap(nullptr, b->_ring_bytes, PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring == MAP_FAILED) {
        *error = -errno;
        return nullptr;
    }
    b->_ring = static_cast<io_uring_buf_ring*>(ring);
    // The buffers: reserved address space; a page becomes resident when first used.
    b->_buffers_bytes = round_to_pages(buffer_bytes * count);
    void* buffers = ::mmap(nullptr, b->_buffers_bytes, PROT_READ | PROT_WRITE,
                           MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
    if (buffers == MAP_FAILED) {
        *error = -errno;
        return nullptr;
    }
    b->_buffers = static_cast<char*>(buffers);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(ring);
    reg.ring_entries = count;
    reg.bgid = static_cast<__u16>(group_id);
    int rc = io_uring_register_buf_ring(b->_owner->ring(), &reg, 0);
    if (rc < 0) {  // before Linux 5.19: -EINVAL
        *error = rc;
        return nullptr;
    }
    b->_registered = true;
    io_uring_buf_ring_init(b->_ring);
    const int mask = io_uring_buf_ring_mask(count);
    for (unsigned id = 0; id < count; ++id) {
        io_uring_buf_ring_add(b->_ring, b->_buffers + std::size_t(id) * buffer_bytes,
                              static_cast<unsigned>(buffer_bytes),
                              static_cast<unsigned short>(id), mask, static_cast<int>(id));
    }
    io_uring_buf_ring_advance(b->_ring, static_cast<int>(count));
    return b;
}

buffer_ring::~buffer_ring() {
    // Unregister only while the owning ring still exists: after the reactor is gone
    // the kernel has dropped the registration with the ring.
    if (_registered && reactor::current_or_null() == _owner) {
        io_uring_unregister_buf_ring(_owner->ring(), static_cast<int>(_group_id));
    }
    if (_buffers) ::munmap(_buffers, _buffers_bytes);
    if (_ring) ::munmap(_ring, _ring_bytes);
}

std::string_view buffer_ring::view(unsigned id, std::size_t length) const {
    RINGMTA_ASSERT(id < _count && length <= _buffer_bytes, "buffer %u, %zu bytes", id, length);
    return {_buffers + std::size_t(id) * _buffer_bytes, length};
}

void buffer_ring::give_back(unsigned id) {
    RINGMTA_ASSERT(id < _count && _lent > 0, "give_back(%u) with %u lent", id, _lent);
    --_lent;
    io_uring_buf_ring_add(_ring, _buffers + std::size_t(id) * _buffer_bytes,
                          static_cast<unsigned>(_buffer_bytes), static_cast<unsigned short>(id),
                          io_uring_buf_ring_mask(_count), 0);
    io_uring_buf_ring_advance(_ring, 1);
}

namespace io {

task<int> recv_into(int fd, buffer_ring* buffers, std::string* out, std::uint64_t timeout_ms) {
    lent_buffer lent;
    task<int> received = recv_lent(fd, buffers, &lent, timeout_ms);
    int n = co_await std::move(received);
    if (n > 0) out->append(lent.bytes());
    co_return n;
}

task<int> recv_lent(int fd, buffer_ring* buffers, lent_buffer* lent, std::uint64_t timeout_ms) {
    // Without a timeout, give up on -ENOBUFS after about a minute of 1 ms pauses.
    constexpr unsigned enobufs_retries_max = 60'000;
    // From the start of this turn (the reactor's clock: no clock read per receive).
    const std::uint64_t deadline_ms = reactor::current().now_ms() + timeout_ms;
    for (unsigned attempt = 0;; ++attempt) {
        recv_selected op(fd, *buffers, timeout_ms);
        int n = co_await op;
        if (op.has_buffer()) {
            buffers->note_lent();
            if (n > 0) {
                lent->lend(buffers, op.buffer_id(), static_cast<std::size_t>(n));
            } else {
                buffers->give_back(op.buffer_id());
            }
        }
        if (n != -ENOBUFS) co_return n;
        // Every buffer is out (many receives completed in one turn): their sessions
        // give them back when they run, which is before this pause ends.
        const bool late = timeout_ms != 0 && monotonic_ms() >= deadline_ms;
        if (late || attempt == enobufs_retries_max) co_return n;
        sleep_for pause(1);
        co_await pause;
    }
}

}  // namespace io

}  // namespace ringmta::runtime
