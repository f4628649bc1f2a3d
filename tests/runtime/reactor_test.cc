// Runtime tests against the real kernel: sockets, files, timers and threads.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "ringmta/runtime/acceptor.h"
#include "ringmta/runtime/net.h"
#include "ringmta/runtime/notifier.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"

using namespace ringmta::runtime;

namespace {

// Runs `t` on a fresh reactor on this thread until it finishes.
template <typename Make>
void run_test(Make make) {
    reactor r(reactor_options{});
    struct runner {
        static task<void> go(task<void> inner, reactor* r) {
            co_await std::move(inner);
            r->request_exit();
        }
    };
    spawn(runner::go(make(), &r));
    r.run();
    CHECK(r.tasks_live() == 0);
}

task<int> add_later(int a, int b) {
    io::sleep_for pause(1);
    co_await pause;
    co_return a + b;
}

task<void> chain(int* out) {
    int x = co_await add_later(1, 2);
    int y = co_await add_later(x, 10);
    *out = y;
}

}  // namespace

TEST_CASE("tasks chain values through awaits across ring completions") {
    int result = 0;
    run_test([&] { return chain(&result); });
    CHECK(result == 13);
}

namespace {

task<void> read_all(int fd, std::string* got, notifier* done) {
    char buffer[4096];
    for (int i = 0; i < 100000; ++i) {
        io::recv op(fd, buffer, sizeof(buffer), 2000);
        int n = co_await op;
        if (n <= 0) break;
        got->append(buffer, n);
    }
    done->notify();
}

task<void> write_then_wait(int a, int b, std::string* got) {
    notifier done;
    spawn(read_all(b, got, &done));
    std::string message(100000, 'x');
    for (std::size_t i = 0; i < message.size(); ++i) message[i] = char('a' + i % 26);
    int sent = co_await io::send_all(a, message, 2000);
    CHECK(sent == 0);
    ::shutdown(a, SHUT_WR);
    co_await done.wait();
}

// A connected pair whose first end has a 4 KiB send buffer, so that a large send
// is cut into many short writes (some ending inside an iovec piece).
void pair_with_small_send_buffer(int fds[2]) {
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    int small = 4096;
    setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
}

}  // namespace

TEST_CASE("send_all delivers everything across short writes while a reader drains") {
    int fds[2];
    pair_with_small_send_buffer(fds);
    std::string got;
    run_test([&] { return write_then_wait(fds[0], fds[1], &got); });
    CHECK(got.size() == 100000);
    CHECK(got[26] == 'a');
    CHECK(got[99999] == char('a' + 99999 % 26));
    close(fds[0]);
    close(fds[1]);
}

namespace {

// 1,500 pieces (more than IOV_MAX at once), some empty, of different lengths.
task<void> write_pieces_then_wait(int a, int b, std::string* want, std::string* got) {
    notifier done;
    spawn(read_all(b, got, &done));
    std::vector<std::string> pieces;
    for (int i = 0; i < 1500; ++i) {
        pieces.emplace_back(std::size_t(i % 7 == 0 ? 0 : 1 + (i * 37) % 200), char('a' + i % 26));
        *want += pieces.back();
    }
    std::vector<iovec> parts;
    for (std::string& p : pieces) parts.push_back({p.data(), p.size()});
    int sent = co_await io::send_all(a, std::span<iovec>(parts), 2000);
    CHECK(sent == 0);
    ::shutdown(a, SHUT_WR);
    co_await done.wait();
}

}  // namespace

TEST_CASE("send_all of pieces sends them in order across short writes and IOV_MAX") {
    int fds[2];
    pair_with_small_send_buffer(fds);
    std::string want, got;
    run_test([&] { return write_pieces_then_wait(fds[0], fds[1], &want, &got); });
    CHECK(want.size() > 100000);
    CHECK(got == want);
    close(fds[0]);
    close(fds[1]);
}

namespace {

task<void> recv_times_out(int fd, int* result) {
    char c;
    io::recv op(fd, &c, 1, 50);
    *result = co_await op;
}

}  // namespace

TEST_CASE("recv with a deadline completes with -ETIMEDOUT when the peer is silent") {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    int result = 0;
    std::uint64_t start = monotonic_ms();
    run_test([&] { return recv_times_out(fds[1], &result); });
    CHECK(result == -ETIMEDOUT);
    CHECK(monotonic_ms() - start >= 40);
    close(fds[0]);
    close(fds[1]);
}

namespace {

struct timed_recv {
    int result = 0;
    std::uint64_t done_ms = 0;
    notifier done;
};

task<void> recv_one(int fd, std::uint64_t timeout_ms, timed_recv* out) {
    char c;
    io::recv op(fd, &c, 1, timeout_ms);
    out->result = co_await op;
    out->done_ms = monotonic_ms();
    out->done.notify();
}

// A long deadline is watched first, then a short one: the reactor's one timer
// must move earlier for the short one, and the long one still gets its data.
task<void> short_after_long(int long_fd, int long_peer, int short_fd, timed_recv* r) {
    spawn(recv_one(long_fd, 5000, &r[0]));
    spawn(recv_one(short_fd, 50, &r[1]));
    CHECK(reactor::current().deadlines_watched() == 2);
    co_await r[1].done.wait();
    CHECK(reactor::current().deadlines_watched() == 1);
    CHECK(::write(long_peer, "x", 1) == 1);
    co_await r[0].done.wait();
    CHECK(reactor::current().deadlines_watched() == 0);
}

// 1000 receives that get their byte at once leave the list empty, none times
// out; then a receive whose deadline is later than the timer's (armed for the
// first of those) still expires: the timer fires, finds nothing due, re-arms.
task<void> completed_then_later(int a, int b, timed_recv* r) {
    for (int i = 0; i < 1000; ++i) {
        CHECK(::write(a, "y", 1) == 1);
        char c = 0;
        io::recv op(b, &c, 1, 150);
        int n = co_await op;
        REQUIRE(n == 1);
    }
    CHECK(reactor::current().deadlines_watched() == 0);
    spawn(recv_one(b, 400, &r[0]));
    co_await r[0].done.wait();
}

}  // namespace

TEST_CASE("a shorter deadline queued after a longer one expires first") {
    int p[2], q[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, q) == 0);
    timed_recv r[2];
    std::uint64_t start = monotonic_ms();
    run_test([&] { return short_after_long(p[1], p[0], q[1], r); });
    CHECK(r[1].result == -ETIMEDOUT);
    CHECK(r[1].done_ms - start >= 40);
    CHECK(r[1].done_ms - start < 2000);
    CHECK(r[0].result == 1);
    for (int fd : {p[0], p[1], q[0], q[1]}) close(fd);
}

TEST_CASE("completed operations leave the deadline list and a later deadline still fires") {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    timed_recv r[1];
    std::uint64_t start = 0;
    run_test([&] {
        start = monotonic_ms();
        return completed_then_later(fds[0], fds[1], r);
    });
    CHECK(r[0].result == -ETIMEDOUT);
    CHECK(r[0].done_ms - start >= 390);
    close(fds[0]);
    close(fds[1]);
}

namespace {

task<void> accept_and_connect(std::vector<int>* accepted) {
    socket_address address;
    REQUIRE(parse_socket_address("127.0.0.1:0", address));
    int listen_fd = listen_tcp(address, 64);
    REQUIRE(listen_fd >= 0);
    socket_address bound = local_address(listen_fd);
    acceptor a(listen_fd);
    a.start();
    std::vector<int> clients;
    for (int i = 0; i < 5; ++i) {
        int fd = connect_socket(AF_INET);
        io::connect op(fd, bound.get(), bound.length, 1000);
        int rc = co_await op;
        CHECK(rc == 0);
        clients.push_back(fd);
    }
    for (int i = 0; i < 5; ++i) {
        int fd = co_await a.next();
        CHECK(fd >= 0);
        accepted->push_back(fd);
    }
    a.stop();
    int after = co_await a.next();
    CHECK(after == -ECANCELED);
    io::sleep_for settle(10);  // let the cancellation CQE arrive before `a` goes away
    co_await settle;
    CHECK(a.drained());
    for (int fd : clients) close(fd);
    for (int fd : *accepted) close(fd);
    close(listen_fd);
}

}  // namespace

TEST_CASE("multishot accept yields every connection, and stop() ends it") {
    std::vector<int> accepted;
    run_test([&] { return accept_and_connect(&accepted); });
    CHECK(accepted.size() == 5);
}

namespace {

task<void> connect_refused(int* result) {
    socket_address address;
    REQUIRE(parse_socket_address("127.0.0.1:1", address));  // nothing listens on port 1
    int fd = connect_socket(AF_INET);
    io::connect op(fd, address.get(), address.length, 1000);
    *result = co_await op;
    close(fd);
}

}  // namespace

TEST_CASE("connect to a closed port reports ECONNREFUSED as a value") {
    int result = 0;
    run_test([&] { return connect_refused(&result); });
    CHECK(result == -ECONNREFUSED);
}

namespace {

task<void> file_round_trip(const char* path, std::string* back) {
    int fd = ::open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    std::string data(10000, 'q');
    data[0] = 'A';
    data[9999] = 'Z';
    CHECK(co_await io::write_fully(fd, data, 4096) == 0);
    io::fdatasync sync(fd);
    CHECK(co_await sync == 0);
    back->resize(data.size());
    long n = co_await io::read_fully(fd, back->data(), back->size(), 4096);
    CHECK(n == 10000);
    long past = co_await io::read_fully(fd, back->data(), 10, 1 << 20);
    CHECK(past == 0);
    close(fd);
}

}  // namespace

TEST_CASE("file write, fdatasync and read at offsets go through the ring") {
    char path[] = "/tmp/ringmta-runtime-XXXXXX";
    int tmp = mkstemp(path);
    REQUIRE(tmp >= 0);
    close(tmp);
    std::string back;
    run_test([&] { return file_round_trip(path, &back); });
    CHECK(back.size() == 10000);
    CHECK(back.front() == 'A');
    CHECK(back.back() == 'Z');
    unlink(path);
}

namespace {

struct timer_state {
    notifier woken;
    timer t{woken};
};

task<void> timer_moves(timer_state* s, std::uint64_t* elapsed) {
    std::uint64_t start = monotonic_ms();
    s->t.arm_at(start + 5000);
    s->t.arm_at(start + 30);  // moved earlier while in flight
    co_await s->woken.wait();
    *elapsed = monotonic_ms() - start;
    s->t.arm_at(monotonic_ms() + 20);
    co_await s->woken.wait();
    // Disarmed: an in-flight expiry must not notify.
    s->t.arm_at(monotonic_ms() + 10);
    s->t.disarm();
    io::sleep_for wait(40);
    co_await wait;
    CHECK_FALSE(s->t.in_flight());
}

}  // namespace

TEST_CASE("timer fires at the earliest deadline, re-arms, and disarm suppresses it") {
    timer_state s;
    std::uint64_t elapsed = 0;
    run_test([&] { return timer_moves(&s, &elapsed); });
    CHECK(elapsed >= 25);
    CHECK(elapsed < 2000);
}

TEST_CASE("notifier remembers a notify that comes before the wait") {
    notifier n;
    bool done = false;
    struct body {
        static task<void> go(notifier* n, bool* done) {
            n->notify();
            co_await n->wait();  // must not suspend
            *done = true;
        }
    };
    run_test([&] { return body::go(&n, &done); });
    CHECK(done);
}
