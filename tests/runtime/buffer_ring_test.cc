// Provided-buffer rings against the real kernel: data arrives in a buffer the
// kernel picked, waiting receives hold none, an exhausted ring answers -ENOBUFS,
// and recv_into() rides that out until buffers come back; recv_lent() lends the
// buffer itself until the caller gives it back.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "ringmta/runtime/buffer_ring.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"

using namespace ringmta::runtime;

namespace {

struct socket_pair {
    int fds[2] = {-1, -1};
    socket_pair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0); }
    ~socket_pair() {
        ::close(fds[0]);
        ::close(fds[1]);
    }
    void send(const std::string& data) const {
        REQUIRE(::write(fds[1], data.data(), data.size()) == ssize_t(data.size()));
    }
};

// The ring, or null with a message on kernels before 5.19 (the case is skipped).
std::unique_ptr<buffer_ring> make_ring(unsigned count, std::size_t bytes) {
    int error = 0;
    auto ring = buffer_ring::create(7, count, bytes, &error);
    if (!ring) MESSAGE("no provided-buffer rings on this kernel: " << error);
    return ring;
}

task<void> receive(int fd, buffer_ring* ring, std::string* out, int* result) {
    task<int> r = io::recv_into(fd, ring, out, 5000);
    *result = co_await std::move(r);
}

task<void> finish(std::size_t* remaining, reactor* r) {
    for (int i = 0; i < 10000 && *remaining > 0; ++i) {
        io::sleep_for pause(1);
        co_await pause;
    }
    r->request_exit();
}

task<void> counted(task<void> inner, std::size_t* remaining) {
    co_await std::move(inner);
    --*remaining;
}

}  // namespace

TEST_CASE("recv_into copies what arrived and gives the buffer back") {
    reactor r(reactor_options{});
    auto ring = make_ring(2, 64);
    if (!ring) return;
    socket_pair p;
    p.send("hello, ring");
    std::string out = "> ";
    int result = 0;
    std::size_t remaining = 1;
    spawn(counted(receive(p.fds[0], ring.get(), &out, &result), &remaining));
    spawn(finish(&remaining, &r));
    r.run();
    CHECK(result == 11);
    CHECK(out == "> hello, ring");
    CHECK(ring->lent() == 0);
}

TEST_CASE("recv_lent lends the kernel's buffer until it is released") {
    reactor r(reactor_options{});
    auto ring = make_ring(2, 64);
    if (!ring) return;
    socket_pair p;
    struct steps {
        static task<void> go(buffer_ring* ring, socket_pair* p, std::vector<std::string>* seen,
                             reactor* r) {
            p->send("first");
            lent_buffer lent;
            task<int> one = io::recv_lent(p->fds[0], ring, &lent, 1000);
            int n = co_await std::move(one);
            seen->push_back(std::to_string(n) + " " + std::string(lent.bytes()) + " lent " +
                            std::to_string(ring->lent()));
            // Lending again gives the first buffer back before it holds the second.
            p->send("second");
            task<int> two = io::recv_lent(p->fds[0], ring, &lent, 1000);
            n = co_await std::move(two);
            seen->push_back(std::to_string(n) + " " + std::string(lent.bytes()) + " lent " +
                            std::to_string(ring->lent()));
            lent.release();
            seen->push_back("released: lent " + std::to_string(ring->lent()) + ", empty " +
                            std::to_string(!lent && lent.bytes().empty()));
            // The end of the stream lends nothing.
            ::shutdown(p->fds[1], SHUT_WR);
            task<int> end = io::recv_lent(p->fds[0], ring, &lent, 1000);
            n = co_await std::move(end);
            seen->push_back("eof " + std::to_string(n) + ", lent " + std::to_string(ring->lent()) +
                            ", holds " + std::to_string(static_cast<bool>(lent)));
            r->request_exit();
        }
    };
    std::vector<std::string> seen;
    spawn(steps::go(ring.get(), &p, &seen, &r));
    r.run();
    CHECK(seen == std::vector<std::string>{"5 first lent 1", "6 second lent 1",
                                           "released: lent 0, empty 1",
                                           "eof 0, lent 0, holds 0"});
}

TEST_CASE("waiting receives hold no buffer; an exhausted ring gives -ENOBUFS") {
    reactor r(reactor_options{});
    auto ring = make_ring(2, 64);
    if (!ring) return;
    socket_pair a, b, c;
    struct steps {
        static task<void> go(buffer_ring* ring, socket_pair* a, socket_pair* b,
                             socket_pair* c, std::vector<int>* results, reactor* r) {
            // Two receives take both buffers and keep them (no give_back yet).
            a->send("A");
            b->send("B");
            io::recv_selected first(a->fds[0], *ring);
            results->push_back(co_await first);
            io::recv_selected second(b->fds[0], *ring);
            results->push_back(co_await second);
            for (auto* op : {&first, &second}) {
                if (op->has_buffer()) ring->note_lent();
            }
            results->push_back(static_cast<int>(ring->lent()));
            c->send("C");
            io::recv_selected third(c->fds[0], *ring);
            results->push_back(co_await third);
            ring->give_back(first.buffer_id());
            ring->give_back(second.buffer_id());
            std::string out;
            task<int> again = io::recv_into(c->fds[0], ring, &out, 1000);
            results->push_back(co_await std::move(again));
            results->push_back(out == "C");
            r->request_exit();
        }
    };
    std::vector<int> results;
    spawn(steps::go(ring.get(), &a, &b, &c, &results, &r));
    r.run();
    CHECK(results == std::vector<int>{1, 1, 2, -ENOBUFS, 1, 1});
    CHECK(ring->lent() == 0);
}

TEST_CASE("200 waiting receives share 4 buffers; all data arrives exactly") {
    reactor r(reactor_options{});
    auto ring = make_ring(4, 256);
    if (!ring) return;
    constexpr std::size_t sessions = 200;
    std::vector<socket_pair> pairs(sessions);
    std::vector<std::string> got(sessions);
    std::vector<int> results(sessions, 0);
    std::size_t remaining = sessions;
    for (std::size_t i = 0; i < sessions; ++i) {
        spawn(counted(receive(pairs[i].fds[0], ring.get(), &got[i], &results[i]), &remaining));
    }
    struct steps {
        static task<void> go(std::vector<socket_pair>* pairs, buffer_ring* ring,
                             unsigned* lent_while_idle) {
            io::sleep_for pause(20);
            co_await pause;
            *lent_while_idle = ring->lent();
            for (std::size_t i = 0; i < pairs->size(); ++i) {
                (*pairs)[i].send("session " + std::to_string(i));
            }
        }
    };
    unsigned lent_while_idle = 99;
    spawn(steps::go(&pairs, ring.get(), &lent_while_idle));
    spawn(finish(&remaining, &r));
    r.run();
    CHECK(lent_while_idle == 0);
    CHECK(remaining == 0);
    for (std::size_t i = 0; i < sessions; ++i) {
        CAPTURE(i);
        CHECK(got[i] == "session " + std::to_string(i));
    }
    CHECK(ring->lent() == 0);
}
