// dns_peers (see dns_peers.h): child processes, ports and probes for the tests.
#include "dns_peers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "ringmta/dns/query.h"
#include "ringmta/runtime/reactor.h"

namespace ringmta::dns::test {

child_process::child_process(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t parent = getpid();
    _pid = fork();
    if (_pid != 0) return;
    // Child: die with the test process, keep quiet, keep none of its descriptors.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    close_range(3, ~0u, 0);
    execv(args[0], args.data());
    _exit(127);
}

child_process::~child_process() { stop(); }

bool child_process::running() {
    if (_pid <= 0) return false;
    int status = 0;
    if (waitpid(_pid, &status, WNOHANG) == _pid) {
        _pid = -1;
        return false;
    }
    return true;
}

void child_process::stop() {
    if (!running()) return;
    kill(_pid, SIGTERM);
    for (int waited_ms = 0; waited_ms < 2000; waited_ms += 10) {
        if (!running()) return;
        usleep(10000);
    }
    kill(_pid, SIGKILL);
    int status = 0;
    waitpid(_pid, &status, 0);
    _pid = -1;
}

runtime::socket_address dns_peer::address() const { return loopback(port); }

runtime::socket_address loopback(std::uint16_t port) {
    runtime::socket_address a;
    runtime::parse_socket_address("127.0.0.1:" + std::to_string(port), a);
    return a;
}

std::uint16_t free_port() {
    for (int attempt = 0; attempt < 32; ++attempt) {
        runtime::socket_address any = loopback(0);
        int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        std::uint16_t port = 0;
        if (bind(tcp, any.get(), any.length) == 0) {
            runtime::socket_address bound = runtime::local_address(tcp);
            auto* v4 = reinterpret_cast<const sockaddr_in*>(&bound.storage);
            runtime::socket_address same = loopback(ntohs(v4->sin_port));
            if (bind(udp, same.get(), same.length) == 0) port = ntohs(v4->sin_port);
        }
        close(tcp);
        close(udp);
        if (port != 0) return port;
    }
    return 0;
}

bool wait_until_answering(std::uint16_t port, std::uint64_t timeout_ms) {
    std::uint64_t deadline_ms = runtime::monotonic_ms() + timeout_ms;
    runtime::socket_address server = loopback(port);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    connect(fd, server.get(), server.length);
    std::vector<std::uint8_t> query = build_query({"probe.test", record_type::a}, 4242);
    bool answered = false;
    while (!answered && runtime::monotonic_ms() < deadline_ms) {
        [[maybe_unused]] ssize_t sent = send(fd, query.data(), query.size(), 0);
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) == 1) {
            std::uint8_t buffer[1500];
            answered = recv(fd, buffer, sizeof(buffer), 0) > 0;
            if (!answered) usleep(20000);   // refused: not listening yet
        }
    }
    close(fd);
    return answered;
}

bool have_dnsmasq() { return access(RINGMTA_DNSMASQ, X_OK) == 0; }

std::vector<std::string> test_zone(unsigned ttl_s) {
    return {
        "--local=/test/",   // unknown .test names: NXDOMAIN without an SOA
        "--local-ttl=" + std::to_string(ttl_s),
        // order.test: three preferences; mx-c has only an AAAA.
        "--mx-host=order.test,mx-c.order.test,30",
        "--mx-host=order.test,mx-a.order.test,10",
        "--mx-host=order.test,mx-b.order.test,20",
        "--host-record=mx-a.order.test,192.0.2.10,2001:db8::10",
        "--host-record=mx-b.order.test,192.0.2.20",
        "--host-record=mx-c.order.test,2001:db8::30",
        // equal.test: two exchangers of equal preference and a backup.
        "--mx-host=equal.test,mx1.equal.test,10",
        "--mx-host=equal.test,mx2.equal.test,10",
        "--mx-host=equal.test,backup.equal.test,50",
        "--host-record=mx1.equal.test,192.0.2.41",
        "--host-record=mx2.equal.test,192.0.2.42",
        "--host-record=backup.equal.test,192.0.2.43",
        // implicit.test: addresses, no MX.
        "--host-record=implicit.test,192.0.2.50,2001:db8::50",
        "--mx-host=nullmx.test,.,0",
        "--mx-host=mixednull.test,.,0",
        "--mx-host=mixednull.test,mx.mixednull.test,10",
        "--host-record=mx.mixednull.test,192.0.2.60",
        // partial.test: the preferred exchanger does not exist.
        "--mx-host=partial.test,ghost.partial.test,10",
        "--mx-host=partial.test,real.partial.test,20",
        "--host-record=real.partial.test,192.0.2.70",
        // dangling.test: no exchanger exists.
        "--mx-host=dangling.test,ghost1.dangling.test,10",
        "--mx-host=dangling.test,ghost2.dangling.test,20",
        // bare.test: exists (a TXT record) but has no MX and no address.
        "--txt-record=bare.test,nothing else",
        "--cname=alias.test,mx1.equal.test",
    };
}

namespace {

dns_peer start_checked(std::vector<std::string> argv, std::size_t port_at) {
    for (int attempt = 0; attempt < 5; ++attempt) {
        dns_peer peer;
        peer.port = free_port();
        std::vector<std::string> args = argv;
        args[port_at] += std::to_string(peer.port);
        peer.process = std::make_unique<child_process>(args);
        if (wait_until_answering(peer.port, 5000) && peer.process->running()) return peer;
    }
    return dns_peer{};
}

}  // namespace

dns_peer start_dnsmasq(const std::vector<std::string>& arguments) {
    if (!have_dnsmasq()) return dns_peer{};
    // Our own user and group: dnsmasq started as root would otherwise switch to
    // nobody, and a credential change clears PR_SET_PDEATHSIG (prctl(2)).
    const passwd* user = getpwuid(getuid());
    const group* grp = getgrgid(getgid());
    std::vector<std::string> argv = {
        RINGMTA_DNSMASQ, "--port=", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--keep-in-foreground", "--pid-file=", "--log-facility=-", "--bind-interfaces",
        "--listen-address=127.0.0.1",
    };
    if (user != nullptr) argv.push_back(std::string("--user=") + user->pw_name);
    if (grp != nullptr) argv.push_back(std::string("--group=") + grp->gr_name);
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return start_checked(std::move(argv), 1);
}

dns_peer start_responder(const std::string& log_path, const std::string& flag_path) {
    std::vector<std::string> argv = {RINGMTA_PYTHON, RINGMTA_DNS_RESPONDER, "--port=",
                                     "--log=" + log_path, "--flag=" + flag_path,
                                     "--lifetime=300"};
    return start_checked(std::move(argv), 2);
}

temp_dir::temp_dir() {
    char pattern[] = "/tmp/ringmta-dns-XXXXXX";
    if (mkdtemp(pattern) != nullptr) _path = pattern;
}

temp_dir::~temp_dir() {
    std::error_code ignored;
    if (!_path.empty()) std::filesystem::remove_all(_path, ignored);
}

std::vector<std::string> read_lines(const std::string& path) {
    std::vector<std::string> lines;
    std::ifstream file(path);
    std::string line;
    while (std::getline(file, line)) lines.push_back(line);
    return lines;
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream file(path, std::ios::trunc);
    file << text;
}

}  // namespace ringmta::dns::test
