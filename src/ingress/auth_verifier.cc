// AUTH verification off the reactor thread (see auth_verifier.h).
#include "ringmta/ingress/auth_verifier.h"

#include <wolfssl/options.h>  // must precede every other wolfSSL header
#include <wolfssl/wolfcrypt/hmac.h>

#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>

#include "ringmta/ingress/password_hash.h"
#include "ringmta/runtime/assert.h"
#include "ringmta/runtime/log.h"

namespace ringmta::ingress {

namespace {

std::size_t ring_capacity(std::size_t in_flight_max) {
    return std::bit_ceil(std::max<std::size_t>(in_flight_max, 2));
}

void wipe(std::string& secret) {
    explicit_bzero(secret.data(), secret.size());
    secret.clear();
}

}  // namespace

// Suspends the verifying session until the worker has handed its job back.
struct auth_verifier::job_awaiter {
    auth_verifier* verifier;
    job* work;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> waiter) {
        work->waiter = waiter;
        // verify() checked _in_flight against _in_flight_max <= the ring's capacity.
        RINGMTA_ASSERT(verifier->_jobs.try_push(std::move(work)), "auth job ring full");
        verifier->_work_ready.release();
    }
    void await_resume() const noexcept {}
};

auth_verifier::auth_verifier(std::size_t in_flight_max)
    : _in_flight_max(in_flight_max),
      _jobs(ring_capacity(in_flight_max)),
      _done(ring_capacity(in_flight_max)) {
    RINGMTA_ASSERT(in_flight_max >= 1, "auth_verifier needs in_flight_max >= 1");
    std::size_t filled = 0;
    while (filled < _cache_key.size()) {
        ssize_t n = ::getrandom(_cache_key.data() + filled, _cache_key.size() - filled, 0);
        RINGMTA_ASSERT(n > 0 || errno == EINTR, "getrandom: %s", std::strerror(errno));
        if (n > 0) filled += static_cast<std::size_t>(n);
    }
}

auth_verifier::~auth_verifier() {
    if (_worker.joinable()) {
        _stopping.store(true, std::memory_order_release);
        _work_ready.release();
        _worker.join();
    }
    if (_event_fd >= 0) ::close(_event_fd);
    explicit_bzero(_cache_key.data(), _cache_key.size());
}

void auth_verifier::set_users(std::unique_ptr<auth_users> users) {
    _users = std::move(users);
    ++_users_generation;
    _cache.clear();
}

void auth_verifier::start() {
    RINGMTA_ASSERT(!_started, "auth_verifier started twice");
    _started = true;
    _event_fd = ::eventfd(0, EFD_CLOEXEC);
    RINGMTA_ASSERT(_event_fd >= 0, "eventfd: %s", std::strerror(errno));
    unsigned shard = runtime::reactor::current().shard();
    _worker = std::thread([this, shard] {
        char name[16];
        std::snprintf(name, sizeof(name), "ringmta-auth-%u", shard);
        pthread_setname_np(pthread_self(), name);
        work();
    });
    arm_read();
}

void auth_verifier::stop() {
    if (!_started || _stopped) return;
    _stopped = true;
    _stopping.store(true, std::memory_order_release);
    _work_ready.release();
    _worker.join();  // at most the one verification in progress (~0.1 s)
    drain_done();    // jobs the worker dropped resume now, as unavailable
}

// The worker thread: one job per semaphore unit; on stop, hands back what is left.
void auth_verifier::work() {
    for (;;) {
        _work_ready.acquire();
        job* next = nullptr;
        if (_stopping.load(std::memory_order_acquire)) {
            while (_jobs.try_pop(next)) RINGMTA_ASSERT(_done.try_push(std::move(next)), "done");
            return;
        }
        if (!_jobs.try_pop(next)) continue;
        next->matched = verify_password(next->password, next->encoded);
        next->ran = true;
        // Never full: at most in_flight_max jobs exist, the ring holds that many.
        RINGMTA_ASSERT(_done.try_push(std::move(next)), "auth done ring full");
        std::uint64_t one = 1;
        [[maybe_unused]] ssize_t w = ::write(_event_fd, &one, sizeof(one));
    }
}

void auth_verifier::arm_read() {
    io_uring_sqe* s = runtime::reactor::current().sqe();
    io_uring_prep_read(s, _event_fd, &_event_value, sizeof(_event_value), 0);
    io_uring_sqe_set_data64(s, runtime::handler_data(this));
}

void auth_verifier::handle_cqe(int result, std::uint32_t) {
    drain_done();
    if (result >= 0 && !_stopped) arm_read();
}

void auth_verifier::drain_done() {
    job* finished = nullptr;
    while (_done.try_pop(finished)) runtime::reactor::current().schedule(finished->waiter);
}

runtime::task<smtp::auth_result> auth_verifier::verify(smtp::auth_credentials credentials) {
    using smtp::auth_result;
    if (!_users || _stopped || !_started) co_return auth_result::unavailable;
    const std::string* known = _users->find(credentials.user);
    bool proxy = !credentials.authzid.empty() && credentials.authzid != credentials.user;
    if (known && !proxy && cache_matches(credentials.user, credentials.password)) {
        ++_stats.cache_hits;
        ++_stats.succeeded;
        wipe(credentials.password);
        co_return auth_result::success;
    }
    if (_in_flight >= _in_flight_max) {
        ++_stats.refused_busy;
        wipe(credentials.password);
        co_return auth_result::unavailable;
    }
    job j;
    j.password = std::move(credentials.password);
    j.encoded = known ? *known : _users->decoy_hash();
    const std::uint64_t generation = _users_generation;
    bool matched = false;
    if (!j.encoded.empty()) {
        ++_in_flight;
        job_awaiter done{this, &j};
        co_await done;
        --_in_flight;
        if (!j.ran || generation != _users_generation) {
            wipe(j.password);
            co_return auth_result::unavailable;
        }
        matched = j.matched && known && !proxy;
    }
    if (matched) cache_put(credentials.user, j.password);
    wipe(j.password);
    ++(matched ? _stats.succeeded : _stats.failed);
    co_return matched ? auth_result::success : auth_result::failure;
}

auth_verifier::digest auth_verifier::password_digest(std::string_view password) const {
    digest out{};
    Hmac hmac;
    bool ok = wc_HmacInit(&hmac, nullptr, INVALID_DEVID) == 0;
    ok = ok && wc_HmacSetKey(&hmac, WC_SHA256, _cache_key.data(),
                             static_cast<word32>(_cache_key.size())) == 0;
    ok = ok && wc_HmacUpdate(&hmac, reinterpret_cast<const byte*>(password.data()),
                             static_cast<word32>(password.size())) == 0;
    ok = ok && wc_HmacFinal(&hmac, out.data()) == 0;
    wc_HmacFree(&hmac);
    RINGMTA_ASSERT(ok, "HMAC-SHA256 failed");
    return out;
}

bool auth_verifier::cache_matches(const std::string& user, std::string_view password) const {
    auto it = _cache.find(user);
    if (it == _cache.end()) return false;
    const digest actual = password_digest(password);
    volatile std::uint8_t difference = 0;
    for (std::size_t i = 0; i < actual.size(); ++i) {
        difference = difference | (actual[i] ^ it->second[i]);
    }
    return difference == 0;
}

void auth_verifier::cache_put(const std::string& user, std::string_view password) {
    if (_cache.size() >= cache_entries_max) _cache.clear();  // bounded; refills on use
    _cache[user] = password_digest(password);
}

}  // namespace ringmta::ingress
