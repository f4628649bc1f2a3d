// libFuzzer target: a damaged or hostile segment image. The scanner and the
// decoders must never read out of bounds (ASan checks) or loop, every record they
// return must lie inside the image, and recovery must accept whatever they return.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ringmta/journal/record.h"
#include "ringmta/journal/recovery.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ringmta::journal;
    std::string_view image(reinterpret_cast<const char*>(data), size);
    segment_scanner scanner(image);
    recovery rebuilt;
    rebuilt.begin_segment(1);
    std::size_t records = 0;
    while (std::optional<scanned_record> r = scanner.next()) {
        if (r->offset + record_header_bytes + r->payload.size() > size) std::abort();
        if (++records > size / record_header_bytes + 1) std::abort();  // no record twice
        message_record m;
        outcome_record o;
        attempt_record a;
        decode_message(r->header.message_id, r->payload, m);
        decode_outcome(r->header.message_id, r->payload, o);
        decode_attempt(r->header.message_id, r->payload, a);
        rebuilt.apply(*r);
    }
    if (scanner.valid_end() > size) std::abort();
    rebuilt.finish();
    return 0;
}
