// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every journal
// record. Pure function, any shard, no state beyond a one-time CPU feature probe.
// crc32c(0, "123456789", 9) == 0xE3069283; chaining holds:
// crc32c(crc32c(0, a, n), b, m) == crc32c(0, a ++ b, n + m).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringmta::journal {

// Uses the SSE4.2 crc32 instruction when the CPU has it (probed at the first call),
// else a slicing-by-8 table.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size);

namespace detail {
// Both implementations, exposed so tests can check one against the other.
std::uint32_t crc32c_table(std::uint32_t crc, const void* data, std::size_t size);
// Precondition: crc32c_hardware_available().
std::uint32_t crc32c_hardware(std::uint32_t crc, const void* data, std::size_t size);
bool crc32c_hardware_available();
}  // namespace detail

}  // namespace ringmta::journal
