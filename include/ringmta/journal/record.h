// Journal record format: the on-disk layout of every record a shard appends to its segments,
// pure encoders and decoders for each record type, and a scanner that walks a segment image
// (a file read into memory) verifying checksums. No I/O here; the owning shard's journal
// calls these on its own thread. Layout and rules: src/journal/README.md.
//
// A record is a 24-byte header, the payload, then zero padding to the next multiple of 8.
// All integers are little-endian. The header's crc covers the header (crc field zero) and
// the payload, never the padding; from format version 2 every record but the segment
// header is sealed with its segment's key (segment_key.h). Readers skip record types they
// do not know when the checksum is valid, so new types (campaign template, recipient
// batch) can be added.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ringmta/journal/segment_key.h"

namespace ringmta::journal {

// Bytes 'N' 'R' 'J' 'R' on disk ("ringmta journal record", read little-endian). Never zero,
// so a zero-filled (preallocated, never written) region reads as the end of the segment.
inline constexpr std::uint32_t record_magic = 0x524a524e;
// 2: records are sealed with the segment's key, and the segment header carries the
// shard's secret. Version 1 segments (unsealed, crc seeded with 0) are still read.
inline constexpr std::uint32_t segment_format_version = 2;

// Numbers are never reused. Future types (campaign template, recipient batch) take new ones.
enum class record_type : std::uint16_t {
    segment_header = 1,  // first record of every segment
    message = 2,         // envelope + body
    outcome = 3,         // a recipient's final result
    attempt = 4,         // a recipient's retry state after a deferral
};

struct record_header {  // 24 bytes on disk, fields in this order
    std::uint32_t magic;
    std::uint16_t type;
    std::uint16_t flags;          // the segment key's tag (0: unsealed)
    std::uint32_t payload_bytes;  // excluding header and padding
    std::uint32_t crc;            // crc32c from the key's seed over header bytes with crc=0,
                                  // then payload
    std::uint64_t message_id;     // 0 for records that belong to no message
};
inline constexpr std::size_t record_header_bytes = 24;
inline constexpr std::size_t record_alignment = 8;

// Header + payload + padding to record_alignment.
std::size_t record_bytes(std::size_t payload_bytes);

// Limits the decoders enforce (the encoders assert them: a caller must reject such input
// before it reaches the journal).
inline constexpr std::size_t address_bytes_max = 1024;  // sender, helo, client, each rcpt
inline constexpr std::size_t envid_bytes_max = 1024;    // also each recipient's ORCPT
inline constexpr std::size_t recipients_max = 100000;
inline constexpr std::size_t body_bytes_max = 0xffffffff;  // and the payload must fit u32

// `finished`: written by compaction for a recipient that had its outcome before the
// message was rewritten forward (the original record, with the real status, may be
// reclaimed with the old segment); recovery treats it like any outcome.
enum class outcome_status : std::uint8_t { delivered = 1, failed = 2, expired = 3, finished = 4 };

struct recipient_entry {
    std::string address;
    std::uint32_t flags = 0;
    std::string orcpt;  // RFC 3461 ORCPT, "" if none
    std::uint8_t notify = 0;
};

// Message flags.
inline constexpr std::uint32_t message_flag_8bitmime = 1u << 0;
inline constexpr std::uint32_t message_flag_smtputf8 = 1u << 1;
inline constexpr std::uint32_t message_flag_dsn = 1u << 2;  // a bounce we generated
// Delivered before the destination's normal mail (ingress.priority_header: high).
inline constexpr std::uint32_t message_flag_priority_high = 1u << 3;

struct message_record {  // decoded form
    std::uint64_t message_id = 0;
    std::uint64_t arrival_unix_ms = 0;
    std::uint32_t flags = 0;  // message_flag_*
    std::string sender;       // "" = null sender
    std::string helo, client_address;  // who submitted it (for the Received/DSN)
    std::string envid;
    std::uint8_t ret = 0;  // RFC 3461, later use
    std::vector<recipient_entry> recipients;
    std::string body;  // content as it will be sent (unstuffed, trace headers included)
};

// View used on the append path so nothing is copied twice.
struct message_view {
    std::uint64_t message_id;
    std::uint64_t arrival_unix_ms;
    std::uint32_t flags;
    std::string_view sender, helo, client_address, envid;
    std::uint8_t ret;
    std::span<const std::string> recipients;
    std::string_view body;
    // RFC 3461, per recipient: each empty, or as long as recipients.
    std::span<const std::uint8_t> notify = {};  // smtp::notify_* bits, 0 = none given
    std::span<const std::string> orcpt = {};    // xtext as received, "" = none
};

struct outcome_record {
    std::uint64_t message_id;
    std::uint32_t recipient_index;
    outcome_status status;
    std::uint64_t time_unix_ms;
};

// Retry state after a deferral.
struct attempt_record {
    std::uint64_t message_id;
    std::uint32_t recipient_index;
    std::uint32_t attempts;
    std::uint64_t next_attempt_unix_ms;
};

// Always unsealed (crc from 0), so it can be read without the key; it is taken only at
// offset 0 of a segment. Version 1 has no secret (24-byte payload), version 2 does (40).
struct segment_header_record {
    std::uint32_t format_version;
    std::uint32_t shard;
    std::uint64_t sequence;
    std::uint64_t created_unix_ms;
    journal_secret secret = {};  // version 2: the shard's, a copy of journal.key's
};
// A version 2 segment header record, whole: appends go past it.
inline constexpr std::size_t segment_header_record_bytes = 64;

// Encoders APPEND one complete record (header+payload+padding) to `out` and return the
// offset of its first byte within `out`. The body is copied exactly once (into `out`).
// `key`: the key of the segment the record goes to ({}: unsealed, as version 1 wrote).
std::size_t encode_message(std::string& out, const message_view& m, segment_key key = {});
std::size_t encode_outcome(std::string& out, const outcome_record& o, segment_key key = {});
std::size_t encode_attempt(std::string& out, const attempt_record& a, segment_key key = {});
// Unsealed always; version 2 (or later) writes the secret, version 1 does not.
std::size_t encode_segment_header(std::string& out, const segment_header_record& h);

// Seals the whole, checked record at the start of `record` (read from another segment)
// with `key`: sets its tag and recomputes its crc.
void reseal_record(std::span<char> record, segment_key key);

// The payload of the whole record at the start of `record` (checked by a scan before);
// empty when the header's length does not fit in `record`.
std::string_view record_payload(std::string_view record);

// The header at offset 0 of a segment image, if a segment header record is there whole,
// unsealed and well-formed; nullopt otherwise (zeros, torn, damaged).
std::optional<segment_header_record> read_segment_header(std::string_view image);

// Where the body of an encoded message record lies, relative to the record's first byte,
// so a later reader can fetch only the body from disk. The body is the payload's tail.
// Precondition (asserted): encoded_record starts with a whole, checksummed message record.
struct body_location {
    std::uint32_t offset;
    std::uint32_t bytes;
};
body_location message_body_location(std::string_view encoded_record);
// The recipient count of a whole, checked message record (as read_record returns it).
std::uint32_t message_recipient_count(std::string_view encoded_record);

// Decoders: false if the payload is malformed (lengths out of range, trailing bytes, bad
// enum values); they never read out of bounds. `out` is unspecified after a false.
bool decode_message(std::uint64_t message_id, std::string_view payload, message_record& out);
bool decode_outcome(std::uint64_t message_id, std::string_view payload, outcome_record& out);
bool decode_attempt(std::uint64_t message_id, std::string_view payload, attempt_record& out);
bool decode_segment_header(std::string_view payload, segment_header_record& out);

// Scans a segment image (e.g. a whole file read into memory, possibly zero-filled at the
// end). Records start at 8-byte aligned offsets from the image start.
struct scanned_record {
    record_header header;
    std::string_view payload;  // points into the image
    std::size_t offset;        // of the record's first byte within the image
};

// end: zero magic or exact end of data; torn: a header, or a record it announces, runs past
// the data; corrupt: bad magic or crc with no valid record after it. A crash in the middle
// of a write to a zero-filled segment usually shows as `corrupt` (bad crc at the tail), and
// so does one into a recycled file (what follows is the file's earlier data, none of which
// checks out under this segment's key); torn and corrupt tails are handled alike.
enum class scan_stop { end, torn, corrupt };

class segment_scanner {
public:
    // `key`: the segment's; a sealed key takes only records sealed with it, but for the
    // unsealed segment header at segment offset 0. An unsealed key ({}) takes every
    // unsealed record (version 1). `image_offset`: where the image starts in the segment
    // (a record read back from its place).
    explicit segment_scanner(std::string_view image, segment_key key = {},
                             std::uint64_t image_offset = 0);

    // Next valid record; nullopt at the end. A corrupt record (bad magic or crc) in the
    // MIDDLE is counted and skipped when the scanner can re-synchronise: it searches
    // forward (8-byte aligned) for the next record with a valid magic AND crc, so records
    // after a corrupt one are not lost.
    std::optional<scanned_record> next();
    // Offset just past the last valid record (where appends continue).
    std::size_t valid_end() const { return _valid_end; }
    // Meaningful once next() returned nullopt.
    scan_stop stop_reason() const { return _stop; }
    // How many corrupt regions were skipped to re-synchronise.
    std::size_t corrupt_records() const { return _corrupt_records; }

private:
    enum class probe { valid, zero, torn, bad };
    probe check_at(std::size_t offset, scanned_record& out) const;
    std::optional<scanned_record> resynchronise(std::size_t from);
    scanned_record accept(const scanned_record& r);

    std::string_view _image;
    segment_key _key;
    std::uint64_t _image_offset = 0;
    std::size_t _offset = 0;
    std::size_t _valid_end = 0;
    std::size_t _corrupt_records = 0;
    scan_stop _stop = scan_stop::end;
    bool _done = false;
};

}  // namespace ringmta::journal
