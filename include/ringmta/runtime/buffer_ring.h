// buffer_ring: receive buffers the kernel picks from when data arrives (io_uring
// provided-buffer ring, IORING_REGISTER_PBUF_RING, Linux 5.19+), so a connection
// waiting for input holds no buffer of its own: memory for receives is
// `count * buffer_bytes` per shard, however many connections are open.
//
// Contract: created, used and destroyed on one shard's thread, with that shard's
// reactor current. A receive (recv_selected) that completes with data owns the
// buffer it names until give_back(); recv_into() copies and gives it back at
// once, recv_lent() lends it to the caller (a lent_buffer, which gives it back),
// so that bytes can be parsed where the kernel put them. When every buffer is
// out, a receive with data waiting completes with -ENOBUFS; both then retry after
// 1 ms, within their timeout. The buffers are one anonymous mapping, so pages
// never used are never resident.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"

namespace ringmta::runtime {

class buffer_ring {
public:
    // `count`: a power of two from 1 to 32768; group_id: unique per reactor. Null
    // with *error set (-errno) when the kernel has no provided-buffer rings.
    static std::unique_ptr<buffer_ring> create(unsigned group_id, unsigned count,
                                               std::size_t buffer_bytes, int* error);
    ~buffer_ring();
    buffer_ring(const buffer_ring&) = delete;
    buffer_ring& operator=(const buffer_ring&) = delete;

    unsigned group_id() const { return _group_id; }
    std::size_t buffer_bytes() const { return _buffer_bytes; }
    unsigned count() const { return _count; }
    unsigned lent() const { return _lent; }  // completed receives not yet given back

    // The bytes a completed receive put in buffer `id`.
    std::string_view view(unsigned id, std::size_t length) const;
    // Returns buffer `id` to the kernel.
    void give_back(unsigned id);
    // Called for every completion that carries IORING_CQE_F_BUFFER.
    void note_lent() { ++_lent; }

private:
    buffer_ring(unsigned group_id, unsigned count, std::size_t buffer_bytes);

    reactor* _owner = nullptr;
    unsigned _group_id;
    unsigned _count;
    std::size_t _buffer_bytes;
    unsigned _lent = 0;
    io_uring_buf_ring* _ring = nullptr;
    std::size_t _ring_bytes = 0;
    char* _buffers = nullptr;
    std::size_t _buffers_bytes = 0;
    bool _registered = false;
};

// A buffer of a buffer_ring holding a receive's bytes, lent to the caller until
// release() or destruction (both give it back). Held by a coroutine only while it
// runs: across a wait it would keep a buffer from every other connection.
class lent_buffer {
public:
    lent_buffer() = default;
    lent_buffer(const lent_buffer&) = delete;
    lent_buffer& operator=(const lent_buffer&) = delete;
    ~lent_buffer() { release(); }

    explicit operator bool() const { return _ring != nullptr; }
    std::string_view bytes() const { return _bytes; }
    void lend(buffer_ring* ring, unsigned id, std::size_t length) {
        release();
        _ring = ring;
        _id = id;
        _bytes = ring->view(id, length);
    }
    void release() {
        if (_ring) _ring->give_back(_id);
        _ring = nullptr;
        _bytes = {};
    }

private:
    buffer_ring* _ring = nullptr;
    unsigned _id = 0;
    std::string_view _bytes;
};

namespace io {

// recv with IOSQE_BUFFER_SELECT from `buffers`. Result as recv; on data, the buffer
// id is buffer_id() (the caller must give it back).
class recv_selected : public uring_op<recv_selected> {
public:
    recv_selected(int fd, buffer_ring& buffers, std::uint64_t timeout_ms = 0)
        : uring_op(timeout_ms), _fd(fd), _buffers(buffers) {}
    void prepare(io_uring_sqe* s) {
        io_uring_prep_recv(s, _fd, nullptr, _buffers.buffer_bytes(), 0);
        s->flags |= IOSQE_BUFFER_SELECT;
        s->buf_group = static_cast<__u16>(_buffers.group_id());
    }
    bool has_buffer() const { return (cqe_flags() & IORING_CQE_F_BUFFER) != 0; }
    unsigned buffer_id() const { return cqe_flags() >> IORING_CQE_BUFFER_SHIFT; }

private:
    int _fd;
    buffer_ring& _buffers;
};

// Receives once into a buffer of `buffers`, appends the bytes to `out` and gives
// the buffer back. Bytes appended, 0 at EOF, or -errno (-ETIMEDOUT after
// timeout_ms without data; -ENOBUFS only if no buffer came free in that time).
task<int> recv_into(int fd, buffer_ring* buffers, std::string* out, std::uint64_t timeout_ms);
// The same, but the bytes stay in the buffer, lent in *lent (only when n > 0).
task<int> recv_lent(int fd, buffer_ring* buffers, lent_buffer* lent, std::uint64_t timeout_ms);

}  // namespace io

}  // namespace ringmta::runtime
