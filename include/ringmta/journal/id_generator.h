// Queue ids: 64 bits, unix_ms << 20 | counter (12 bits) << 8 | shard (8 bits). One generator
// per shard, used only on that shard's thread. Ids are strictly increasing per generator even
// when the clock stands still (the counter advances) or goes back, or more than 4096 ids are
// taken in one millisecond (then the time part advances logically, ahead of the clock).
// Seed `floor` with the largest id recovery saw, so ids never repeat across a restart.
#pragma once

#include <cstdint>
#include <string>

#include "ringmta/runtime/assert.h"

namespace ringmta::journal {

class id_generator {
public:
    static constexpr unsigned shard_bits = 8;
    static constexpr unsigned counter_bits = 12;
    static constexpr unsigned time_shift = shard_bits + counter_bits;
    static constexpr std::uint64_t counter_max = (std::uint64_t{1} << counter_bits) - 1;
    static constexpr std::uint64_t time_max_unix_ms = (std::uint64_t{1} << (64 - time_shift)) - 1;

    explicit id_generator(std::uint8_t shard, std::uint64_t floor = 0)
        : _shard(shard),
          _time_unix_ms(floor >> time_shift),
          _counter((floor >> shard_bits) & counter_max) {}

    // The next id, strictly greater than every id this generator returned and than `floor`.
    std::uint64_t next(std::uint64_t now_unix_ms) {
        if (now_unix_ms > _time_unix_ms) {
            _time_unix_ms = now_unix_ms;
            _counter = 0;
        } else if (_counter < counter_max) {
            ++_counter;
        } else {
            ++_time_unix_ms;  // counter exhausted or clock behind: move time on logically
            _counter = 0;
        }
        RINGMTA_ASSERT(_time_unix_ms <= time_max_unix_ms, "queue id time %llu out of range",
                       static_cast<unsigned long long>(_time_unix_ms));
        return _time_unix_ms << time_shift | _counter << shard_bits | _shard;
    }

private:
    std::uint64_t _shard;
    std::uint64_t _time_unix_ms;
    std::uint64_t _counter;
};

// 16 lowercase hex digits, the form used in logs, Received headers and the accounting log.
constexpr std::size_t queue_id_chars = 16;

inline void write_queue_id(char* out, std::uint64_t id) {
    static constexpr char digits[] = "0123456789abcdef";
    for (auto i = static_cast<int>(queue_id_chars) - 1; i >= 0; --i, id >>= 4) {
        out[i] = digits[id & 0xf];
    }
}

inline void append_queue_id(std::string& out, std::uint64_t id) {
    char text[queue_id_chars];
    write_queue_id(text, id);
    out.append(text, sizeof text);
}

inline std::string format_queue_id(std::uint64_t id) {
    std::string out;
    append_queue_id(out, id);
    return out;
}

}  // namespace ringmta::journal
