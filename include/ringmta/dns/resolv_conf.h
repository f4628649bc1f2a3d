// The default resolvers: the nameserver lines of /etc/resolv.conf, parsed here
// (ldns's resolver functions are never used: DESIGN.md). Configuration time
// only: read_resolv_conf reads a file with blocking calls, before shards serve.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ringmta/runtime/net.h"

namespace ringmta::dns {

// glibc reads at most three nameserver lines (MAXNS); so do we.
constexpr std::size_t resolv_conf_nameservers_max = 3;
constexpr std::uint16_t dns_port = 53;

// Addresses of the "nameserver" lines (IPv4, IPv6, IPv6 with %scope), port 53,
// in file order. Comments ('#', ';'), other keywords and unparsable addresses
// are skipped.
std::vector<runtime::socket_address> parse_resolv_conf(std::string_view text);

// parse_resolv_conf of the file; a missing file or one without a usable
// nameserver line gives 127.0.0.1:53, as resolv.conf(5) says.
std::vector<runtime::socket_address> read_resolv_conf(
    const std::string& path = "/etc/resolv.conf");

}  // namespace ringmta::dns
