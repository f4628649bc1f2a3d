// crc32c: published vectors (RFC 3720 B.4 and the "123456789" check value), chaining, and
// the hardware path against the table path on random data, lengths and alignments.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "journal_test_util.h"
#include "ringmta/journal/crc32c.h"

using namespace ringmta::journal;

namespace {

using crc_function = std::uint32_t (*)(std::uint32_t, const void*, std::size_t);

std::vector<crc_function> implementations() {
    std::vector<crc_function> out = {crc32c, detail::crc32c_table};
    if (detail::crc32c_hardware_available()) out.push_back(detail::crc32c_hardware);
    return out;
}

}  // namespace

TEST_CASE("crc32c matches the published check values in every implementation") {
    std::string zeros(32, '\0');
    std::string ones(32, '\xff');
    std::string ascending, descending;
    for (int i = 0; i < 32; ++i) {
        ascending.push_back(static_cast<char>(i));
        descending.push_back(static_cast<char>(31 - i));
    }
    for (crc_function f : implementations()) {
        CHECK(f(0, "123456789", 9) == 0xE3069283u);
        CHECK(f(0, "", 0) == 0u);
        CHECK(f(0, zeros.data(), zeros.size()) == 0x8A9136AAu);
        CHECK(f(0, ones.data(), ones.size()) == 0x62A8AB43u);
        CHECK(f(0, ascending.data(), ascending.size()) == 0x46DD794Eu);
        CHECK(f(0, descending.data(), descending.size()) == 0x113FDB5Cu);
    }
}

TEST_CASE("crc32c chains: the crc of a+b continues from the crc of a") {
    test::test_random random{7};
    std::string data = random.bytes(70000);
    std::uint32_t whole = crc32c(0, data.data(), data.size());
    for (std::size_t cut : {0ul, 1ul, 7ul, 8ul, 255ul, 24577ul, 69999ul, 70000ul}) {
        for (crc_function f : implementations()) {
            std::uint32_t first = f(0, data.data(), cut);
            CHECK(f(first, data.data() + cut, data.size() - cut) == whole);
        }
    }
}

TEST_CASE("crc32c hardware and table paths agree on random lengths and alignments") {
    if (!detail::crc32c_hardware_available()) {
        MESSAGE("no SSE4.2 on this CPU: only the table path is tested");
        return;
    }
    test::test_random random{0x5eed};
    std::string buffer = random.bytes(3 * 8192 * 2 + 64);
    // Lengths around every block boundary the hardware path switches at, then random ones.
    std::vector<std::size_t> lengths = {0, 1, 7, 8, 9, 767, 768, 769, 24575, 24576, 24577,
                                        49152, 49160};
    for (int i = 0; i < 400; ++i) lengths.push_back(random.below(buffer.size() - 8));
    for (std::size_t length : lengths) {
        for (std::size_t offset = 0; offset < 8; ++offset) {
            const char* at = buffer.data() + offset;
            std::uint32_t seed = static_cast<std::uint32_t>(random.next());
            REQUIRE(detail::crc32c_hardware(seed, at, length) ==
                    detail::crc32c_table(seed, at, length));
        }
    }
}
