// Real DNS peers for the dns tests and dns_rate, all on loopback: a dnsmasq
// instance (its own configuration, never the system's) and the scripted Python
// responder (responder.py). Each is a child process that dies with this object
// (SIGTERM, a bounded wait, then SIGKILL) or with the test process
// (PR_SET_PDEATHSIG). Blocking calls are fine here: this runs on the test
// thread before or after a reactor runs, never inside one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ringmta/runtime/net.h"

namespace ringmta::dns::test {

class child_process {
public:
    // fork + exec of argv[0] (a path); stdout and stderr go to /dev/null.
    explicit child_process(const std::vector<std::string>& argv);
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    bool running();
    void stop();
    pid_t pid() const { return _pid; }

private:
    pid_t _pid = -1;
};

struct dns_peer {
    std::unique_ptr<child_process> process;   // null when the peer could not start
    std::uint16_t port = 0;
    explicit operator bool() const { return process != nullptr; }
    runtime::socket_address address() const;
};

// A loopback port free for both UDP and TCP right now.
std::uint16_t free_port();
// 127.0.0.1:port.
runtime::socket_address loopback(std::uint16_t port);
// Blocking probe: true once a query to 127.0.0.1:port gets any reply.
bool wait_until_answering(std::uint16_t port, std::uint64_t timeout_ms);

bool have_dnsmasq();
// The test zone (records listed in dns_peers.cc) as dnsmasq arguments, every
// record with a TTL of ttl_s.
std::vector<std::string> test_zone(unsigned ttl_s = 300);
// dnsmasq with `arguments` (e.g. test_zone()) on a fresh port.
dns_peer start_dnsmasq(const std::vector<std::string>& arguments);
// responder.py, logging queries to log_path; flaky.test recovers once flag_path exists.
dns_peer start_responder(const std::string& log_path, const std::string& flag_path);

// A fresh directory under /tmp, removed with its files by the destructor.
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    const std::string& path() const { return _path; }
    std::string file(const std::string& name) const { return _path + "/" + name; }

private:
    std::string _path;
};

std::vector<std::string> read_lines(const std::string& path);
void write_file(const std::string& path, const std::string& text);

}  // namespace ringmta::dns::test
