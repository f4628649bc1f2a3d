// Helpers shared by the journal unit tests: sample messages, raw records with a chosen
// payload (valid crc, any bytes), segment images, and scratch directories.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "ringmta/journal/crc32c.h"
#include "ringmta/journal/record.h"

namespace ringmta::journal::test {

// A fresh directory under /tmp (a real disk here: direct writes and fdatasync
// are the file system's own), and its removal.
inline std::string temp_directory(const char* what = "journal") {
    std::string path = "/tmp/ringmta-";
    path.append(what).append("-XXXXXX");
    REQUIRE(mkdtemp(path.data()) != nullptr);
    return path;
}

inline void remove_tree(const std::string& directory) {
    std::string command = "rm -rf '" + directory + "'";
    REQUIRE(std::system(command.c_str()) == 0);
}

// Owns what a message_view points at.
struct sample_message {
    std::uint64_t message_id = 0x0000018c0a0b0c01;
    std::uint64_t arrival_unix_ms = 1700000000123;
    std::uint32_t flags = message_flag_8bitmime;
    std::string sender = "bounce@sender.example";
    std::string helo = "client.example";
    std::string client_address = "192.0.2.10";
    std::string envid = "env-42";
    std::uint8_t ret = 2;
    std::vector<std::string> recipients = {"a@one.example", "b@two.example"};
    std::string body = "Subject: hi\r\n\r\nhello\r\n";

    message_view view() const {
        return message_view{message_id, arrival_unix_ms, flags, sender, helo, client_address,
                            envid, ret, recipients, body};
    }
};

inline std::uint64_t le_u64(std::string_view at) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) {
        v |= static_cast<std::uint64_t>(static_cast<unsigned char>(at[i])) << (8 * i);
    }
    return v;
}

inline void put_u32(std::string& s, std::size_t at, std::uint32_t v) {
    for (std::size_t i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
}
inline void put_u16(std::string& s, std::size_t at, std::uint16_t v) {
    s[at] = static_cast<char>(v);
    s[at + 1] = static_cast<char>(v >> 8);
}

// Appends a record of any type with any payload, correctly framed and checksummed.
inline std::size_t append_raw_record(std::string& out, std::uint16_t type,
                                     std::uint64_t message_id, std::string_view payload) {
    std::size_t start = out.size();
    std::string header(record_header_bytes, '\0');
    put_u32(header, 0, record_magic);
    put_u16(header, 4, type);
    put_u32(header, 8, static_cast<std::uint32_t>(payload.size()));
    for (std::size_t i = 0; i < 8; ++i) header[16 + i] = static_cast<char>(message_id >> (8 * i));
    std::uint32_t crc = crc32c(0, header.data(), header.size());
    crc = crc32c(crc, payload.data(), payload.size());
    put_u32(header, 12, crc);
    out += header;
    out.append(payload.data(), payload.size());
    out.append(record_bytes(payload.size()) - record_header_bytes - payload.size(), '\0');
    return start;
}

inline std::string_view payload_of(std::string_view encoded_record) {
    std::uint32_t bytes = 0;
    std::memcpy(&bytes, encoded_record.data() + 8, 4);
    return encoded_record.substr(record_header_bytes, bytes);
}

// Scans a whole image, returning every record's offset.
inline std::vector<std::size_t> scan_offsets(std::string_view image) {
    segment_scanner scanner(image);
    std::vector<std::size_t> offsets;
    while (auto r = scanner.next()) offsets.push_back(r->offset);
    return offsets;
}

// Deterministic generator (splitmix64) so failures reproduce.
struct test_random {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
        z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    std::string bytes(std::size_t n) {
        std::string s(n, '\0');
        for (char& c : s) c = static_cast<char>(next());
        return s;
    }
};

}  // namespace ringmta::journal::test
