// resolv.conf parsing (see resolv_conf.h). Start-up only: blocking file read.
#include "ringmta/dns/resolv_conf.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ringmta::dns {

namespace {

// "192.0.2.1", "2001:db8::1" or "fe80::1%eth0" with port 53.
bool parse_nameserver(std::string_view text, runtime::socket_address& out) {
    std::string host(text);
    std::string scope;
    if (std::size_t percent = host.find('%'); percent != std::string::npos) {
        scope = host.substr(percent + 1);
        host.resize(percent);
    }
    out = runtime::socket_address{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    if (scope.empty() && inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(dns_port);
        out.length = sizeof(sockaddr_in);
        return true;
    }
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) != 1) return false;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(dns_port);
    if (!scope.empty()) {
        unsigned index = if_nametoindex(scope.c_str());
        if (index == 0) {
            char* end = nullptr;
            unsigned long number = std::strtoul(scope.c_str(), &end, 10);
            if (end == scope.c_str() || *end != '\0' || number == 0) return false;
            index = static_cast<unsigned>(number);
        }
        v6->sin6_scope_id = index;
    }
    out.length = sizeof(sockaddr_in6);
    return true;
}

}  // namespace

std::vector<runtime::socket_address> parse_resolv_conf(std::string_view text) {
    std::vector<runtime::socket_address> servers;
    std::istringstream lines{std::string(text)};
    std::string line;
    // Bounded by the text: one pass over its lines.
    while (std::getline(lines, line) && servers.size() < resolv_conf_nameservers_max) {
        if (std::size_t comment = line.find_first_of("#;"); comment != std::string::npos)
            line.resize(comment);
        std::istringstream words(line);
        std::string keyword;
        std::string value;
        if (!(words >> keyword) || keyword != "nameserver" || !(words >> value)) continue;
        runtime::socket_address address;
        if (parse_nameserver(value, address)) servers.push_back(address);
    }
    return servers;
}

std::vector<runtime::socket_address> read_resolv_conf(const std::string& path) {
    std::ifstream file(path);
    std::vector<runtime::socket_address> servers;
    if (file) {
        std::ostringstream text;
        text << file.rdbuf();
        servers = parse_resolv_conf(text.str());
    }
    if (servers.empty()) {
        runtime::socket_address local;
        runtime::parse_socket_address("127.0.0.1:53", local);
        servers.push_back(local);
    }
    return servers;
}

}  // namespace ringmta::dns
