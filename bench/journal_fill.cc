// journal_fill: writes a spool as ringmta's journal would hold it after a long
// outage of the receivers: `messages` messages of `recipients` recipients each,
// every recipient deferred (an attempt record with its next try an hour ahead),
// spread over the shards' segment files. bench/recovery.py starts ringmta on it
// to measure recovery time and memory per queued recipient.
//
//   journal_fill SPOOL_DIR SHARDS MESSAGES RECIPIENTS BODY_BYTES [SEGMENT_BYTES]
//
// Uses the journal's own encoders, key file, record seals and segment naming, so
// what ringmta reads is what it would have written.
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "ringmta/journal/id_generator.h"
#include "ringmta/journal/record.h"
#include "ringmta/journal/segment_key.h"

namespace {

using namespace ringmta::journal;

std::uint64_t now_unix_ms() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "journal_fill: %s: %s\n", what.c_str(), std::strerror(errno));
    std::exit(1);
}

// One shard's segment files, written sequentially.
class shard_writer {
public:
    shard_writer(std::string directory, unsigned shard, std::uint64_t segment_bytes)
        : _directory(std::move(directory)), _shard(shard), _segment_bytes(segment_bytes) {
        if (::mkdir(_directory.c_str(), 0700) != 0 && errno != EEXIST) die("mkdir " + _directory);
        if (::getrandom(_secret.bytes.data(), _secret.bytes.size(), 0) !=
            static_cast<ssize_t>(_secret.bytes.size())) {
            die("getrandom");
        }
        std::string key = encode_key_file(key_file{_shard, 1, _secret});
        std::string path = _directory + "/" + key_file_name;
        int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0 || ::write(fd, key.data(), key.size()) != static_cast<ssize_t>(key.size())) {
            die("write " + path);
        }
        ::close(fd);
        open_next();
    }
    ~shard_writer() { close_current(); }

    // Appends the records in `batch` (whole, unsealed records), rolling to a new
    // segment first when they would not fit, sealed with the segment's key.
    void append(std::string& batch) {
        if (_offset + batch.size() > _segment_bytes && _offset > _header_bytes) {
            close_current();
            open_next();
        }
        segment_key key = derive_segment_key(_secret, _sequence);
        for (std::size_t at = 0; at < batch.size();) {
            std::uint32_t payload_bytes = 0;
            std::memcpy(&payload_bytes, batch.data() + at + 8, 4);  // little-endian hosts
            std::size_t bytes = record_bytes(payload_bytes);
            reseal_record(std::span<char>(batch.data() + at, bytes), key);
            at += bytes;
        }
        write_all(batch);
    }
    std::uint64_t segments() const { return _sequence; }

private:
    void open_next() {
        ++_sequence;
        char name[64];
        std::snprintf(name, sizeof name, "/%016" PRIx64 ".seg", _sequence);
        std::string path = _directory + name;
        _fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        if (_fd < 0) die("create " + path);
        _offset = 0;
        std::string header;
        encode_segment_header(header, segment_header_record{segment_format_version, _shard,
                                                            _sequence, now_unix_ms(), _secret});
        _header_bytes = header.size();
        write_all(header);
    }
    void close_current() {
        if (_fd < 0) return;
        // The rest of the segment reads as zeros, as a preallocated segment does.
        if (::ftruncate(_fd, static_cast<off_t>(_segment_bytes)) != 0) die("ftruncate");
        ::close(_fd);
        _fd = -1;
    }
    void write_all(const std::string& data) {
        std::size_t done = 0;
        while (done < data.size()) {
            ssize_t n = ::write(_fd, data.data() + done, data.size() - done);
            if (n < 0) die("write");
            done += static_cast<std::size_t>(n);
        }
        _offset += data.size();
    }

    std::string _directory;
    journal_secret _secret;
    unsigned _shard;
    std::uint64_t _segment_bytes;
    std::uint64_t _sequence = 0;
    std::uint64_t _offset = 0;
    std::size_t _header_bytes = 0;
    int _fd = -1;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 6) {
        std::fprintf(stderr, "usage: journal_fill SPOOL_DIR SHARDS MESSAGES RECIPIENTS "
                             "BODY_BYTES [SEGMENT_BYTES]\n");
        return 2;
    }
    std::string spool = argv[1];
    unsigned shards = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10));
    std::uint64_t messages = std::strtoull(argv[3], nullptr, 10);
    auto recipients = static_cast<std::uint32_t>(std::strtoul(argv[4], nullptr, 10));
    std::size_t body_bytes = std::strtoull(argv[5], nullptr, 10);
    std::uint64_t segment_bytes = argc > 6 ? std::strtoull(argv[6], nullptr, 10) : 64ull << 20;
    if (shards == 0 || shards > 64 || recipients == 0 || recipients > 100000) {
        std::fprintf(stderr, "journal_fill: SHARDS 1..64, RECIPIENTS 1..100000\n");
        return 2;
    }
    if (::mkdir(spool.c_str(), 0700) != 0 && errno != EEXIST) die("mkdir " + spool);

    std::vector<shard_writer> writers;
    std::vector<id_generator> ids;
    writers.reserve(shards);
    for (unsigned s = 0; s < shards; ++s) {
        writers.emplace_back(spool + "/shard-" + std::to_string(s), s, segment_bytes);
        ids.emplace_back(static_cast<std::uint8_t>(s));
    }
    // A plausible newsletter: headers, then text.
    std::string body = "From: News <news@sender.example>\r\nSubject: Weekly\r\n"
                       "Message-ID: <fill@sender.example>\r\n\r\n";
    while (body.size() < body_bytes) body += "The quick brown fox jumps over the lazy dog.\r\n";
    body.resize(std::max(body_bytes, std::size_t(2)));
    body.replace(body.size() - 2, 2, "\r\n");

    std::uint64_t now = now_unix_ms();
    std::uint64_t next_attempt = now + 3600 * 1000;   // an hour ahead: all stay deferred
    std::vector<std::string> addresses(recipients);
    std::string batch;
    for (std::uint64_t m = 0; m < messages; ++m) {
        unsigned shard = static_cast<unsigned>(m % shards);
        std::uint64_t id = ids[shard].next(now);
        for (std::uint32_t r = 0; r < recipients; ++r) {
            // 1,000 domains, so routing builds many destinations as in real queues.
            addresses[r] = "user" + std::to_string(m * recipients + r) + "@domain" +
                           std::to_string((m * recipients + r) % 1000) + ".example";
        }
        message_view view{id, now, 0, "news@sender.example", "client.example", "127.0.0.1",
                          "", 0, addresses, body};
        batch.clear();
        encode_message(batch, view);
        for (std::uint32_t r = 0; r < recipients; ++r) {
            encode_attempt(batch, attempt_record{id, r, 1, next_attempt});
        }
        writers[shard].append(batch);
    }
    std::uint64_t segments = 0;
    for (const shard_writer& w : writers) segments += w.segments();
    std::printf("%" PRIu64 " messages, %" PRIu64 " recipients, %" PRIu64 " segments\n", messages,
                messages * recipients, segments);
    return 0;
}
