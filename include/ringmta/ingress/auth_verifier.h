// auth_verifier: checks SMTP AUTH credentials for one shard without blocking it.
//
// A PBKDF2 verify costs ~0.1 s of CPU on purpose, so it never runs on the shard's
// reactor thread: each shard has one worker thread. The shard hands it a job (a
// pointer into the waiting session's coroutine frame) through a lock-free SPSC
// ring; the worker verifies, pushes the job back on a second ring and writes an
// eventfd that the shard reads on its io_uring (cqe_handler), which resumes the
// session. At most in_flight_max jobs are queued or running per shard; more get
// auth_result::unavailable (454 4.7.0), so a guessing flood costs one worker's
// CPU at most and no memory beyond the bound.
//
// Successes are cached per shard (user -> HMAC-SHA256 of the password under a
// random per-process key, bounded, cleared on reload), so a bulk sender opening
// thousands of connections with the same account pays the slow hash once per
// shard. A wrong password never hits the cache. Unknown users are checked against
// a real entry's hash and then refused, so they cost the same time as known ones.
//
// Lifetime: created and used on one shard; start() on that thread once its reactor
// exists; stop() on that thread before its loop ends (joins the worker; jobs not
// yet run resume as unavailable). The object must outlive the reactor's ring (its
// eventfd read may still be in the kernel until the ring is torn down).
#pragma once

#include <array>
#include <atomic>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <semaphore>
#include <string>
#include <thread>
#include <unordered_map>

#include "ringmta/ingress/auth_users.h"
#include "ringmta/runtime/channel.h"
#include "ringmta/runtime/reactor.h"
#include "ringmta/runtime/task.h"
#include "ringmta/smtp/server_protocol.h"

namespace ringmta::ingress {

struct auth_verifier_stats {
    std::uint64_t succeeded = 0;
    std::uint64_t failed = 0;
    std::uint64_t cache_hits = 0;
    std::uint64_t refused_busy = 0;  // in_flight_max reached: 454
};

class auth_verifier final : public runtime::cqe_handler {
public:
    static constexpr std::size_t in_flight_max_default = 8;
    static constexpr std::size_t cache_entries_max = 4096;

    explicit auth_verifier(std::size_t in_flight_max = in_flight_max_default);
    ~auth_verifier();
    auth_verifier(const auth_verifier&) = delete;
    auth_verifier& operator=(const auth_verifier&) = delete;

    // Replaces the users (start, SIGHUP); clears the cache. Verifications in flight
    // against the old users resume as unavailable.
    void set_users(std::unique_ptr<auth_users> users);
    const auth_users* users() const { return _users.get(); }

    void start();
    void stop();

    // success, failure (wrong or unknown credentials, or an authzid other than the
    // user: no proxy authorization), or unavailable (busy, stopped, reloaded).
    runtime::task<smtp::auth_result> verify(smtp::auth_credentials credentials);

    std::size_t in_flight() const { return _in_flight; }
    const auth_verifier_stats& stats() const { return _stats; }

    void handle_cqe(int result, std::uint32_t flags) override;

private:
    struct job {
        std::string password;
        std::string encoded;
        bool matched = false;
        bool ran = false;  // false: dropped at stop()
        std::coroutine_handle<> waiter;
    };
    struct job_awaiter;
    using digest = std::array<std::uint8_t, 32>;

    void work();
    void arm_read();
    void drain_done();
    digest password_digest(std::string_view password) const;
    bool cache_matches(const std::string& user, std::string_view password) const;
    void cache_put(const std::string& user, std::string_view password);

    std::size_t _in_flight_max;
    std::size_t _in_flight = 0;
    std::unique_ptr<auth_users> _users;
    std::uint64_t _users_generation = 0;
    std::unordered_map<std::string, digest> _cache;
    std::array<std::uint8_t, 32> _cache_key{};
    auth_verifier_stats _stats;

    runtime::spsc_ring<job*> _jobs;
    runtime::spsc_ring<job*> _done;
    std::counting_semaphore<> _work_ready{0};
    std::atomic<bool> _stopping{false};
    std::thread _worker;
    int _event_fd = -1;
    std::uint64_t _event_value = 0;
    bool _started = false;
    bool _stopped = false;
};

}  // namespace ringmta::ingress
