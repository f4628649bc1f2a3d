// The shard loop: ring set-up with the best flags this kernel has, CQE dispatch
// by user_data tag, and the resume-after-reap discipline described in reactor.h.
#include "ringmta/runtime/reactor.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "ringmta/runtime/assert.h"
#include "ringmta/runtime/log.h"
#include "ringmta/runtime/task.h"

namespace ringmta::runtime {

namespace {

thread_local reactor* current_reactor = nullptr;

// The wake CQE posted by MSG_RING carries this value so it is told apart from
// the eventfd read, which uses the reactor's own address with the wake tag.
constexpr std::uint64_t msg_ring_wake = static_cast<std::uint64_t>(user_data_tag::wake);

}  // namespace

std::uint64_t monotonic_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::uint64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t unix_ms() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

reactor::reactor(const reactor_options& options) : _shard(options.shard) {
    RINGMTA_ASSERT(current_reactor == nullptr, "a thread may own only one reactor");
    setup_ring(options.entries);
    _event_fd = eventfd(0, EFD_CLOEXEC);
    RINGMTA_ASSERT(_event_fd >= 0, "eventfd: %s", std::strerror(errno));
    io_uring_probe* probe = io_uring_get_probe_ring(&_ring);
    _msg_ring_supported = probe && io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
    if (probe) io_uring_free_probe(probe);
    current_reactor = this;
    _now_ms = monotonic_ms();
    _deadlines.deadline_prev = &_deadlines;
    _deadlines.deadline_next = &_deadlines;
    _ready.reserve(1024);
    _running.reserve(1024);
    arm_eventfd_read();
}

reactor::~reactor() {
    io_uring_queue_exit(&_ring);
    close(_event_fd);
    current_reactor = nullptr;
}

reactor& reactor::current() {
    RINGMTA_ASSERT(current_reactor != nullptr, "no reactor on this thread");
    return *current_reactor;
}

reactor* reactor::current_or_null() { return current_reactor; }

void reactor::setup_ring(unsigned entries) {
    // SINGLE_ISSUER: only this shard's thread submits, which lets the kernel skip
    // locking. DEFER_TASKRUN: completions run when we ask for them (in
    // submit_and_wait), not by interrupting the thread. TASKRUN_FLAG makes the kernel
    // flag pending work in the SQ ring so liburing enters to fetch it even when we
    // do not wait. Kernels before 6.1 lack DEFER_TASKRUN; 5.19 has COOP_TASKRUN.
    struct attempt {
        unsigned flags;
        const char* mode;
    };
    const attempt attempts[] = {
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
         "single_issuer+defer_taskrun"},
        {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, "coop_taskrun"},
        {0, "plain"},
    };
    int last_error = 0;
    for (const attempt& a : attempts) {
        io_uring_params params{};
        params.flags = a.flags | IORING_SETUP_CQSIZE;
        params.cq_entries = entries * 2;
        last_error = io_uring_queue_init_params(entries, &_ring, &params);
        if (last_error == 0) {
            _setup_mode = a.mode;
            if (a.flags != attempts[0].flags) {
                log_warn("shard %u: kernel lacks SINGLE_ISSUER/DEFER_TASKRUN; ring runs in "
                         "%s mode (slower). Linux 6.1 or later is recommended.",
                         _shard, a.mode);
            }
            return;
        }
    }
    RINGMTA_ASSERT(false, "io_uring_queue_init failed: %s (is io_uring disabled by "
                   "kernel.io_uring_disabled or a seccomp policy?)", std::strerror(-last_error));
}

io_uring_sqe* reactor::sqes(unsigned count) {
    RINGMTA_ASSERT(count > 0 && count <= 8, "sqes(%u)", count);
    if (io_uring_sq_space_left(&_ring) < count) {
        int submitted = io_uring_submit(&_ring);
        RINGMTA_ASSERT(submitted >= 0 || submitted == -EBUSY || submitted == -EAGAIN,
                       "io_uring_submit: %s", std::strerror(-submitted));
    }
    // After a submit the whole SQ is free again (the kernel consumed the entries).
    RINGMTA_ASSERT(io_uring_sq_space_left(&_ring) >= count, "SQ still full after submit");
    return io_uring_get_sqe(&_ring);
}

void reactor::arm_eventfd_read() {
    io_uring_sqe* s = sqe();
    io_uring_prep_read(s, _event_fd, &_event_value, sizeof(_event_value), 0);
    io_uring_sqe_set_data64(s, tag_pointer(this, user_data_tag::wake));
}

void reactor::wake(reactor& target) {
    if (target._wake_pending.exchange(true)) return;  // one is on its way already
    if (_msg_ring_supported) {
        io_uring_sqe* s = sqe();
        io_uring_prep_msg_ring(s, target.ring_fd(), 0, msg_ring_wake, 0);
        io_uring_sqe_set_data64(s, tag_pointer(nullptr, user_data_tag::ignore));
        return;
    }
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(target._event_fd, &one, sizeof(one));
}

void reactor::wake_from_any_thread() {
    _wake_pending.store(true);
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(_event_fd, &one, sizeof(one));
}

std::uint64_t reactor::refresh_now_ms() {
    _now_ms = monotonic_ms();
    return _now_ms;
}

void reactor::reap() {
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&_ring, head, cqe) {
        ++seen;
        std::uint64_t data = io_uring_cqe_get_data64(cqe);
        auto tag = static_cast<user_data_tag>(data & 7);
        void* p = reinterpret_cast<void*>(data & ~std::uint64_t{7});
        switch (tag) {
        case user_data_tag::completion: {
            auto* c = static_cast<completion*>(p);
            c->result = cqe->res;
            c->flags = cqe->flags;
            if (c->deadline_ms != 0) unwatch_deadline(c);
            _ready.push_back(c->waiter);
            break;
        }
        case user_data_tag::handler:
            static_cast<cqe_handler*>(p)->handle_cqe(cqe->res, cqe->flags);
            break;
        case user_data_tag::ignore:
            break;
        case user_data_tag::wake:
            _wake_seen = true;
            if (p == this) arm_eventfd_read();
            break;
        case user_data_tag::deadline:
            _deadline_timer_armed = false;
            expire_deadlines();
            break;
        default:
            RINGMTA_ASSERT(false, "bad user_data tag %llu", (unsigned long long)data);
        }
    }
    io_uring_cq_advance(&_ring, seen);
}

void reactor::dispatch_wake() {
    // Clear before draining: a producer that pushes after this point sends a new wake.
    _wake_pending.store(false);
    for (wake_listener* l : _wake_listeners) l->on_wake();
}

void reactor::run_ready() {
    // Resume only what was ready at the start of the turn; coroutines made ready
    // while these run wait for the next turn, so I/O completions are not starved.
    _running.swap(_ready);
    for (std::coroutine_handle<> h : _running) h.resume();
    _running.clear();
}

void reactor::run() {
    while (!_exit || !_ready.empty()) {
        refresh_now_ms();
        if (_wake_seen) {
            _wake_seen = false;
            dispatch_wake();
        }
        run_ready();
        for (turn_hook* hook : _turn_hooks) hook->before_wait();
        if (_exit && _ready.empty()) break;
        unsigned wait_count = (_ready.empty() && !_wake_seen) ? 1 : 0;
        int r = io_uring_submit_and_wait(&_ring, wait_count);
        RINGMTA_ASSERT(r >= 0 || r == -EINTR || r == -EBUSY || r == -EAGAIN || r == -ETIME,
                       "io_uring_submit_and_wait: %s", std::strerror(-r));
        reap();
    }
    // Hand the last queued SQEs (closes, final writes) to the kernel.
    io_uring_submit(&_ring);
}

namespace {

struct detached {
    struct promise_type {
        detached get_return_object() const noexcept { return {}; }
        std::suspend_never initial_suspend() const noexcept { return {}; }
        std::suspend_never final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        void unhandled_exception() const noexcept {
            RINGMTA_ASSERT(false, "an exception escaped a spawned task");
        }
    };
};

detached run_detached(task<void> t, reactor* owner) {
    co_await std::move(t);
    owner->task_finished();
}

}  // namespace

void spawn(task<void> t) {
    reactor& r = reactor::current();
    r.task_started();
    run_detached(std::move(t), &r);
}

}  // namespace ringmta::runtime
