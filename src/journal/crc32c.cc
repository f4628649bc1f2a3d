// CRC-32C for journal records: a hardware path (SSE4.2 crc32, three interleaved streams
// combined with zero-shift tables, after Mark Adler's crc32c.c) and a portable slicing-by-8
// table path. The choice is made once, at the first call, from the CPU's feature bits.
// All tables are built at compile time, so nothing here needs initialising per shard.
#include "ringmta/journal/crc32c.h"

#include <array>
#include <cstring>

#include <nmmintrin.h>

namespace ringmta::journal {
namespace {

constexpr std::uint32_t polynomial_reflected = 0x82f63b78;

using byte_table = std::array<std::uint32_t, 256>;

// slicing[k][b]: the CRC of byte b followed by k zero bytes.
constexpr std::array<byte_table, 8> make_slicing_tables() {
    std::array<byte_table, 8> tables{};
    for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t crc = b;
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc & 1) ? (crc >> 1) ^ polynomial_reflected : crc >> 1;
        }
        tables[0][b] = crc;
    }
    for (std::uint32_t b = 0; b < 256; ++b) {
        for (std::size_t k = 1; k < 8; ++k) {
            std::uint32_t prev = tables[k - 1][b];
            tables[k][b] = (prev >> 8) ^ tables[0][prev & 0xff];
        }
    }
    return tables;
}

constexpr std::array<byte_table, 8> slicing = make_slicing_tables();

// GF(2) 32x32 matrices as arrays of columns; used to build the "append N zero bytes"
// operator that combines the CRCs of the interleaved hardware streams.
using gf2_matrix = std::array<std::uint32_t, 32>;

constexpr std::uint32_t gf2_times(const gf2_matrix& mat, std::uint32_t vec) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; vec != 0; vec >>= 1, ++i) {
        if (vec & 1) sum ^= mat[i];
    }
    return sum;
}

constexpr gf2_matrix gf2_square(const gf2_matrix& mat) {
    gf2_matrix out{};
    for (std::size_t n = 0; n < 32; ++n) out[n] = gf2_times(mat, mat[n]);
    return out;
}

// Operator that appends `bytes` zero bytes (a power of two) to a raw CRC register.
constexpr gf2_matrix zeros_operator(std::size_t bytes) {
    gf2_matrix op{};
    op[0] = polynomial_reflected;  // one zero bit
    for (std::size_t n = 1; n < 32; ++n) op[n] = std::uint32_t{1} << (n - 1);
    for (std::size_t bits = 1; bits < bytes * 8; bits *= 2) op = gf2_square(op);
    return op;
}

using shift_tables = std::array<byte_table, 4>;

constexpr shift_tables make_shift_tables(std::size_t bytes) {
    gf2_matrix op = zeros_operator(bytes);
    shift_tables tables{};
    for (std::uint32_t n = 0; n < 256; ++n) {
        for (std::size_t k = 0; k < 4; ++k) tables[k][n] = gf2_times(op, n << (8 * k));
    }
    return tables;
}

// Interleaved block sizes: long blocks amortise the shifts, short ones serve records
// of a few KiB. Both must be powers of two (zeros_operator) and multiples of 8.
constexpr std::size_t long_block_bytes = 8192;
constexpr std::size_t short_block_bytes = 256;
constexpr shift_tables long_shift = make_shift_tables(long_block_bytes);
constexpr shift_tables short_shift = make_shift_tables(short_block_bytes);

inline std::uint32_t shift(const shift_tables& t, std::uint32_t crc) {
    return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^
           t[3][crc >> 24];
}

inline std::uint64_t load_u64(const unsigned char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Three independent crc32 streams over consecutive blocks of block_bytes each: the
// instruction has a latency of 3 cycles and a throughput of 1, so one stream wastes 2/3.
__attribute__((target("sse4.2"))) inline std::uint64_t hardware_blocks(
    std::uint64_t crc0, const unsigned char*& next, std::size_t& size, std::size_t block_bytes,
    const shift_tables& combine) {
    while (size >= block_bytes * 3) {
        std::uint64_t crc1 = 0;
        std::uint64_t crc2 = 0;
        const unsigned char* end = next + block_bytes;
        do {
            crc0 = _mm_crc32_u64(crc0, load_u64(next));
            crc1 = _mm_crc32_u64(crc1, load_u64(next + block_bytes));
            crc2 = _mm_crc32_u64(crc2, load_u64(next + 2 * block_bytes));
            next += 8;
        } while (next < end);
        crc0 = shift(combine, static_cast<std::uint32_t>(crc0)) ^ crc1;
        crc0 = shift(combine, static_cast<std::uint32_t>(crc0)) ^ crc2;
        next += 2 * block_bytes;
        size -= 3 * block_bytes;
    }
    return crc0;
}

using crc_function = std::uint32_t (*)(std::uint32_t, const void*, std::size_t);

crc_function choose() {
    return detail::crc32c_hardware_available() ? detail::crc32c_hardware
                                               : detail::crc32c_table;
}

}  // namespace

namespace detail {

std::uint32_t crc32c_table(std::uint32_t crc, const void* data, std::size_t size) {
    const auto* next = static_cast<const unsigned char*>(data);
    crc = ~crc;
    while (size >= 8) {
        std::uint64_t word = load_u64(next) ^ crc;  // little-endian load (x86, aarch64 LE)
        crc = slicing[7][word & 0xff] ^ slicing[6][(word >> 8) & 0xff] ^
              slicing[5][(word >> 16) & 0xff] ^ slicing[4][(word >> 24) & 0xff] ^
              slicing[3][(word >> 32) & 0xff] ^ slicing[2][(word >> 40) & 0xff] ^
              slicing[1][(word >> 48) & 0xff] ^ slicing[0][word >> 56];
        next += 8;
        size -= 8;
    }
    while (size-- > 0) crc = (crc >> 8) ^ slicing[0][(crc ^ *next++) & 0xff];
    return ~crc;
}

__attribute__((target("sse4.2"))) std::uint32_t crc32c_hardware(std::uint32_t crc,
                                                                 const void* data,
                                                                 std::size_t size) {
    const auto* next = static_cast<const unsigned char*>(data);
    std::uint64_t crc0 = ~crc;
    while (size > 0 && (reinterpret_cast<std::uintptr_t>(next) & 7) != 0) {
        crc0 = _mm_crc32_u8(static_cast<std::uint32_t>(crc0), *next++);
        --size;
    }
    crc0 = hardware_blocks(crc0, next, size, long_block_bytes, long_shift);
    crc0 = hardware_blocks(crc0, next, size, short_block_bytes, short_shift);
    for (; size >= 8; size -= 8, next += 8) crc0 = _mm_crc32_u64(crc0, load_u64(next));
    auto crc32 = static_cast<std::uint32_t>(crc0);
    while (size-- > 0) crc32 = _mm_crc32_u8(crc32, *next++);
    return ~crc32;
}

bool crc32c_hardware_available() {
    return __builtin_cpu_supports("sse4.2");
}

}  // namespace detail

std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) {
    // A function-local static: chosen once, thread-safe, one predictable branch per call.
    static const crc_function chosen = choose();
    return chosen(crc, data, size);
}

}  // namespace ringmta::journal
