// The daemon (see daemon.h). Start-up order per shard: replay the journal,
// requeue what is still live, then bind the listeners, so nothing is accepted
// before the shard knows its queue. Shutdown per shard: stop accepting, end the
// sessions at their next read, let delivery finish the transactions in flight
// (bounded), wait for the journal's last group commit, exit the loop.
#include "daemon.h"

#include "shard_admin.h"

#include <mimalloc.h>
#include <sys/resource.h>

#include <bit>
#include <csignal>
#include <cstring>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "ringmta/delivery/engine.h"
#include "ringmta/ingress/server_session.h"
#include "ringmta/journal/id_generator.h"
#include "ringmta/journal/journal.h"
#include "ringmta/observe/accounting_log.h"
#include "ringmta/observe/admin_server.h"
#include "ringmta/runtime/log.h"
#include "ringmta/runtime/net.h"
#include "ringmta/runtime/ops.h"
#include "ringmta/runtime/shard_calls.h"
#include "ringmta/runtime/shard_group.h"
#include "ringmta/tls/context.h"

namespace ringmta {

namespace {

// Requeues a recovered message's pending recipients with the retry state the
// journal kept for them: recipients never tried are ready now; deferred ones
// wait for the next attempt time their last attempt record named. Only the
// resident part stays in memory; the envelope and body are read back from the
// journal when a job of the message runs.
void requeue(delivery::engine& engine, journal::journal& log, const journal::live_message& l,
             const std::vector<std::string>& addresses) {
    queue::message_ptr m = queue::make_message();
    m->id = l.message.message_id;
    m->arrival_unix_ms = l.message.arrival_unix_ms;
    m->flags = l.message.flags;
    m->segment_sequence = l.segment_sequence;
    m->record_offset = l.record_offset;
    m->record_bytes = l.record_size;
    m->unfinished = static_cast<std::uint32_t>(l.pending.size());
    log.pin_segment(l.segment_sequence, l.record_size);
    if (l.attempts.empty()) {
        engine.submit(m, addresses, l.pending, 0, 0);
        return;
    }
    std::map<std::pair<std::uint32_t, std::uint64_t>, std::vector<std::uint32_t>> groups;
    std::size_t next = 0;   // l.attempts is ascending by recipient, as is l.pending
    for (std::uint32_t index : l.pending) {
        while (next < l.attempts.size() && l.attempts[next].recipient_index < index) ++next;
        std::pair<std::uint32_t, std::uint64_t> state{0, 0};
        if (next < l.attempts.size() && l.attempts[next].recipient_index == index) {
            state = {l.attempts[next].attempts, l.attempts[next].next_attempt_unix_ms};
        }
        groups[state].push_back(index);
    }
    for (auto& [state, recipients] : groups) {
        engine.submit(m, addresses, recipients, state.first, state.second);
    }
}

// A mimalloc heap for start-up's temporary data: while entered, this thread's
// allocations come from it; release() frees what is left of it and returns its
// empty pages (blocks still in use move to the thread's heap).
class scratch_heap {
public:
    scratch_heap() : _heap(mi_heap_new()) {}
    ~scratch_heap() { release(); }
    scratch_heap(const scratch_heap&) = delete;
    scratch_heap& operator=(const scratch_heap&) = delete;
    void enter() {
        if (_heap && !_previous) _previous = mi_heap_set_default(_heap);
    }
    void leave() {
        if (_previous) mi_heap_set_default(_previous);
        _previous = nullptr;
    }
    void release() {
        leave();
        if (_heap) mi_heap_delete(_heap);
        _heap = nullptr;
        mi_collect(true);
    }

private:
    mi_heap_t* _heap = nullptr;
    mi_heap_t* _previous = nullptr;
};

// How long shutdown waits for sessions and deliveries in flight before abandoning
// them (abandoned recipients have no outcome and are retried after restart).
constexpr std::uint64_t shutdown_grace_ms = 10000;

struct shared_state {
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> reload{0};   // bumped by SIGHUP; each shard catches up
    std::atomic<bool> all_started{false};   // every shard has its engine: admin may start
    std::mutex error_lock;
    std::string error;
    std::unique_ptr<std::latch> started;
    void fail(const std::string& why) {
        std::lock_guard<std::mutex> guard(error_lock);
        if (error.empty()) error = why;
    }
};

struct shard final : runtime::wake_listener {
    const config::config* cfg = nullptr;
    shared_state* shared = nullptr;
    delivery::budget_mesh* budgets = nullptr;   // per-destination budgets across shards
    runtime::shard_calls* calls = nullptr;      // the admin endpoint's calls to the shards
    std::function<delivery::engine*(unsigned)> engine_of;   // any shard's engine, on its thread
    unsigned index = 0;
    unsigned count = 1;
    journal::ring_segment_io io;
    std::string journal_write_mode;   // as the journal opened (read once all started)
    std::unique_ptr<journal::journal> log;
    std::unique_ptr<journal::id_generator> ids;
    std::unique_ptr<observe::accounting_log> accounting;
    std::unique_ptr<delivery::engine> delivery;
    std::unique_ptr<tls::context> tls;     // STARTTLS, when ingress has a certificate
    std::unique_ptr<ingress::auth_verifier> auth;  // AUTH, when ingress has a users file
    ingress::ingress_context ingress;
    std::vector<std::unique_ptr<runtime::acceptor>> acceptors;
    std::vector<int> listen_fds;
    // [admin] listen, on shard 0: bound at start, served once every shard runs.
    int admin_fd = -1;
    std::unique_ptr<shard_admin> admin_backend;
    std::unique_ptr<observe::admin_server> admin;
    bool shutting_down = false;
    std::uint64_t reload_seen = 0;

    ~shard() {
        for (int fd : listen_fds) ::close(fd);
        if (admin_fd >= 0) ::close(admin_fd);
        // A request still waiting for a shard that stopped first holds the
        // server; its coroutine never resumes, so the server is left, not freed.
        if (admin && !admin->quiet()) static_cast<void>(admin.release());
    }
    void start_admin();
    void on_wake() override;
    std::string start();
    void reload();
    std::string load_tls();
    std::string load_auth_users();
};

runtime::task<void> shutdown_shard(shard* s) {
    if (s->admin) s->admin->stop();
    for (auto& a : s->acceptors) a->stop();
    ingress::end_sessions(&s->ingress);
    if (s->delivery) s->delivery->stop();
    std::uint64_t deadline = runtime::monotonic_ms() + shutdown_grace_ms;
    while (runtime::monotonic_ms() < deadline &&
           (!s->ingress.sessions.empty() || (s->admin && !s->admin->quiet()) ||
            (s->delivery && (s->delivery->connections() > 0 || !s->delivery->finished())))) {
        runtime::io::sleep_for pause(10);
        co_await pause;
    }
    if (s->auth) s->auth->stop();  // joins the worker; a session still waiting resumes
    if (s->log) co_await s->log->durable(s->log->last_ticket());
    const delivery::delivery_stats none;
    const delivery::delivery_stats& d = s->delivery ? s->delivery->stats() : none;
    log_info("shard %u stopped: %llu messages accepted, %llu delivered, %llu deferred, "
             "%llu failed; %llu contents read back from the journal; %llu transactions, "
             "%llu of them pipelined behind another in one write",
             s->index, (unsigned long long)s->ingress.stats.messages,
             (unsigned long long)d.delivered, (unsigned long long)d.deferred,
             (unsigned long long)d.failed, (unsigned long long)d.reads,
             (unsigned long long)d.transactions, (unsigned long long)d.batched);
    if (s->log) {
        log_info("shard %u journal: %s", s->index,
                 journal::describe_group_commit(s->log->stats()).c_str());
    }
    if (s->tls) tls::release_thread_state();
    runtime::reactor::current().request_exit();
}

// SIGHUP, on the shard's own thread: reopen the accounting log (rotation), reload
// the STARTTLS certificate and key and the AUTH users file. A bad new certificate
// or users file keeps the old one; sessions already under TLS keep theirs (wolfSSL
// counts references to a context).
void shard::reload() {
    if (accounting) {
        if (std::string e = accounting->reopen(); !e.empty()) {
            log_error("accounting log: %s", e.c_str());
        }
    }
    if (tls) {
        if (std::string e = load_tls(); !e.empty()) {
            log_error("shard %u: keeping the previous TLS certificate: %s", index, e.c_str());
        } else {
            log_info("shard %u: TLS certificate reloaded", index);
        }
    }
    if (auth) {
        if (std::string e = load_auth_users(); !e.empty()) {
            log_error("shard %u: keeping the previous AUTH users: %s", index, e.c_str());
        } else {
            log_info("shard %u: AUTH users reloaded (%zu)", index, auth->users()->size());
        }
    }
}

std::string shard::load_auth_users() {
    std::string error;
    std::unique_ptr<ingress::auth_users> users =
        ingress::auth_users::load(cfg->ingress.auth_users_file, error);
    if (!users) return "ingress.auth_users_file: " + error;
    auth->set_users(std::move(users));
    return {};
}

std::string shard::load_tls() {
    tls::context_options tls_options;
    tls_options.side = tls::role::server;
    tls_options.cert_file = cfg->ingress.tls_cert_file;
    tls_options.key_file = cfg->ingress.tls_key_file;
    std::string error;
    std::unique_ptr<tls::context> fresh = tls::context::create(tls_options, error);
    if (!fresh) return "ingress.tls_cert_file/tls_key_file: " + error;
    tls = std::move(fresh);
    ingress.tls = tls.get();
    return {};
}

void shard::start_admin() {
    admin_backend = std::make_unique<shard_admin>(*calls, index, engine_of);
    admin = std::make_unique<observe::admin_server>(admin_fd, *admin_backend);
    admin_fd = -1;   // the server owns it now
    admin->start();
    log_info("admin endpoint on %s (ringmta-ctl --admin %s)", cfg->admin.listen.text.c_str(),
             cfg->admin.listen.text.c_str());
}

void shard::on_wake() {
    if (delivery) delivery->receive_budget_messages();
    if (calls) calls->run_posted(index);
    if (admin_fd >= 0 && !admin && shared->all_started.load() && !shutting_down) start_admin();
    if (std::uint64_t r = shared->reload.load(); r != reload_seen && !shutting_down) {
        reload_seen = r;
        reload();
    }
    if (shared->stop.load() && !shutting_down) {
        shutting_down = true;
        runtime::spawn(shutdown_shard(this));
    }
}

std::string shard::start() {
    char name[32];
    std::snprintf(name, sizeof(name), "/shard-%u", index);
    journal::journal_options options;
    options.directory = cfg->server.spool_dir + name;
    options.shard = index;
    options.segment_bytes = cfg->journal.segment_size;
    options.sync = cfg->journal.durability == config::durability::fsync;
    options.spool_bytes_max = cfg->journal.max_spool_size / count;
    options.commit_delay_ms = static_cast<std::uint64_t>(cfg->journal.commit_delay.count());
    options.recycle_segments = cfg->journal.recycle_segments;
    options.zero_fill_segments = cfg->journal.zero_fill_segments;
    io.use_direct_io(cfg->journal.direct_io);
    log = std::make_unique<journal::journal>(options, io);
    runtime::reactor& r = runtime::reactor::current();
    r.add_turn_hook(log.get());
    // Recovery decodes every live message before the queue is rebuilt from them.
    // That working set is allocated from a heap of its own and freed whole
    // afterwards: allocated from the shard's heap, its freed blocks would sit
    // between the queue's long-lived ones and keep their pages resident.
    scratch_heap scratch;
    std::uint64_t recovery_started_ms = runtime::monotonic_ms();
    std::vector<journal::live_message> live;
    std::uint64_t max_message_id = 0;
    {
        scratch.enter();
        journal::recovery recovered(false);   // bodies stay on disk until delivery
        std::string error = log->open(recovered);
        if (!error.empty()) return "journal: " + error;
        live = recovered.finish();
        journal_write_mode = io.write_mode();
        max_message_id = recovered.max_message_id();
        scratch.leave();
    }
    ids = std::make_unique<journal::id_generator>(static_cast<std::uint8_t>(index),
                                                  max_message_id);
    if (!cfg->server.accounting_log.empty()) {
        accounting = std::make_unique<observe::accounting_log>();
        if (std::string error = accounting->open(cfg->server.accounting_log); !error.empty())
            return "accounting log: " + error;
        r.add_turn_hook(accounting.get());
    }
    delivery = std::make_unique<delivery::engine>(*cfg, *log, *ids, accounting.get(), index, count);
    delivery->attach_budget_mesh(budgets);
    std::size_t recipients = 0;
    {
        std::vector<std::string> addresses;
        for (journal::live_message& l : live) {
            recipients += l.pending.size();
            scratch.enter();   // the address strings are scratch too
            addresses.clear();
            for (journal::recipient_entry& e : l.message.recipients) {
                addresses.push_back(std::move(e.address));
            }
            scratch.leave();
            requeue(*delivery, *log, l, addresses);
            l = journal::live_message{};   // its strings are not needed any more
        }
    }
    if (!live.empty()) {
        log_info("shard %u: recovered %zu queued message(s), %zu recipient(s), in %llu ms",
                 index, live.size(), recipients,
                 (unsigned long long)(runtime::monotonic_ms() - recovery_started_ms));
    }
    std::vector<journal::live_message>().swap(live);
    scratch.release();

    if (!cfg->ingress.tls_cert_file.empty()) {
        if (std::string error = load_tls(); !error.empty()) return error;
    }
    ingress.settings.offer_starttls = tls != nullptr;
    if (!cfg->ingress.auth_users_file.empty()) {
        auth = std::make_unique<ingress::auth_verifier>();
        if (std::string error = load_auth_users(); !error.empty()) return error;
        auth->start();
        ingress.auth = auth.get();
        ingress.settings.offer_auth = true;
        ingress.settings.auth_requires_tls = !cfg->ingress.auth_allow_plaintext;
        if (!tls && !cfg->ingress.auth_allow_plaintext && index == 0) {
            log_warn("ingress.auth_users_file is set but STARTTLS is not (tls_cert_file) "
                     "and auth_allow_plaintext is false: AUTH is never offered");
        }
    }
    ingress.cfg = cfg;
    ingress.settings.hostname = cfg->server.hostname;
    ingress.settings.message_bytes_max = cfg->ingress.max_message_size;
    ingress.settings.recipients_max = cfg->ingress.max_recipients;
    ingress.settings.errors_max = cfg->ingress.max_errors;
    // CHUNKING, not BINARYMIME: delivery sends with DATA, which can carry any
    // 7bit/8bitmime message received by BDAT, but not binary content unaltered.
    ingress.settings.offer_chunking = true;
    // RFC 3461 DSN and RFC 6531 SMTPUTF8: journaled and passed on by delivery.
    ingress.settings.offer_dsn = true;
    ingress.settings.offer_smtputf8 = true;
    ingress.log = log.get();
    ingress.ids = ids.get();
    ingress.shard = index;
    ingress.sessions_max = std::max(1u, cfg->ingress.max_connections / count);
    ingress.limits = ingress::make_client_limits(cfg->ingress, count);
    delivery::engine* engine = delivery.get();
    ingress.accepted = [engine](queue::message_ptr m, queue::content_ptr c) {
        engine->accept(m, std::move(c));
    };
    for (const config::endpoint& e : cfg->ingress.listen) {
        runtime::socket_address address;
        std::memcpy(&address.storage, &e.address, sizeof(e.address));
        address.length = e.address_len;
        int fd = runtime::listen_tcp(address, 1024);
        if (fd < 0) return "cannot listen on " + e.text + ": " + std::strerror(-fd);
        listen_fds.push_back(fd);
        acceptors.push_back(std::make_unique<runtime::acceptor>(fd));
        runtime::spawn(ingress::run_listener(&ingress, acceptors.back().get()));
    }
    if (index == 0 && cfg->admin.listen.address_len != 0) {
        runtime::socket_address address;
        std::memcpy(&address.storage, &cfg->admin.listen.address, sizeof(cfg->admin.listen.address));
        address.length = cfg->admin.listen.address_len;
        admin_fd = runtime::listen_tcp(address, 64);
        if (admin_fd < 0) {
            int error = -admin_fd;
            admin_fd = -1;
            return "admin.listen: cannot listen on " + cfg->admin.listen.text + ": " +
                   std::strerror(error);
        }
    }
    runtime::spawn(delivery->run());
    r.add_wake_listener(this);
    if (calls) calls->run_posted(index);   // any that came before the listener
    return {};
}

// Every session is a descriptor: raise the soft open-files limit to the hard one
// (many systems start processes at 1,024; ingress.max_connections is 10,000 by
// default), and say so when even the hard limit is below what the config allows.
void raise_open_files_limit(const config::config& cfg) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    }
    // Listeners, journal segments, delivery connections and the rings need some more.
    const rlim_t wanted = rlim_t(cfg.ingress.max_connections) + 1024;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
        log_warn("open files limit %llu is below ingress.max_connections + 1024 (%llu): "
                 "accepts fail past it (the listener pauses and retries)",
                 (unsigned long long)limit.rlim_cur, (unsigned long long)wanted);
    }
}

}  // namespace

int run_daemon(const config::config& cfg) {
    if (std::string error = runtime::log_open(cfg.server.log_file); !error.empty()) {
        std::fprintf(stderr, "ringmta: log_file: %s\n", error.c_str());
        return 1;
    }
    raise_open_files_limit(cfg);
    // Signals are taken synchronously by the main thread; shard threads inherit
    // the mask, so no handler ever runs on a shard.
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) sigaddset(&signals, s);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    unsigned count = cfg.server.shards ? cfg.server.shards : runtime::available_cpus();
    shared_state shared;
    shared.started = std::make_unique<std::latch>(count);
    std::vector<std::unique_ptr<shard>> shards;
    for (unsigned i = 0; i < count; ++i) {
        auto s = std::make_unique<shard>();
        s->cfg = &cfg;
        s->shared = &shared;
        s->index = i;
        s->count = count;
        shards.push_back(std::move(s));
    }
    // Start-up (journal recovery) allocates and frees a lot: mimalloc gives freed
    // memory back to the system only after a delay, on a later call, and a shard
    // idle after start-up makes none. So decommit at once until every shard has
    // started; then the usual delays (which save system calls under load) return.
    long decommit_delay = mi_option_get(mi_option_decommit_delay);
    long segment_decommit_delay = mi_option_get(mi_option_segment_decommit_delay);
    mi_option_set(mi_option_decommit_delay, 0);
    mi_option_set(mi_option_segment_decommit_delay, 0);
    runtime::shard_group group(count);
    // Lease messages between the shards' delivery engines (a few per budget every
    // 100 ms): small rings, since there is one per ordered pair of shards; a full
    // one keeps the sender's backlog in order (delivery/budget_table.cc).
    delivery::budget_mesh budget_mesh(group.reactors(),
                                      std::bit_floor(std::max(16u, 4096u / count)));
    // The admin endpoint's calls: one per admin connection and shard at most.
    runtime::shard_calls calls(group.reactors(), 128);
    std::function<delivery::engine*(unsigned)> engine_of = [&shards](unsigned i) {
        return shards[i]->shutting_down ? nullptr : shards[i]->delivery.get();
    };
    for (auto& s : shards) {
        s->budgets = &budget_mesh;
        s->calls = &calls;
        s->engine_of = engine_of;
    }
    group.start([&](runtime::reactor& r) {
        shard& s = *shards[r.shard()];
        std::string error = s.start();
        if (!error.empty()) {
            shared.fail(error);
            shared.stop = true;
            r.add_wake_listener(&s);
        }
        shared.started->count_down();
    });
    shared.started->wait();
    shared.all_started = true;
    group.wake_all();   // shard 0 starts the admin endpoint
    mi_option_set(mi_option_decommit_delay, decommit_delay);
    mi_option_set(mi_option_segment_decommit_delay, segment_decommit_delay);
    if (!shared.stop) {
        std::string listen;
        for (const config::endpoint& e : cfg.ingress.listen) listen += (listen.empty() ? "" : ", ") + e.text;
        log_info("ready: listening on %s; %u shard(s), io_uring %s, durability %s, "
                 "journal writes %s, spool %s",
                 listen.c_str(), count, group.shard(0).setup_mode().c_str(),
                 cfg.journal.durability == config::durability::fsync ? "fsync" : "nosync (benchmarks only)",
                 shards[0]->journal_write_mode.c_str(), cfg.server.spool_dir.c_str());
    }
    while (!shared.stop) {
        int sig = 0;
        sigwait(&signals, &sig);
        if (sig == SIGINT || sig == SIGTERM) {
            log_info("received %s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
            shared.stop = true;
        } else if (sig == SIGHUP) {
            if (std::string e = runtime::log_open(cfg.server.log_file); !e.empty()) {
                log_error("%s", e.c_str());
            }
            log_info("received SIGHUP: reopening logs, reloading the TLS certificate and "
                     "AUTH users");
            shared.reload.fetch_add(1);
            group.wake_all();
        }
    }
    group.wake_all();
    group.join();
    shards.clear();
    if (!shared.error.empty()) {
        log_error("start-up failed: %s", shared.error.c_str());
        return 1;
    }
    log_info("stopped");
    return 0;
}

}  // namespace ringmta
