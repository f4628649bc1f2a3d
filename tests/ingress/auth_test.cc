// AUTH users file and verifier: the file's format and its FILE:LINE errors; the
// verifier on a real reactor and worker thread: right, wrong and unknown
// credentials, the cache, the in-flight bound (454), a shard that keeps running
// while a slow hash is checked, reloads and stop() with work queued.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "ringmta/ingress/auth_users.h"
#include "ringmta/ingress/auth_verifier.h"
#include "ringmta/ingress/password_hash.h"
#include "ringmta/runtime/ops.h"

using namespace ringmta;
using ingress::auth_users;
using ingress::auth_verifier;
using smtp::auth_result;

namespace {

// Cheap hashes keep the tests fast; slow_iterations makes one verify take long
// enough (tens of milliseconds) for the concurrency checks.
constexpr unsigned fast_iterations = 1000;
constexpr unsigned slow_iterations = 100'000;

std::string users_text(unsigned iterations) {
    return "# users\nalice:" + ingress::hash_password("s3cret", "salt-a", iterations) +
           "\n\n  bob:" + ingress::hash_password("hunter2", "salt-b", iterations) + "  \r\n";
}

std::unique_ptr<auth_users> parse_users(const std::string& text) {
    std::string error;
    auto users = auth_users::parse(text, "users", error);
    REQUIRE_MESSAGE(users, error);
    return users;
}

std::string parse_error(const std::string& text) {
    std::string error;
    auto users = auth_users::parse(text, "users.txt", error);
    CHECK(users == nullptr);
    return error;
}

smtp::auth_credentials credentials(std::string user, std::string password,
                                   std::string authzid = "") {
    smtp::auth_credentials c;
    c.mechanism = "PLAIN";
    c.user = std::move(user);
    c.password = std::move(password);
    c.authzid = std::move(authzid);
    return c;
}

runtime::task<void> verify_into(auth_verifier* v, smtp::auth_credentials c,
                                auth_result* out) {
    runtime::task<auth_result> check = v->verify(std::move(c));
    *out = co_await std::move(check);
}

// Waits (bounded) until `remaining` spawned tasks finished, then stops the
// verifier (on the shard, as the daemon does) and ends the loop.
runtime::task<void> finish_after(auth_verifier* v, std::size_t* remaining,
                                 runtime::reactor* r) {
    for (int rounds = 0; rounds < 10000 && *remaining > 0; ++rounds) {
        runtime::io::sleep_for pause(1);
        co_await pause;
    }
    v->stop();
    r->request_exit();
}

runtime::task<void> counted(runtime::task<void> inner, std::size_t* remaining) {
    co_await std::move(inner);
    --*remaining;
}

// Verifies each of `batch` concurrently on one reactor; returns the results.
std::vector<auth_result> run_batch(auth_verifier& v,
                                   std::vector<smtp::auth_credentials> batch) {
    std::vector<auth_result> results(batch.size(), auth_result::unavailable);
    runtime::reactor r(runtime::reactor_options{});
    v.start();
    std::size_t remaining = batch.size();
    for (std::size_t i = 0; i < batch.size(); ++i) {
        runtime::spawn(counted(verify_into(&v, std::move(batch[i]), &results[i]), &remaining));
    }
    runtime::spawn(finish_after(&v, &remaining, &r));
    r.run();
    CHECK(remaining == 0);
    CHECK(r.tasks_live() == 0);
    return results;
}

}  // namespace

TEST_CASE("the users file: comments, blank lines, spaces and CRLF are fine") {
    auto users = parse_users(users_text(fast_iterations));
    CHECK(users->size() == 2);
    REQUIRE(users->find("alice") != nullptr);
    CHECK(ingress::verify_password("s3cret", *users->find("alice")));
    REQUIRE(users->find("bob") != nullptr);
    CHECK(ingress::verify_password("hunter2", *users->find("bob")));
    CHECK(users->find("Alice") == nullptr);  // names are case-sensitive
    CHECK(users->find("carol") == nullptr);
    CHECK(users->decoy_hash() == *users->find("alice"));
    CHECK(parse_users("")->decoy_hash().empty());
}

TEST_CASE("the users file: every error names FILE:LINE") {
    const std::string hash = ingress::hash_password("x", "salt", 1);
    CHECK(parse_error("# one\nalice " + hash + "\n") ==
          "users.txt:2: expected name:hash (no ':' on the line)");
    CHECK(parse_error(":" + hash + "\n") == "users.txt:1: the user name is empty");
    CHECK(parse_error("al ice:" + hash + "\n") ==
          "users.txt:1: the user name has a space or a control character");
    CHECK(parse_error(std::string(256, 'a') + ":" + hash) ==
          "users.txt:1: the user name is over 255 octets");
    CHECK(parse_error("a:" + hash + "\n\nb:plaintext\n") ==
          "users.txt:3: user 'b': not a $pbkdf2-sha256$ hash (make one with `ringmta "
          "hash-password`)");
    CHECK(parse_error("a:" + hash + "\na:" + hash + "\n") ==
          "users.txt:2: user 'a' is listed twice");
    std::string error;
    CHECK(auth_users::load("/nonexistent/users", error) == nullptr);
    CHECK(error == "/nonexistent/users: No such file or directory");
}

TEST_CASE("auth_users::load reads a file") {
    char path[] = "/tmp/ringmta-users-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    {
        std::ofstream f(path);
        f << users_text(fast_iterations);
    }
    std::string error;
    auto users = auth_users::load(path, error);
    std::remove(path);
    REQUIRE_MESSAGE(users, error);
    CHECK(users->size() == 2);
}

TEST_CASE("verify: right, wrong, unknown, proxy authorization; successes are cached") {
    auth_verifier v;
    v.set_users(parse_users(users_text(fast_iterations)));
    std::vector<smtp::auth_credentials> batch;
    batch.push_back(credentials("alice", "s3cret"));
    batch.push_back(credentials("alice", "wrong"));
    batch.push_back(credentials("carol", "s3cret"));          // unknown user
    batch.push_back(credentials("bob", "hunter2", "alice"));  // act as someone else
    batch.push_back(credentials("bob", "hunter2", "bob"));    // authzid = user: fine
    batch.push_back(credentials("alice", "s3cret"));
    auto results = run_batch(v, std::move(batch));
    CHECK(results == std::vector<auth_result>{auth_result::success, auth_result::failure,
                                              auth_result::failure, auth_result::failure,
                                              auth_result::success, auth_result::success});
    CHECK(v.stats().succeeded == 3);
    CHECK(v.stats().failed == 3);
    CHECK(v.stats().cache_hits == 0);  // all six were in flight together
    CHECK(v.in_flight() == 0);
}

TEST_CASE("a cached success answers at once; a wrong password never hits the cache") {
    auth_verifier v;
    v.set_users(parse_users(users_text(fast_iterations)));
    runtime::reactor r(runtime::reactor_options{});
    v.start();
    struct steps {
        static runtime::task<void> go(auth_verifier* v, runtime::reactor* r,
                                      std::vector<auth_result>* out) {
            for (const char* password : {"s3cret", "s3cret", "wrong", "s3cret"}) {
                auth_result result = auth_result::unavailable;
                co_await verify_into(v, credentials("alice", password), &result);
                out->push_back(result);
            }
            v->stop();
            r->request_exit();
        }
    };
    std::vector<auth_result> results;
    runtime::spawn(steps::go(&v, &r, &results));
    r.run();
    CHECK(results == std::vector<auth_result>{auth_result::success, auth_result::success,
                                              auth_result::failure, auth_result::success});
    CHECK(v.stats().cache_hits == 2);
}

TEST_CASE("the shard keeps running while a slow hash is checked; in flight is bounded") {
    auth_verifier v(2);
    v.set_users(parse_users(users_text(slow_iterations)));
    std::vector<smtp::auth_credentials> batch;
    for (int i = 0; i < 5; ++i) batch.push_back(credentials("bob", "hunter2"));
    auto results = run_batch(v, std::move(batch));
    // Two fit the bound; the other three are refused at once (454), not queued.
    CHECK(results == std::vector<auth_result>{auth_result::success, auth_result::success,
                                              auth_result::unavailable,
                                              auth_result::unavailable,
                                              auth_result::unavailable});
    CHECK(v.stats().refused_busy == 3);
}

TEST_CASE("the reactor turns while the worker hashes") {
    auth_verifier v;
    v.set_users(parse_users(users_text(slow_iterations)));
    runtime::reactor r(runtime::reactor_options{});
    v.start();
    struct steps {
        static runtime::task<void> tick(bool* done, std::size_t* ticks, runtime::reactor* r) {
            for (int i = 0; i < 100000 && !*done; ++i) {
                runtime::io::sleep_for pause(1);
                co_await pause;
                ++*ticks;
            }
            r->request_exit();
        }
        static runtime::task<void> check(auth_verifier* v, bool* done, auth_result* result) {
            co_await verify_into(v, credentials("alice", "s3cret"), result);
            *done = true;
            v->stop();
        }
    };
    bool done = false;
    std::size_t ticks = 0;
    auth_result result = auth_result::unavailable;
    const std::uint64_t start = runtime::monotonic_ms();
    runtime::spawn(steps::tick(&done, &ticks, &r));
    runtime::spawn(steps::check(&v, &done, &result));
    r.run();
    CHECK(r.tasks_live() == 0);
    const std::uint64_t elapsed_ms = runtime::monotonic_ms() - start;
    CHECK(result == auth_result::success);
    // Inline on the reactor the hash would finish before the first tick resumed.
    CAPTURE(elapsed_ms);
    CHECK(ticks >= 3);
}

TEST_CASE("stop() resumes queued verifications as unavailable") {
    auth_verifier v(4);
    v.set_users(parse_users(users_text(slow_iterations)));
    runtime::reactor r(runtime::reactor_options{});
    v.start();
    std::vector<auth_result> results(4, auth_result::success);
    std::size_t remaining = 4;
    for (std::size_t i = 0; i < results.size(); ++i) {
        runtime::spawn(counted(verify_into(&v, credentials("bob", "hunter2"), &results[i]),
                               &remaining));
    }
    struct steps {
        static runtime::task<void> go(auth_verifier* v, runtime::reactor* r) {
            runtime::io::sleep_for pause(1);
            co_await pause;
            v->stop();  // the worker finishes at most the one it is hashing
            r->request_exit();
        }
    };
    runtime::spawn(steps::go(&v, &r));
    r.run();
    CHECK(remaining == 0);
    CHECK(r.tasks_live() == 0);
    std::size_t unavailable = 0;
    for (auth_result res : results) unavailable += res == auth_result::unavailable;
    CHECK(unavailable >= 3);
}

TEST_CASE("a reload while a verification is in flight voids its result") {
    auth_verifier reloading;
    reloading.set_users(parse_users(users_text(slow_iterations)));
    runtime::reactor r2(runtime::reactor_options{});
    reloading.start();
    auth_result during = auth_result::success;
    std::size_t left = 1;
    runtime::spawn(counted(verify_into(&reloading, credentials("bob", "hunter2"), &during),
                           &left));
    reloading.set_users(parse_users(users_text(fast_iterations)));  // SIGHUP meanwhile
    runtime::spawn(finish_after(&reloading, &left, &r2));
    r2.run();
    CHECK(during == auth_result::unavailable);
}
