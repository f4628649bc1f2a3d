// journal (see journal.h): group commit, start-up replay and oldest-first reclaim.
#include "ringmta/journal/journal.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <utility>

#include <sys/random.h>

#include "ringmta/journal/id_generator.h"
#include "ringmta/runtime/assert.h"
#include "ringmta/runtime/log.h"

namespace ringmta::journal {

namespace {

constexpr const char* segment_suffix = ".seg";
// A removed segment's file kept for the next one (not a segment name: a restart
// removes it, as it holds records of delivered mail only).
constexpr const char* recycled_name = "recycled.tmp";
// Written after each batch's last record: a clean end reads as the end of the
// segment even in a recycled file, whose earlier data follows.
constexpr std::size_t end_marker_bytes = record_alignment;

// The largest batch buffer kept for reuse; a larger batch (a burst of large
// messages) gives its memory back once written.
constexpr std::size_t spare_bytes_max = 8u << 20;

// Segment file names are 16 hex digits + ".seg"; anything else is not ours.
bool parse_segment_name(const char* name, std::uint64_t& sequence) {
    std::size_t length = std::strlen(name);
    if (length != 16 + std::strlen(segment_suffix)) return false;
    if (std::strcmp(name + 16, segment_suffix) != 0) return false;
    char* end = nullptr;
    sequence = std::strtoull(name, &end, 16);
    return end == name + 16;
}

}  // namespace

void log2_histogram::add(std::uint64_t value) {
    std::size_t k = value <= 1 ? 0 : static_cast<std::size_t>(63 - __builtin_clzll(value));
    ++buckets[std::min(k, buckets.size() - 1)];
}

std::uint64_t log2_histogram::count() const {
    std::uint64_t n = 0;
    for (std::uint64_t b : buckets) n += b;
    return n;
}

std::uint64_t log2_histogram::quantile_bound(double q) const {
    std::uint64_t total = count();
    if (total == 0) return 0;
    auto wanted = static_cast<std::uint64_t>(q * static_cast<double>(total) + 0.999999);
    std::uint64_t seen = 0;
    for (std::size_t k = 0; k < buckets.size(); ++k) {
        seen += buckets[k];
        if (seen >= wanted) {
            return k + 1 < buckets.size() ? (std::uint64_t{2} << k) - 1 : ~std::uint64_t{0};
        }
    }
    return ~std::uint64_t{0};
}

std::string describe_group_commit(const journal_stats& stats) {
    if (stats.batches == 0) return "no group commits";
    char line[320];
    std::snprintf(line, sizeof(line),
                  "%" PRIu64 " group commits of %.1f records on average (largest %" PRIu64
                  ", median <= %" PRIu64 "); first record waited %.0f us on average "
                  "(p99 <= %" PRIu64 " us); write+fdatasync %.0f us on average (p50 <= %" PRIu64
                  " us, p99 <= %" PRIu64 " us)",
                  stats.batches, double(stats.records) / double(stats.batches),
                  stats.largest_batch_records, stats.batch_records.quantile_bound(0.5),
                  double(stats.wait_us_total) / double(stats.batches),
                  stats.wait_us.quantile_bound(0.99),
                  double(stats.commit_us_total) / double(std::max<std::uint64_t>(1, stats.commit_us.count())),
                  stats.commit_us.quantile_bound(0.5), stats.commit_us.quantile_bound(0.99));
    char segments[128];
    std::snprintf(segments, sizeof(segments),
                  "; %" PRIu64 " segments made, %" PRIu64 " of them from recycled files, %" PRIu64
                  " files written with zeros",
                  stats.segments_created, stats.segments_recycled, stats.segments_zero_filled);
    return line + std::string(segments);
}

journal::journal(journal_options options, segment_io& io)
    : _options(std::move(options)), _io(io) {}

journal::~journal() {
    for (auto& [sequence, segment] : _segments) {
        if (segment.fd >= 0) _io.close_segment(segment.fd);
    }
}

std::string journal::segment_name(std::uint64_t sequence) const {
    char name[32];
    std::snprintf(name, sizeof(name), "%016" PRIx64 "%s", sequence, segment_suffix);
    return name;
}

std::string journal::open(recovery& into) {
    if (std::string error = _io.prepare_directory(_options.directory); !error.empty()) {
        return error;
    }
    std::vector<std::string> names;
    if (std::string error = _io.list_directory(_options.directory, names); !error.empty()) {
        return error;
    }
    std::vector<std::uint64_t> sequences;
    for (const std::string& name : names) {
        std::uint64_t sequence = 0;
        if (parse_segment_name(name.c_str(), sequence)) sequences.push_back(sequence);
        // Kept for recycling by the last run: records of delivered mail only.
        if (name == recycled_name) {
            log_info("journal %s/%s: kept for recycling by the last run; removed",
                     _options.directory.c_str(), recycled_name);
            _io.remove_segment(_options.directory, name);
        }
    }
    std::sort(sequences.begin(), sequences.end());
    if (std::string error = load_key(sequences); !error.empty()) return error;

    for (std::uint64_t sequence : sequences) {
        std::string name = segment_name(sequence);
        int fd = _io.open_segment(_options.directory, name);
        if (fd < 0) return _options.directory + "/" + name + ": " + std::strerror(-fd);
        into.begin_segment(sequence);
        segment_state state{fd, 0, 0};
        int rc = _io.scan_segment(fd, [&](std::string_view image) {
            state.file_bytes = image.size();
            // The segment's own header, when intact, says how it is sealed (it may
            // even hold another secret: a segment moved from another spool); when
            // damaged, or an earlier segment's (a recycled file whose first commit
            // did not complete), the sequence does.
            std::optional<segment_header_record> header = read_segment_header(image);
            bool own = header && header->sequence == sequence;
            if (own) {
                state.key = header->format_version >= 2
                                ? derive_segment_key(header->secret, sequence)
                                : segment_key{};
            } else if (header) {
                // Another segment's header: a recycled file, and only a version 2
                // writer recycles. Sealed, whatever the key file says.
                state.key = derive_segment_key(_secret, sequence);
            } else {
                state.key = key_for(sequence);
                // No header to go by. Read unsealed only when nothing in it checks out
                // sealed (a version 1 segment): never the other way round, as an
                // unsealed search through a recycled file's old data would take
                // records forged in its bodies.
                segment_key sealed = derive_segment_key(_secret, sequence);
                if (!state.key.sealed() && !image.empty() && segment_scanner(image, sealed).next()) {
                    state.key = sealed;
                }
            }
            if (header && !own) {
                log_info("journal %s/%s: holds segment %" PRIu64 "'s header, not its own: a "
                         "recycled file whose first commit a crash cut short (nothing in it "
                         "was acknowledged)", _options.directory.c_str(), name.c_str(),
                         header->sequence);
            }
            segment_scanner scanner(image, state.key);
            while (std::optional<scanned_record> r = scanner.next()) {
                if (r->offset == 0 && !own) continue;  // the earlier segment's header
                into.apply(*r);
            }
            if (scanner.corrupt_records() > 0) {
                log_error("journal %s/%s: %zu corrupt record(s) skipped",
                          _options.directory.c_str(), name.c_str(), scanner.corrupt_records());
            }
            if (scanner.stop_reason() == scan_stop::torn) {
                log_warn("journal %s/%s: torn record at offset %zu (an unacknowledged write "
                         "cut short by a crash); ignored", _options.directory.c_str(),
                         name.c_str(), scanner.valid_end());
            }
        });
        if (rc < 0) {
            _io.close_segment(fd);
            return _options.directory + "/" + name + ": " + std::strerror(-rc);
        }
        // Kept open: bodies of the messages still queued are read back from it.
        _segments[sequence] = state;
        _current = sequence;
    }
    // New segments are sealed: they come after the last unsealed one.
    _current = std::max(_current, _first_sealed - 1);
    const std::uint64_t started_ms = runtime::monotonic_ms();
    roll(_options.zero_fill_segments);
    if (_options.zero_fill_segments) create_spare();
    if (_stats.segments_zero_filled > 0) {
        log_info("journal %s: %" PRIu64 " new segment file(s) of %.1f MiB written with zeros "
                 "in %" PRIu64 " ms", _options.directory.c_str(), _stats.segments_zero_filled,
                 double(_options.segment_bytes) / double(1 << 20),
                 runtime::monotonic_ms() - started_ms);
    }
    return {};
}

void journal::create_spare() {
    if (!_options.recycle_segments || _recycled || _failure != 0 || !room_for_segment()) {
        return;
    }
    int fd = _io.create_segment(_options.directory, recycled_name, _options.segment_bytes);
    if (fd < 0) {
        log_warn("journal %s/%s: cannot create it: %s", _options.directory.c_str(),
                 recycled_name, std::strerror(-fd));
        return;
    }
    const bool zeroed = zero_fill(fd, recycled_name);
    _io.close_segment(fd);
    if (!zeroed) {
        _io.remove_segment(_options.directory, recycled_name);
        return;
    }
    _recycled = true;
    _recycled_spare = true;
    _recycled_bytes = _options.segment_bytes;
}

segment_key journal::key_for(std::uint64_t sequence) const {
    return sequence >= _first_sealed ? derive_segment_key(_secret, sequence) : segment_key{};
}

std::string journal::load_key(const std::vector<std::uint64_t>& sequences) {
    std::string bytes;
    int rc = _io.read_small_file(_options.directory, key_file_name, &bytes);
    key_file k;
    if (rc == 0 && decode_key_file(bytes, k)) {
        _secret = k.secret;
        _first_sealed = k.first_sealed_sequence;
        return {};
    }
    // Missing (a new spool, or one written by format version 1) or damaged: rebuilt
    // from the segment headers, which carry a copy of the secret. Segments after the
    // last version 1 header are sealed (versions only go up with the sequence), so a
    // damaged header of a sealed segment does not make it read as unsealed.
    // A segment that cannot be read now must not be taken for one without a header:
    // start-up fails instead of writing a key file that might be wrong.
    bool found = false;
    std::uint64_t last_unsealed = 0;
    for (std::uint64_t sequence : sequences) {
        std::string name = segment_name(sequence);
        int fd = _io.open_segment(_options.directory, name);
        if (fd < 0) {
            return _options.directory + "/" + name + ": " + std::strerror(-fd) +
                   " (reading segment headers to rebuild " + key_file_name + ")";
        }
        int scanned = _io.scan_segment(fd, [&](std::string_view image) {
            std::optional<segment_header_record> h = read_segment_header(image);
            if (!h || h->sequence != sequence) return;
            if (h->format_version < 2) {
                last_unsealed = sequence;
            } else {
                _secret = h->secret;
                found = true;
            }
        });
        _io.close_segment(fd);
        if (scanned < 0) {
            return _options.directory + "/" + name + ": " + std::strerror(-scanned) +
                   " (reading segment headers to rebuild " + key_file_name + ")";
        }
        if (found) break;
    }
    _first_sealed = last_unsealed + 1;
    if (!found) {
        if (::getrandom(_secret.bytes.data(), _secret.bytes.size(), 0) !=
            static_cast<ssize_t>(_secret.bytes.size())) {
            return _options.directory + ": cannot draw the journal key: " + std::strerror(errno);
        }
        _first_sealed = sequences.empty() ? 1 : sequences.back() + 1;
    }
    log_info("journal %s: segments from %" PRIu64 " on are sealed with the key in %s",
             _options.directory.c_str(), _first_sealed, key_file_name);
    if (rc != -ENOENT) {
        log_error("journal %s/%s: %s; %s", _options.directory.c_str(), key_file_name,
                  rc < 0 ? std::strerror(-rc) : "damaged (not a key file, or its crc fails)",
                  found ? "rebuilt from the segment headers"
                        : "no segment header holds the key: a new one is made");
    } else if (found) {
        log_warn("journal %s/%s: missing; rebuilt from the segment headers",
                 _options.directory.c_str(), key_file_name);
    }
    key_file made{_options.shard, _first_sealed, _secret};
    if (int w = _io.replace_small_file(_options.directory, key_file_name, encode_key_file(made));
        w < 0) {
        return _options.directory + "/" + key_file_name + ": cannot write: " + std::strerror(-w);
    }
    return {};
}

runtime::task<int> journal::read_record(record_location at, std::uint64_t message_id,
                                        std::string* image) {
    auto it = _segments.find(at.segment_sequence);
    if (it == _segments.end() || it->second.fd < 0 || at.bytes < record_header_bytes) {
        co_return -EBADF;
    }
    // A segment with a read in flight is not removed (its fd stays valid until the
    // read's SQE, perhaps still unsubmitted, has completed).
    ++it->second.reads;
    segment_key key = it->second.key;
    int rc = co_await _io.read_at(it->second.fd, at.offset, at.bytes, image);
    if (--it->second.reads == 0 && it->second.pins == 0 && !_writing) reclaim();
    if (rc < 0) co_return rc;
    ++_body_reads;
    segment_scanner scanner(*image, key, at.offset);
    std::optional<scanned_record> r = scanner.next();
    if (!r || r->offset != 0 || r->header.type != static_cast<std::uint16_t>(record_type::message) ||
        r->header.message_id != message_id) {
        log_error("journal %s: segment %" PRIu64 " offset %" PRIu64 ": the message record of %s "
                  "does not check out on read-back", _options.directory.c_str(),
                  at.segment_sequence, at.offset, format_queue_id(message_id).c_str());
        co_return -EIO;
    }
    image->resize(record_bytes(r->header.payload_bytes));
    co_return 0;
}

runtime::task<int> journal::read_body(record_location at, std::uint64_t message_id,
                                      std::string* body) {
    std::string image;
    int rc = co_await read_record(at, message_id, &image);
    if (rc < 0) co_return rc;
    body_location where = message_body_location(image);
    body->assign(image, where.offset, where.bytes);
    co_return 0;
}

runtime::task<int> journal::read_message(record_location at, std::uint64_t message_id,
                                         message_record* out) {
    std::string image;
    int rc = co_await read_record(at, message_id, &image);
    if (rc < 0) co_return rc;
    // read_record checked the record (crc, seal, type, id) and cut the image to it.
    if (!decode_message(message_id, record_payload(image), *out)) {
        log_error("journal %s: segment %" PRIu64 " offset %" PRIu64 ": the message record of %s "
                  "does not decode on read-back", _options.directory.c_str(),
                  at.segment_sequence, at.offset, format_queue_id(message_id).c_str());
        co_return -EIO;
    }
    co_return 0;
}

void journal::pin_segment(std::uint64_t segment_sequence, std::uint32_t record_bytes) {
    auto it = _segments.find(segment_sequence);
    RINGMTA_ASSERT(it != _segments.end(), "pin of unknown segment %" PRIu64, segment_sequence);
    ++it->second.pins;
    it->second.live_bytes += record_bytes;
}

std::uint64_t journal::live_bytes() const {
    std::uint64_t total = 0;
    for (const auto& [sequence, segment] : _segments) total += segment.live_bytes;
    return total;
}

std::uint64_t journal::compaction_candidate() const {
    if (_failure != 0 || _segments.size() < 3) return 0;
    auto oldest = _segments.begin();
    if (oldest->first == _current || oldest->second.pins == 0) return 0;
    // The file kept for recycling is not counted: compaction cannot free it.
    std::uint64_t segments = spool_bytes() - (_recycled ? _recycled_bytes : 0);
    if (segments <= 2 * live_bytes() + 2 * _options.segment_bytes) return 0;
    return oldest->first;
}

int journal::create_segment(bool zero_fill) {
    std::uint64_t sequence = _current + 1;
    std::string name = segment_name(sequence);
    std::uint64_t file_bytes = _options.segment_bytes;
    int fd = -ENOENT;
    if (_recycled) {
        file_bytes = std::max(file_bytes, _recycled_bytes);
        fd = reuse_recycled(name);
        // Failed (the journal stopped): not "no space", whatever the errno was.
        if (_failure != 0) return -EIO;
    }
    if (fd < 0) {
        file_bytes = _options.segment_bytes;
        fd = _io.create_segment(_options.directory, name, _options.segment_bytes);
        if (fd >= 0 && zero_fill) this->zero_fill(fd, name);
    }
    if (fd < 0) return fd;
    segment_state& created = _segments[sequence];
    created = segment_state{fd, 0, 0};
    created.key = key_for(sequence);
    created.file_bytes = file_bytes;
    _current = sequence;
    _current_key = created.key;
    ++_stats.segments_created;
    segment_header_record header{segment_format_version, _options.shard, sequence,
                                 runtime::unix_ms(), _secret};
    chunk& c = reserve(0);
    encode_segment_header(c.data, header);
    appended(c);
    return 0;
}

bool journal::zero_fill(int fd, const std::string& name) {
    if (int rc = _io.write_zeros(fd, _options.segment_bytes); rc < 0) {
        // Only slower commits in that segment: no reason to stop.
        log_warn("journal %s/%s: cannot write it with zeros: %s; appends to it would "
                 "commit more slowly", _options.directory.c_str(), name.c_str(),
                 std::strerror(-rc));
        return false;
    }
    ++_stats.segments_zero_filled;
    return true;
}

int journal::reuse_recycled(const std::string& name) {
    _recycled = false;
    const bool spare = std::exchange(_recycled_spare, false);
    // A file smaller than a segment would grow (file metadata in every commit).
    int rc = _recycled_bytes >= _options.segment_bytes
                 ? _io.rename_segment(_options.directory, recycled_name, name)
                 : -EFBIG;
    if (rc < 0) {
        if (rc != -EFBIG) {
            log_warn("journal %s: cannot reuse %s as %s: %s; a new file instead",
                     _options.directory.c_str(), recycled_name, name.c_str(), std::strerror(-rc));
        }
        _io.remove_segment(_options.directory, recycled_name);
        return -ENOENT;
    }
    // The new name is durable before any record in the file is acknowledged. Until
    // the segment's header is, the file holds only what the earlier segment sealed
    // with its key: under the new name, none of it reads as a record.
    rc = _io.sync_directory(_options.directory);
    if (rc < 0) {
        fail("directory fsync after renaming " + std::string(recycled_name) + " to " + name, rc);
        return rc;
    }
    int fd = _io.open_segment(_options.directory, name, true);
    if (fd < 0) {
        fail("opening the recycled file " + name, fd);
        return fd;
    }
    if (!spare) ++_stats.segments_recycled;
    return fd;
}

bool journal::room_for_segment() const {
    // A recycled file is already counted in spool_bytes(): using it adds nothing.
    return _options.spool_bytes_max == 0 ||
           (_recycled && _recycled_bytes >= _options.segment_bytes) ||
           spool_bytes() + _options.segment_bytes <= _options.spool_bytes_max;
}

void journal::roll(bool zero_fill) {
    if (int rc = create_segment(zero_fill); rc < 0) {
        fail("cannot create segment " + segment_name(_current + 1), rc);
    }
}

std::uint64_t journal::spool_bytes() const {
    std::uint64_t total = _recycled ? _recycled_bytes : 0;
    for (const auto& [sequence, segment] : _segments) {
        total += std::max(segment.file_bytes, segment.write_offset + end_marker_bytes);
    }
    return total;
}

bool journal::fits(std::size_t bytes) const {
    auto it = _segments.find(_current);
    if (it == _segments.end() || it->second.fd < 0) return false;
    // A segment holding only its header takes any record (segments are a soft size).
    // The end marker after the last batch stays inside the (preallocated) file too.
    return it->second.write_offset <= segment_header_record_bytes ||
           it->second.write_offset + bytes + end_marker_bytes <= _options.segment_bytes;
}

bool journal::make_room(std::size_t bytes) {
    if (_failure != 0) return false;
    if (fits(bytes)) {
        _full = false;
        return true;
    }
    if (!room_for_segment()) {
        _full = true;
        return false;
    }
    int rc = create_segment();
    if (rc == -ENOSPC || rc == -EDQUOT) {
        if (!_full) {
            log_warn("journal %s: no space for a new segment (%s): refusing new mail with "
                     "452 4.3.1 until space returns", _options.directory.c_str(),
                     std::strerror(-rc));
        }
        _full = true;
        return false;
    }
    if (rc < 0) {
        fail("cannot create segment " + segment_name(_current + 1), rc);
        return false;
    }
    _full = false;
    return true;
}

journal::chunk& journal::reserve(std::size_t estimate_bytes) {
    // A record that would cross the end of the segment starts a new one when one can
    // be created; otherwise (spool full) it goes past the nominal size: only message
    // records wait for room, through make_room().
    if (!fits(estimate_bytes) && _segments[_current].fd >= 0 && room_for_segment()) {
        if (int rc = create_segment(); rc < 0 && rc != -ENOSPC && rc != -EDQUOT) {
            fail("cannot create segment " + segment_name(_current + 1), rc);
        }
    }
    segment_state& target = _segments[_current];
    if (_pending.empty() || _pending.back().segment_sequence != _current) {
        chunk c;
        c.segment_sequence = _current;
        c.fd = target.fd;
        c.offset = target.write_offset;
        c.data.swap(_spare);
        c.data.reserve(estimate_bytes);
        _pending.push_back(std::move(c));
    }
    return _pending.back();
}

std::uint64_t journal::append_message(const message_view& m, record_location* where) {
    std::size_t estimate = record_header_bytes + 64 + m.body.size() + m.sender.size() +
                           m.helo.size() + m.client_address.size() + m.envid.size();
    for (const std::string& r : m.recipients) estimate += r.size() + 16;
    chunk& c = reserve(estimate);
    std::size_t at = encode_message(c.data, m, _current_key);
    if (where) {
        *where = record_location{_current, c.offset + at,
                                 static_cast<std::uint32_t>(c.data.size() - at)};
    }
    segment_state& target = _segments[_current];
    ++target.pins;
    target.live_bytes += c.data.size() - at;
    return appended(c);
}

std::uint64_t journal::append_message_image(std::string_view image, record_location* where) {
    chunk& c = reserve(image.size());
    std::size_t at = c.data.size();
    c.data.append(image);
    // Read from (and sealed for) another segment: sealed for this one.
    reseal_record(std::span<char>(c.data.data() + at, image.size()), _current_key);
    *where = record_location{_current, c.offset + at, static_cast<std::uint32_t>(image.size())};
    segment_state& target = _segments[_current];
    ++target.pins;
    target.live_bytes += image.size();
    ++_stats.messages_rewritten;
    _stats.bytes_rewritten += image.size();
    return appended(c);
}

std::uint64_t journal::append_outcome(const outcome_record& o) {
    chunk& c = reserve(record_header_bytes + 32);
    encode_outcome(c.data, o, _current_key);
    return appended(c);
}

std::uint64_t journal::append_attempt(const attempt_record& a) {
    chunk& c = reserve(record_header_bytes + 32);
    encode_attempt(c.data, a, _current_key);
    return appended(c);
}

std::uint64_t journal::appended(chunk& c) {
    std::uint64_t end = c.offset + c.data.size();
    _pending_bytes += end - _segments[_current].write_offset;
    _segments[_current].write_offset = end;
    ++_stats.records;
    if (_pending_records++ == 0) _batch_opened_ns = runtime::monotonic_ns();
    c.last_ticket = ++_appended;
    return c.last_ticket;
}

void journal::unpin_segment(std::uint64_t segment_sequence, std::uint32_t record_bytes,
                            std::uint64_t ticket) {
    _releases.push_back({ticket, segment_sequence, record_bytes});
    // Already durable (compaction unpins after its wait): released now.
    if (!_writing) reclaim();
}

void journal::before_wait() {
    if (_writing || _pending.empty() || _failure != 0) return;
    if (_options.commit_delay_ms > 0 && _pending_bytes < commit_early_bytes) {
        runtime::reactor& r = runtime::reactor::current();
        std::uint64_t due_ms = (_batch_opened_ns + 999999) / 1000000 + _options.commit_delay_ms;
        if (r.now_ms() < due_ms) {
            r.wake_by(due_ms);
            return;
        }
    }
    std::uint64_t now = runtime::monotonic_ns();
    std::uint64_t waited_us = (now - _batch_opened_ns) / 1000;
    _stats.wait_us.add(waited_us);
    _stats.wait_us_total += waited_us;
    _stats.batch_records.add(_pending_records);
    _stats.largest_batch_records = std::max(_stats.largest_batch_records, _pending_records);
    _in_flight_started_ns = now;
    _pending_records = 0;
    _pending_bytes = 0;
    _in_flight.swap(_pending);
    // Each chunk ends with an end marker, which the next batch overwrites.
    for (chunk& c : _in_flight) c.data.append(end_marker_bytes, '\0');
    _writing = true;
    ++_stats.batches;
    start_next_chunk();
}

void journal::start_next_chunk() {
    chunk& c = _in_flight.front();
    std::string_view rest = std::string_view(c.data).substr(c.written);
    _io.start_append(c.fd, rest, c.offset + c.written, _options.sync, this);
}

void journal::append_done(int result) {
    chunk& c = _in_flight.front();
    std::size_t remaining = c.data.size() - c.written;
    if (result < 0 || (result == 0 && remaining > 0)) {
        char where[64];
        std::snprintf(where, sizeof(where), " at offset %" PRIu64, c.offset + c.written);
        fail((_options.sync ? "write or fdatasync of " : "write of ") +
                 segment_name(c.segment_sequence) + where,
             result < 0 ? result : -EIO);
        return;
    }
    c.written += static_cast<std::size_t>(result);
    _stats.bytes += static_cast<std::uint64_t>(result);
    if (c.written < c.data.size()) {  // a short write: the rest, then the fdatasync
        start_next_chunk();
        return;
    }
    _durable = c.last_ticket;
    if (c.data.capacity() > _spare.capacity() && c.data.capacity() <= spare_bytes_max) {
        c.data.clear();
        _spare.swap(c.data);
    }
    _in_flight.pop_front();
    wake_waiters(false);
    if (!_in_flight.empty()) {
        start_next_chunk();
        return;
    }
    _writing = false;
    std::uint64_t commit_us = (runtime::monotonic_ns() - _in_flight_started_ns) / 1000;
    _stats.commit_us.add(commit_us);
    _stats.commit_us_total += commit_us;
    reclaim();
}

void journal::fail(const std::string& what, int error) {
    if (_failure != 0) return;
    _failure = error;
    std::string message = _options.directory + ": " + what + " failed: " +
                          std::strerror(-error) +
                          "; no retry (after a failed fsync the page cache cannot be trusted): "
                          "the shard stops and recovery takes over on restart";
    if (!_options.on_storage_failure) {
        log_error("journal %s", message.c_str());
        std::_Exit(75);
    }
    _options.on_storage_failure(message);
    _writing = false;
    wake_waiters(true);
}

void journal::wake_waiters(bool all) {
    runtime::reactor& r = runtime::reactor::current();
    auto still_waiting = std::stable_partition(
        _waiters.begin(), _waiters.end(),
        [this, all](const waiter& w) { return !all && w.ticket > _durable; });
    for (auto it = still_waiting; it != _waiters.end(); ++it) r.schedule(it->handle);
    _waiters.erase(still_waiting, _waiters.end());
}

bool journal::recycle(std::uint64_t sequence, const segment_state& segment) {
    if (!_options.recycle_segments || _recycled || _failure != 0) return false;
    // Not made durable, as the unlink it stands for is not: after a crash the file
    // may show under its old name again, holding mail whose outcomes say it was
    // delivered (or, if those went too, it is delivered again: at least once,
    // never lost). Its next name is made durable before it takes a record.
    if (_io.rename_segment(_options.directory, segment_name(sequence), recycled_name) < 0) {
        return false;
    }
    _recycled = true;
    _recycled_bytes = std::max(segment.file_bytes, segment.write_offset + end_marker_bytes);
    return true;
}

void journal::reclaim() {
    while (!_releases.empty() && _releases.front().ticket <= _durable) {
        auto it = _segments.find(_releases.front().segment_sequence);
        RINGMTA_ASSERT(it != _segments.end() && it->second.pins > 0 &&
                           it->second.live_bytes >= _releases.front().record_bytes,
                       "unbalanced segment pin");
        --it->second.pins;
        it->second.live_bytes -= _releases.front().record_bytes;
        _releases.pop_front();
    }
    // Oldest first: outcome records in a segment may finish messages in older ones,
    // so a segment goes only when every older segment has gone before it.
    while (_segments.size() > 1) {
        auto oldest = _segments.begin();
        if (oldest->first == _current || oldest->second.pins > 0 || oldest->second.reads > 0) {
            break;
        }
        auto in_batch = [&](const chunk& c) { return c.segment_sequence == oldest->first; };
        if (std::any_of(_pending.begin(), _pending.end(), in_batch)) break;
        if (oldest->second.fd >= 0) _io.close_segment(oldest->second.fd);
        if (!recycle(oldest->first, oldest->second)) {
            int rc = _io.remove_segment(_options.directory, segment_name(oldest->first));
            if (rc < 0 && rc != -ENOENT) {
                log_warn("journal %s/%s: cannot remove: %s", _options.directory.c_str(),
                         segment_name(oldest->first).c_str(), std::strerror(-rc));
            }
        }
        ++_stats.segments_removed;
        _segments.erase(oldest);
    }
}

}  // namespace ringmta::journal
