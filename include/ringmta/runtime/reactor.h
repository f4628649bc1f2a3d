// reactor: one io_uring per shard thread and the loop that drives it.
//
// Contract: a reactor is created, used and destroyed on one thread (its shard).
// Each loop turn (1) resumes the coroutines made ready by the previous turn,
// (2) runs the turn hooks (the journal's group commit batches its appends here),
// (3) submits every queued SQE and waits for at least one completion when nothing
// is ready, (4) reaps all CQEs, turning them into ready coroutines. Coroutines are
// never resumed from inside CQE reaping.
//
// user_data is a tagged pointer (low 3 bits) to state that outlives its operation:
//   completion  - a single-shot op awaited by one coroutine
//   handler     - an object that takes CQEs itself (multishot accept, timers)
//   ignore      - CQEs nobody needs (linked timeouts, close, msg_ring echoes)
//   wake        - a cross-shard wake-up (MSG_RING from another ring, or eventfd)
//   deadline    - the reactor's deadline timer (see watch_deadline)
//
// Deadlines: an operation with a timeout is not given an IORING_OP_LINK_TIMEOUT
// (a second SQE, a kernel hrtimer armed and cancelled, and a second CQE for every
// receive and send). It is linked into the reactor's deadline list instead, and
// one absolute IORING_OP_TIMEOUT per reactor fires at the earliest deadline; the
// operations found past their deadline then are cancelled with
// IORING_OP_ASYNC_CANCEL and complete with -ECANCELED (and timed_out set).
#pragma once

#include <liburing.h>

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <string>
#include <vector>

namespace ringmta::runtime {

// The state of one single-shot operation; lives in the awaiting coroutine frame.
// With a deadline it is also linked into its reactor's deadline list while in flight.
struct completion {
    std::coroutine_handle<> waiter;
    int result = 0;
    std::uint32_t flags = 0;
    bool timed_out = false;        // the reactor cancelled it at its deadline
    std::uint64_t deadline_ms = 0; // monotonic; 0: not in the deadline list
    completion* deadline_prev = nullptr;
    completion* deadline_next = nullptr;
};

// An object that consumes its own CQEs (multishot operations, timers).
class cqe_handler {
public:
    virtual void handle_cqe(int result, std::uint32_t flags) = 0;

protected:
    ~cqe_handler() = default;
};

// Called once per loop turn before the reactor submits and waits.
class turn_hook {
public:
    virtual void before_wait() = 0;

protected:
    ~turn_hook() = default;
};

// Called on the shard after another thread woke it (channels, stop requests).
class wake_listener {
public:
    virtual void on_wake() = 0;

protected:
    ~wake_listener() = default;
};

enum class user_data_tag : std::uint64_t {
    completion = 0, handler = 1, ignore = 2, wake = 3, deadline = 4
};

inline std::uint64_t tag_pointer(const void* p, user_data_tag tag) {
    return reinterpret_cast<std::uint64_t>(p) | static_cast<std::uint64_t>(tag);
}

// user_data for a cqe_handler. Taking cqe_handler* (not void*) makes the compiler
// adjust the pointer to the cqe_handler base of a class with several bases, which
// is the address the reactor casts back to.
inline std::uint64_t handler_data(cqe_handler* handler) {
    return tag_pointer(handler, user_data_tag::handler);
}

struct reactor_options {
    unsigned shard = 0;
    unsigned entries = 4096;           // SQ size; CQ is twice that
};

class reactor {
public:
    explicit reactor(const reactor_options& options);
    ~reactor();
    reactor(const reactor&) = delete;
    reactor& operator=(const reactor&) = delete;

    // The reactor of the calling thread; asserts that there is one.
    static reactor& current();
    static reactor* current_or_null();

    unsigned shard() const { return _shard; }
    io_uring* ring() { return &_ring; }
    int ring_fd() const { return _ring.ring_fd; }
    // How the ring was set up, for the start-up log ("defer_taskrun", "coop_taskrun", "plain").
    const std::string& setup_mode() const { return _setup_mode; }

    // One SQE, with room guaranteed for `count - 1` more io_uring_get_sqe() calls
    // before the next submit, so a linked chain never straddles a submit. Never null.
    io_uring_sqe* sqes(unsigned count);
    io_uring_sqe* sqe() { return sqes(1); }

    void schedule(std::coroutine_handle<> h) { _ready.push_back(h); }

    // Runs until request_exit() and every ready coroutine has run.
    void run();
    void request_exit() { _exit = true; }

    void add_turn_hook(turn_hook* hook) { _turn_hooks.push_back(hook); }
    void remove_turn_hook(turn_hook* hook) { std::erase(_turn_hooks, hook); }
    void add_wake_listener(wake_listener* listener) { _wake_listeners.push_back(listener); }
    void remove_wake_listener(wake_listener* listener) { std::erase(_wake_listeners, listener); }

    // Wakes `target` (any shard, possibly this one) from this shard's thread:
    // a MSG_RING SQE on this ring when the kernel has it, else an eventfd write.
    // Wake-ups coalesce: one pending wake per target.
    void wake(reactor& target);
    // Wakes this reactor from any thread (signal handling, start-up): eventfd write.
    void wake_from_any_thread();

    // Watches the operation whose SQE (user_data: `c` with the completion tag) was
    // just queued: if it is still in flight `timeout_ms` (> 0) after the start of
    // this loop turn, it is cancelled (IORING_OP_ASYNC_CANCEL): it completes with
    // -ECANCELED, or -EINTR if it was blocking in an io-wq worker, and c->timed_out
    // is set. Its CQE takes it out of the list; unwatch_deadline() does so earlier.
    void watch_deadline(completion* c, std::uint64_t timeout_ms);
    void unwatch_deadline(completion* c);  // no-op when `c` is not watched
    // Makes the loop turn (and the turn hooks run) by `deadline_ms` (monotonic) even
    // if nothing completes: for a turn hook that put work off until then (the
    // journal's commit delay). A hook still waiting asks again on its next turn.
    void wake_by(std::uint64_t deadline_ms);
    std::size_t deadlines_watched() const { return _deadlines_watched; }

    // Monotonic milliseconds, read once per loop turn.
    std::uint64_t now_ms() const { return _now_ms; }
    std::uint64_t refresh_now_ms();

    void task_started() { ++_tasks_live; }
    void task_finished() { --_tasks_live; }
    std::size_t tasks_live() const { return _tasks_live; }

private:
    void setup_ring(unsigned entries);
    void arm_eventfd_read();
    void reap();
    void run_ready();
    void dispatch_wake();
    void arm_deadline_timer(std::uint64_t deadline_ms);
    void expire_deadlines();

    io_uring _ring{};
    unsigned _shard;
    std::string _setup_mode;
    bool _msg_ring_supported = false;
    int _event_fd = -1;
    std::uint64_t _event_value = 0;
    std::atomic<bool> _wake_pending{false};
    bool _wake_seen = false;
    bool _exit = false;
    std::uint64_t _now_ms = 0;
    std::size_t _tasks_live = 0;
    std::vector<std::coroutine_handle<>> _ready;
    std::vector<std::coroutine_handle<>> _running;
    std::vector<turn_hook*> _turn_hooks;
    std::vector<wake_listener*> _wake_listeners;
    // Deadline list (intrusive, circular, this sentinel; oldest first) and the one
    // IORING_OP_TIMEOUT that fires at its earliest deadline.
    completion _deadlines;
    std::size_t _deadlines_watched = 0;
    bool _deadline_timer_armed = false;
    std::uint64_t _deadline_timer_ms = 0;
    std::uint64_t _wake_by_ms = 0;        // wake_by(); 0: none
    __kernel_timespec _deadline_timer_when{};
};

std::uint64_t monotonic_ms();
std::uint64_t monotonic_ns();   // the same clock, for measuring short intervals
std::uint64_t unix_ms();

}  // namespace ringmta::runtime
