// Journal record encoding, decoding and segment scanning. Pure code: byte strings in, byte
// strings out, on the shard that owns the journal. Every length read from disk is checked
// against the bytes that remain before use, so a malformed payload can never make a
// decoder read out of bounds or allocate more than the payload could describe.
// Layout tables: src/journal/README.md.
#include "ringmta/journal/record.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "ringmta/journal/crc32c.h"
#include "ringmta/runtime/assert.h"

namespace ringmta::journal {
namespace {

constexpr std::size_t message_fixed_bytes = 32;
constexpr std::size_t recipient_fixed_bytes = 10;
constexpr std::size_t outcome_payload_bytes = 16;
constexpr std::size_t attempt_payload_bytes = 16;
constexpr std::size_t segment_header_v1_payload_bytes = 24;
constexpr std::size_t segment_header_payload_bytes = 40;  // version 2: the secret too
constexpr std::size_t crc_field_offset = 12;
constexpr std::size_t recipient_count_field_offset = 12;  // within a message payload
constexpr std::size_t body_bytes_field_offset = 16;

// Little-endian integer stores, written byte by byte so the format does not depend on the
// host; compilers turn each into one store.
template <typename Int>
void put_le(char* at, Int value) {
    for (std::size_t i = 0; i < sizeof(Int); ++i) {
        at[i] = static_cast<char>(static_cast<std::uint64_t>(value) >> (8 * i));
    }
}

template <typename Int>
void append_le(std::string& out, Int value) {
    char bytes[sizeof(Int)];
    put_le(bytes, value);
    out.append(bytes, sizeof(Int));
}

template <typename Int>
Int get_le(const char* at) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < sizeof(Int); ++i) {
        value |= static_cast<std::uint64_t>(static_cast<unsigned char>(at[i])) << (8 * i);
    }
    return static_cast<Int>(value);
}

// Bounds-checked sequential reader over a payload; every get fails instead of overrunning.
class payload_reader {
public:
    explicit payload_reader(std::string_view data) : _data(data) {}

    template <typename Int>
    bool get(Int& out) {
        if (remaining() < sizeof(Int)) return false;
        out = get_le<Int>(_data.data() + _offset);
        _offset += sizeof(Int);
        return true;
    }
    bool get_bytes(std::size_t bytes, std::string_view& out) {
        if (remaining() < bytes) return false;
        out = _data.substr(_offset, bytes);
        _offset += bytes;
        return true;
    }
    bool skip(std::size_t bytes) {
        if (remaining() < bytes) return false;
        _offset += bytes;
        return true;
    }
    std::size_t remaining() const { return _data.size() - _offset; }

private:
    std::string_view _data;
    std::size_t _offset = 0;
};

// Starts a record: appends the header with a zero crc. Returns the record's offset.
std::size_t begin_record(std::string& out, record_type type, std::size_t payload_bytes,
                         std::uint64_t message_id, segment_key key) {
    RINGMTA_ASSERT(payload_bytes <= std::numeric_limits<std::uint32_t>::max(),
                   "journal record payload of %zu bytes does not fit the header", payload_bytes);
    std::size_t start = out.size();
    out.reserve(start + record_bytes(payload_bytes));
    append_le(out, record_magic);
    append_le(out, static_cast<std::uint16_t>(type));
    append_le(out, key.tag);
    append_le(out, static_cast<std::uint32_t>(payload_bytes));
    append_le(out, std::uint32_t{0});
    append_le(out, message_id);
    return start;
}

// Ends a record: pads to the alignment and fills in the crc over header and payload.
std::size_t finish_record(std::string& out, std::size_t start, segment_key key) {
    std::size_t written = out.size() - start;
    std::size_t payload_bytes = get_le<std::uint32_t>(out.data() + start + 8);
    RINGMTA_ASSERT(written == record_header_bytes + payload_bytes,
                   "journal encoder wrote %zu bytes for a %zu byte payload", written,
                   payload_bytes);
    std::uint32_t crc = crc32c(key.seed, out.data() + start, written);
    put_le(out.data() + start + crc_field_offset, crc);
    out.append(record_bytes(payload_bytes) - written, '\0');
    return start;
}

void append_string(std::string& out, std::string_view s) { out.append(s.data(), s.size()); }

void assert_field(std::string_view value, std::size_t max_bytes, const char* name) {
    RINGMTA_ASSERT(value.size() <= max_bytes, "journal: %s of %zu bytes exceeds %zu", name,
                   value.size(), max_bytes);
}

bool read_string(payload_reader& in, std::size_t bytes, std::string& out) {
    std::string_view view;
    if (!in.get_bytes(bytes, view)) return false;
    out.assign(view);
    return true;
}

bool decode_recipient(payload_reader& in, recipient_entry& out) {
    std::uint16_t address_bytes = 0;
    std::uint16_t orcpt_bytes = 0;
    bool ok = in.get(out.flags) && in.get(address_bytes) && in.get(orcpt_bytes) &&
              in.get(out.notify) && in.skip(1);
    if (!ok || address_bytes == 0 || address_bytes > address_bytes_max ||
        orcpt_bytes > envid_bytes_max) {
        return false;
    }
    return read_string(in, address_bytes, out.address) && read_string(in, orcpt_bytes, out.orcpt);
}

}  // namespace

std::size_t record_bytes(std::size_t payload_bytes) {
    std::size_t unpadded = record_header_bytes + payload_bytes;
    return (unpadded + record_alignment - 1) & ~(record_alignment - 1);
}

std::size_t encode_message(std::string& out, const message_view& m, segment_key key) {
    assert_field(m.sender, address_bytes_max, "sender");
    assert_field(m.helo, address_bytes_max, "helo");
    assert_field(m.client_address, address_bytes_max, "client address");
    assert_field(m.envid, envid_bytes_max, "envid");
    RINGMTA_ASSERT(!m.recipients.empty() && m.recipients.size() <= recipients_max,
                   "journal: message with %zu recipients", m.recipients.size());
    std::size_t payload_bytes = message_fixed_bytes + m.sender.size() + m.helo.size() +
                                m.client_address.size() + m.envid.size() + m.body.size();
    RINGMTA_ASSERT(m.notify.empty() || m.notify.size() == m.recipients.size(),
                   "journal: %zu NOTIFY values for %zu recipients", m.notify.size(),
                   m.recipients.size());
    RINGMTA_ASSERT(m.orcpt.empty() || m.orcpt.size() == m.recipients.size(),
                   "journal: %zu ORCPT values for %zu recipients", m.orcpt.size(),
                   m.recipients.size());
    for (std::size_t i = 0; i < m.recipients.size(); ++i) {
        const std::string& address = m.recipients[i];
        RINGMTA_ASSERT(!address.empty() && address.size() <= address_bytes_max,
                       "journal: recipient address of %zu bytes", address.size());
        payload_bytes += recipient_fixed_bytes + address.size();
        if (!m.orcpt.empty()) {
            assert_field(m.orcpt[i], envid_bytes_max, "orcpt");
            payload_bytes += m.orcpt[i].size();
        }
    }
    std::size_t start = begin_record(out, record_type::message, payload_bytes, m.message_id, key);
    append_le(out, m.arrival_unix_ms);
    append_le(out, m.flags);
    append_le(out, static_cast<std::uint32_t>(m.recipients.size()));
    append_le(out, static_cast<std::uint32_t>(m.body.size()));  // fits: payload fits u32
    append_le(out, m.ret);
    append_le(out, std::uint8_t{0});
    append_le(out, static_cast<std::uint16_t>(m.sender.size()));
    append_le(out, static_cast<std::uint16_t>(m.helo.size()));
    append_le(out, static_cast<std::uint16_t>(m.client_address.size()));
    append_le(out, static_cast<std::uint16_t>(m.envid.size()));
    append_le(out, std::uint16_t{0});
    append_string(out, m.sender);
    append_string(out, m.helo);
    append_string(out, m.client_address);
    append_string(out, m.envid);
    for (std::size_t i = 0; i < m.recipients.size(); ++i) {
        std::string_view orcpt = m.orcpt.empty() ? std::string_view() : m.orcpt[i];
        append_le(out, std::uint32_t{0});  // flags
        append_le(out, static_cast<std::uint16_t>(m.recipients[i].size()));
        append_le(out, static_cast<std::uint16_t>(orcpt.size()));
        append_le(out, m.notify.empty() ? std::uint8_t{0} : m.notify[i]);
        append_le(out, std::uint8_t{0});
        append_string(out, m.recipients[i]);
        append_string(out, orcpt);
    }
    append_string(out, m.body);  // the one copy of the body
    return finish_record(out, start, key);
}

std::size_t encode_outcome(std::string& out, const outcome_record& o, segment_key key) {
    std::size_t start = begin_record(out, record_type::outcome, outcome_payload_bytes,
                                     o.message_id, key);
    append_le(out, o.recipient_index);
    append_le(out, static_cast<std::uint8_t>(o.status));
    out.append(3, '\0');
    append_le(out, o.time_unix_ms);
    return finish_record(out, start, key);
}

std::size_t encode_attempt(std::string& out, const attempt_record& a, segment_key key) {
    std::size_t start = begin_record(out, record_type::attempt, attempt_payload_bytes,
                                     a.message_id, key);
    append_le(out, a.recipient_index);
    append_le(out, a.attempts);
    append_le(out, a.next_attempt_unix_ms);
    return finish_record(out, start, key);
}

std::size_t encode_segment_header(std::string& out, const segment_header_record& h) {
    bool secret = h.format_version >= 2;
    std::size_t start = begin_record(
        out, record_type::segment_header,
        secret ? segment_header_payload_bytes : segment_header_v1_payload_bytes, 0, {});
    append_le(out, h.format_version);
    append_le(out, h.shard);
    append_le(out, h.sequence);
    append_le(out, h.created_unix_ms);
    if (secret) out.append(reinterpret_cast<const char*>(h.secret.bytes.data()), h.secret.bytes.size());
    return finish_record(out, start, {});
}

void reseal_record(std::span<char> record, segment_key key) {
    RINGMTA_ASSERT(record.size() >= record_header_bytes, "reseal of a %zu byte record",
                   record.size());
    std::size_t payload_bytes = get_le<std::uint32_t>(record.data() + 8);
    RINGMTA_ASSERT(record.size() >= record_header_bytes + payload_bytes,
                   "reseal of a cut-off record");
    put_le(record.data() + 6, key.tag);
    put_le(record.data() + crc_field_offset, std::uint32_t{0});
    std::uint32_t crc = crc32c(key.seed, record.data(), record_header_bytes + payload_bytes);
    put_le(record.data() + crc_field_offset, crc);
}

std::string_view record_payload(std::string_view record) {
    if (record.size() < record_header_bytes) return {};
    std::size_t payload_bytes = get_le<std::uint32_t>(record.data() + 8);
    if (payload_bytes > record.size() - record_header_bytes) return {};
    return record.substr(record_header_bytes, payload_bytes);
}

std::optional<segment_header_record> read_segment_header(std::string_view image) {
    // Unsealed, at offset 0: what a scan with no key returns first.
    segment_scanner scanner(image.substr(0, std::min(image.size(), segment_header_record_bytes)));
    std::optional<scanned_record> r = scanner.next();
    segment_header_record h{};
    if (!r || r->offset != 0 ||
        r->header.type != static_cast<std::uint16_t>(record_type::segment_header) ||
        !decode_segment_header(r->payload, h)) {
        return std::nullopt;
    }
    return h;
}

body_location message_body_location(std::string_view encoded_record) {
    RINGMTA_ASSERT(encoded_record.size() >= record_header_bytes + message_fixed_bytes,
                   "journal: %zu bytes cannot hold a message record", encoded_record.size());
    const char* at = encoded_record.data();
    auto magic = get_le<std::uint32_t>(at);
    auto type = get_le<std::uint16_t>(at + 4);
    auto payload_bytes = get_le<std::uint32_t>(at + 8);
    RINGMTA_ASSERT(magic == record_magic &&
                       type == static_cast<std::uint16_t>(record_type::message),
                   "journal: not a message record (magic %08x type %u)", magic, type);
    RINGMTA_ASSERT(encoded_record.size() >= record_header_bytes + payload_bytes &&
                       payload_bytes >= message_fixed_bytes,
                   "journal: message record of %u payload bytes cut at %zu", payload_bytes,
                   encoded_record.size());
    auto body_bytes = get_le<std::uint32_t>(at + record_header_bytes + body_bytes_field_offset);
    RINGMTA_ASSERT(body_bytes <= payload_bytes - message_fixed_bytes,
                   "journal: body of %u bytes in a %u byte payload", body_bytes, payload_bytes);
    auto offset = static_cast<std::uint32_t>(record_header_bytes + payload_bytes - body_bytes);
    return body_location{offset, body_bytes};
}

std::uint32_t message_recipient_count(std::string_view encoded_record) {
    message_body_location(encoded_record);   // asserts it is a whole message record
    return get_le<std::uint32_t>(encoded_record.data() + record_header_bytes +
                                 recipient_count_field_offset);
}

bool decode_message(std::uint64_t message_id, std::string_view payload, message_record& out) {
    payload_reader in(payload);
    std::uint32_t recipient_count = 0;
    std::uint32_t body_bytes = 0;
    std::uint16_t sender_bytes = 0, helo_bytes = 0, client_bytes = 0, envid_bytes = 0;
    out.message_id = message_id;
    bool ok = in.get(out.arrival_unix_ms) && in.get(out.flags) && in.get(recipient_count) &&
              in.get(body_bytes) && in.get(out.ret) && in.skip(1) && in.get(sender_bytes) &&
              in.get(helo_bytes) && in.get(client_bytes) && in.get(envid_bytes) && in.skip(2);
    if (!ok || sender_bytes > address_bytes_max || helo_bytes > address_bytes_max ||
        client_bytes > address_bytes_max || envid_bytes > envid_bytes_max ||
        recipient_count == 0 || recipient_count > recipients_max) {
        return false;
    }
    ok = read_string(in, sender_bytes, out.sender) && read_string(in, helo_bytes, out.helo) &&
         read_string(in, client_bytes, out.client_address) &&
         read_string(in, envid_bytes, out.envid);
    // Each recipient takes at least its fixed part plus one address byte: a count that
    // could not fit is rejected before anything is allocated for it.
    if (!ok || in.remaining() < body_bytes ||
        (in.remaining() - body_bytes) / (recipient_fixed_bytes + 1) < recipient_count) {
        return false;
    }
    out.recipients.clear();
    out.recipients.resize(recipient_count);
    for (recipient_entry& r : out.recipients) {
        if (!decode_recipient(in, r)) return false;
    }
    // The body is the payload's tail, exactly (message_body_location relies on it).
    if (in.remaining() != body_bytes) return false;
    return read_string(in, body_bytes, out.body);
}

bool decode_outcome(std::uint64_t message_id, std::string_view payload, outcome_record& out) {
    if (payload.size() != outcome_payload_bytes) return false;
    payload_reader in(payload);
    std::uint8_t status = 0;
    out.message_id = message_id;
    bool ok = in.get(out.recipient_index) && in.get(status) && in.skip(3) &&
              in.get(out.time_unix_ms);
    if (!ok || status < static_cast<std::uint8_t>(outcome_status::delivered) ||
        status > static_cast<std::uint8_t>(outcome_status::finished)) {
        return false;
    }
    out.status = static_cast<outcome_status>(status);
    return true;
}

bool decode_attempt(std::uint64_t message_id, std::string_view payload, attempt_record& out) {
    if (payload.size() != attempt_payload_bytes) return false;
    payload_reader in(payload);
    out.message_id = message_id;
    return in.get(out.recipient_index) && in.get(out.attempts) &&
           in.get(out.next_attempt_unix_ms);
}

bool decode_segment_header(std::string_view payload, segment_header_record& out) {
    if (payload.size() != segment_header_v1_payload_bytes &&
        payload.size() != segment_header_payload_bytes) {
        return false;
    }
    payload_reader in(payload);
    out.secret = {};
    if (!in.get(out.format_version) || !in.get(out.shard) || !in.get(out.sequence) ||
        !in.get(out.created_unix_ms)) {
        return false;
    }
    // Version 1 has no secret; version 2 always has one.
    if ((out.format_version >= 2) != (payload.size() == segment_header_payload_bytes)) {
        return false;
    }
    std::string_view secret;
    if (in.get_bytes(in.remaining(), secret)) {
        std::memcpy(out.secret.bytes.data(), secret.data(), secret.size());
    }
    return true;
}

// --- segment_scanner -----------------------------------------------------------------------
// Stop rules, and why:
// * Zero magic is the end: segments are zero-filled before use, and an fdatasync covers
//   every earlier write, so nothing acknowledged can follow a never-written record start.
// * A header whose record runs past the data is a torn tail. The scanner does not search
//   inside it: its payload may be a message body, and a body can hold bytes that form a
//   well-checksummed record (anyone can mail one), which must never be taken as real.
// * Bad magic or crc: re-synchronise. When the magic is right and the announced record fits,
//   the search starts past that record (same reason: never look inside a payload); else it
//   starts at the next aligned offset.
// * With a sealed key, a record must carry its tag and check out from its seed; else it is
//   bad like a wrong crc (before the torn check: a foreign header's length means nothing).
//   So neither what a recycled file held before (sealed with another segment's key) nor
//   bytes in a body (no one outside knows the key) is ever taken, not even by the search.
//   The one unsealed record taken is the segment header, and only at segment offset 0,
//   which is always the segment's own header or, in a recycled file whose first commit
//   did not complete, the earlier segment's (the journal tells them apart by sequence).

segment_scanner::segment_scanner(std::string_view image, segment_key key,
                                 std::uint64_t image_offset)
    : _image(image), _key(key), _image_offset(image_offset) {}

segment_scanner::probe segment_scanner::check_at(std::size_t offset, scanned_record& out) const {
    std::size_t remaining = _image.size() - offset;
    const char* at = _image.data() + offset;
    if (remaining < record_header_bytes) {
        // A cut-off header: zeros are the end, a prefix of the magic a torn write.
        char magic_bytes[4];
        put_le(magic_bytes, record_magic);
        bool zero = true;
        bool magic_prefix = true;
        for (std::size_t i = 0; i < remaining && i < 4; ++i) {
            zero = zero && at[i] == 0;
            magic_prefix = magic_prefix && at[i] == magic_bytes[i];
        }
        if (zero) return probe::zero;  // zero magic, or all that is left of it
        return magic_prefix ? probe::torn : probe::bad;
    }
    record_header& h = out.header;
    h.magic = get_le<std::uint32_t>(at);
    if (h.magic == 0) return probe::zero;
    if (h.magic != record_magic) return probe::bad;
    h.type = get_le<std::uint16_t>(at + 4);
    h.flags = get_le<std::uint16_t>(at + 6);
    h.payload_bytes = get_le<std::uint32_t>(at + 8);
    h.crc = get_le<std::uint32_t>(at + crc_field_offset);
    h.message_id = get_le<std::uint64_t>(at + 16);
    segment_key key = _key;
    if (key.sealed() && _image_offset + offset == 0) {
        if (h.type != static_cast<std::uint16_t>(record_type::segment_header)) return probe::bad;
        key = segment_key{};
    }
    if (h.flags != key.tag && key.sealed()) return probe::bad;
    if (record_bytes(h.payload_bytes) > remaining) return probe::torn;
    char header_zero_crc[record_header_bytes];
    std::memcpy(header_zero_crc, at, record_header_bytes);
    put_le(header_zero_crc + crc_field_offset, std::uint32_t{0});
    std::uint32_t crc = crc32c(key.seed, header_zero_crc, record_header_bytes);
    crc = crc32c(crc, at + record_header_bytes, h.payload_bytes);
    if (crc != h.crc) return probe::bad;
    out.payload = _image.substr(offset + record_header_bytes, h.payload_bytes);
    out.offset = offset;
    return probe::valid;
}

scanned_record segment_scanner::accept(const scanned_record& r) {
    _offset = r.offset + record_bytes(r.header.payload_bytes);
    _valid_end = _offset;
    return r;
}

std::optional<scanned_record> segment_scanner::resynchronise(std::size_t from) {
    // Bounded by the image: one step per aligned offset, a crc only where the magic matches.
    for (std::size_t offset = from; offset + 4 <= _image.size(); offset += record_alignment) {
        if (get_le<std::uint32_t>(_image.data() + offset) != record_magic) continue;
        scanned_record candidate{};
        if (check_at(offset, candidate) == probe::valid) {
            ++_corrupt_records;
            return accept(candidate);
        }
    }
    return std::nullopt;
}

std::optional<scanned_record> segment_scanner::next() {
    if (_done) return std::nullopt;
    scanned_record r{};
    probe result = check_at(_offset, r);
    if (result == probe::valid) return accept(r);
    if (result == probe::bad) {
        bool fits = r.header.magic == record_magic &&
                    record_bytes(r.header.payload_bytes) <= _image.size() - _offset;
        std::size_t from = fits ? _offset + record_bytes(r.header.payload_bytes)
                                : _offset + record_alignment;
        if (std::optional<scanned_record> found = resynchronise(from)) return found;
    }
    _done = true;
    _stop = result == probe::zero ? scan_stop::end
            : result == probe::torn ? scan_stop::torn
                                    : scan_stop::corrupt;
    return std::nullopt;
}

}  // namespace ringmta::journal
