// libFuzzer target: a damaged or hostile segment image. The scanner and the
// decoders must never read out of bounds (ASan checks) or loop, every record they
// return must lie inside the image, and recovery must accept whatever they return.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ringmta/journal/record.h"
#include "ringmta/journal/recovery.h"
#include "ringmta/journal/segment_key.h"

namespace {

using namespace ringmta::journal;

void scan(std::string_view image, segment_key key) {
    segment_scanner scanner(image, key);
    recovery rebuilt;
    rebuilt.begin_segment(1);
    std::size_t records = 0;
    while (std::optional<scanned_record> r = scanner.next()) {
        if (r->offset + record_header_bytes + r->payload.size() > image.size()) std::abort();
        if (++records > image.size() / record_header_bytes + 1) std::abort();  // no record twice
        message_record m;
        outcome_record o;
        attempt_record a;
        decode_message(r->header.message_id, r->payload, m);
        decode_outcome(r->header.message_id, r->payload, o);
        decode_attempt(r->header.message_id, r->payload, a);
        rebuilt.apply(*r);
    }
    if (scanner.valid_end() > image.size()) std::abort();
    rebuilt.finish();
}

}  // namespace

// Each input twice: as a version 1 (unsealed) segment, and as a sealed one with the
// key the seed corpus's sealed segment was written with (a zero secret, sequence 1).
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view image(reinterpret_cast<const char*>(data), size);
    scan(image, segment_key{});
    scan(image, derive_segment_key(journal_secret{}, 1));
    return 0;
}
