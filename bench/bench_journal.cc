// Microbenchmarks of the journal's pure hot paths: the record checksum, encoding a message
// on the append path, scanning a segment image at recovery, and rebuilding the live set.
// Run: build/bench/bench_journal (tools/dev bench). Figures are per core: one shard.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "ringmta/journal/crc32c.h"
#include "ringmta/journal/record.h"
#include "ringmta/journal/recovery.h"

namespace {

using namespace ringmta::journal;

constexpr std::size_t message_body_bytes = 10 * 1024;
constexpr std::size_t scan_image_bytes = 64 * 1024 * 1024;
constexpr std::size_t recovery_messages = 1000000;

std::string pattern_bytes(std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>(i * 131 + (i >> 7));
    return s;
}

struct message_fixture {
    std::vector<std::string> recipients;
    std::string body = pattern_bytes(message_body_bytes);

    explicit message_fixture(std::size_t recipient_count) {
        for (std::size_t i = 0; i < recipient_count; ++i) {
            recipients.push_back("recipient" + std::to_string(i) + "@destination.example");
        }
    }
    message_view view(std::uint64_t id) const {
        return message_view{id, 1700000000000, message_flag_8bitmime, "bounces@sender.example",
                            "mta1.sender.example", "198.51.100.7", "", 0, recipients, body};
    }
};

template <std::uint32_t (*Crc)(std::uint32_t, const void*, std::size_t)>
void bm_crc32c(benchmark::State& state) {
    std::string data = pattern_bytes(static_cast<std::size_t>(state.range(0)));
    std::uint32_t crc = 0;
    for (auto _ : state) {
        crc = Crc(crc, data.data(), data.size());
        benchmark::DoNotOptimize(crc);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
}
BENCHMARK(bm_crc32c<crc32c>)->Arg(64)->Arg(4096)->Arg(65536);
BENCHMARK(bm_crc32c<detail::crc32c_table>)->Arg(64)->Arg(4096)->Arg(65536);

void bm_encode_message(benchmark::State& state) {
    message_fixture m(static_cast<std::size_t>(state.range(0)));
    std::string out;
    std::uint64_t id = 1;
    for (auto _ : state) {
        out.clear();  // keeps its capacity, like the journal's batch buffer
        benchmark::DoNotOptimize(encode_message(out, m.view(id++)));
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(bm_encode_message)->Arg(1)->Arg(10);

void bm_scan_segment(benchmark::State& state) {
    message_fixture m(1);
    std::string image;
    image.reserve(scan_image_bytes);
    std::uint64_t id = 1;
    while (image.size() + record_bytes(message_body_bytes + 200) < scan_image_bytes) {
        encode_message(image, m.view(id++));
    }
    image.resize(scan_image_bytes, '\0');  // a full segment: zero fill after the last record
    std::size_t records = 0;
    for (auto _ : state) {
        segment_scanner scanner(image);
        records = 0;
        while (auto r = scanner.next()) {
            benchmark::DoNotOptimize(r->payload.data());
            ++records;
        }
        if (scanner.stop_reason() != scan_stop::end) state.SkipWithError("scan did not end");
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * records));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * image.size()));
}
BENCHMARK(bm_scan_segment)->Unit(benchmark::kMillisecond);

void bm_recovery_apply(benchmark::State& state) {
    std::vector<std::string> recipients = {"r@d.example"};
    std::string image;
    image.reserve(recovery_messages * 112);
    for (std::uint64_t id = 1; id <= recovery_messages; ++id) {
        encode_message(image, message_view{id, 1700000000000, 0, "s@x.example", "h.example",
                                           "192.0.2.1", "", 0, recipients, ""});
    }
    std::vector<scanned_record> records;
    records.reserve(recovery_messages);
    segment_scanner scanner(image);
    while (auto r = scanner.next()) records.push_back(*r);
    for (auto _ : state) {
        recovery rebuilt(false);
        rebuilt.begin_segment(1);
        for (const scanned_record& r : records) rebuilt.apply(r);
        std::vector<live_message> live = rebuilt.finish();
        if (live.size() != recovery_messages) state.SkipWithError("messages lost");
        state.PauseTiming();  // freeing a million messages is not recovery's cost
        live = {};
        state.ResumeTiming();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * records.size()));
}
BENCHMARK(bm_recovery_apply)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
