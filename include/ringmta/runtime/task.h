// task<T>: a lazily started C++20 coroutine that resumes its awaiter by symmetric
// transfer when it finishes. spawn() runs a task<void> detached on the current
// shard's reactor, which counts it so shutdown can wait for every task to end.
// Exceptions never cross a coroutine boundary: one escaping is a bug (assert).
#pragma once

#include <coroutine>
#include <optional>
#include <utility>

#include "ringmta/runtime/assert.h"

namespace ringmta::runtime {

template <typename T = void>
class task;

namespace detail {

struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <typename Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) noexcept {
        std::coroutine_handle<> next = h.promise()._continuation;
        return next ? next : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
};

struct promise_base {
    std::coroutine_handle<> _continuation;
    std::suspend_always initial_suspend() const noexcept { return {}; }
    final_awaiter final_suspend() const noexcept { return {}; }
    void unhandled_exception() const noexcept {
        RINGMTA_ASSERT(false, "an exception escaped a coroutine");
    }
};

template <typename Promise>
struct task_awaiter {
    std::coroutine_handle<Promise> _handle;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
        _handle.promise()._continuation = awaiting;
        return _handle;
    }
};

}  // namespace detail

template <typename T>
class [[nodiscard]] task {
public:
    struct promise_type : detail::promise_base {
        std::optional<T> _value;
        task get_return_object() noexcept {
            return task(std::coroutine_handle<promise_type>::from_promise(*this));
        }
        template <typename U>
        void return_value(U&& value) { _value.emplace(std::forward<U>(value)); }
    };

    task(task&& other) noexcept : _handle(std::exchange(other._handle, {})) {}
    task& operator=(task&& other) noexcept {
        if (this != &other) {
            reset();
            _handle = std::exchange(other._handle, {});
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() { reset(); }

    auto operator co_await() && noexcept {
        struct awaiter : detail::task_awaiter<promise_type> {
            T await_resume() {
                RINGMTA_ASSERT(this->_handle.promise()._value, "task finished without a value");
                return std::move(*this->_handle.promise()._value);
            }
        };
        return awaiter{{_handle}};
    }

private:
    explicit task(std::coroutine_handle<promise_type> h) noexcept : _handle(h) {}
    void reset() {
        if (_handle) _handle.destroy();
        _handle = {};
    }
    std::coroutine_handle<promise_type> _handle;
};

template <>
class [[nodiscard]] task<void> {
public:
    struct promise_type : detail::promise_base {
        task get_return_object() noexcept {
            return task(std::coroutine_handle<promise_type>::from_promise(*this));
        }
        void return_void() const noexcept {}
    };

    task(task&& other) noexcept : _handle(std::exchange(other._handle, {})) {}
    task& operator=(task&& other) noexcept {
        if (this != &other) {
            if (_handle) _handle.destroy();
            _handle = std::exchange(other._handle, {});
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() {
        if (_handle) _handle.destroy();
    }

    auto operator co_await() && noexcept {
        struct awaiter : detail::task_awaiter<promise_type> {
            void await_resume() const noexcept {}
        };
        return awaiter{{_handle}};
    }

private:
    explicit task(std::coroutine_handle<promise_type> h) noexcept : _handle(h) {}
    std::coroutine_handle<promise_type> _handle;
};

// Runs `t` to completion without an awaiter, on the calling shard's reactor.
// The reactor counts live spawned tasks (reactor::tasks_live()).
void spawn(task<void> t);

}  // namespace ringmta::runtime
