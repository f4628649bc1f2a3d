// Microbenchmarks of the smtp module's hot paths: command parsing (ingress, per
// command), reply parsing (delivery, per reply), DATA unstuffing (ingress, per byte)
// and stuffing (delivery, per byte), and a whole pipelined server transaction.
#include <benchmark/benchmark.h>

#include <string>

#include "ringmta/smtp/command.h"
#include "ringmta/smtp/dot.h"
#include "ringmta/smtp/reply.h"
#include "ringmta/smtp/server_protocol.h"

using namespace ringmta::smtp;

namespace {

constexpr std::size_t message_bytes = 10 * 1024;

// About 10 KiB of mail: headers, then 76-octet lines, every 16th starting with '.'.
std::string make_content() {
    std::string content = "From: News <news@sender.example>\r\nTo: <user@dest.example>\r\n"
                          "Subject: The weekly newsletter\r\n\r\n";
    for (int line = 0; content.size() < message_bytes; ++line) {
        content += line % 16 == 0 ? '.' : 'L';
        content.append(73, char('a' + line % 26));
        content += "\r\n";
    }
    return content;
}

std::string make_stuffed(const std::string& content) {
    std::string wire;
    dot_stuff_state state;
    dot_stuff(content, wire, state);
    dot_stuff_finish(wire, state);
    return wire;
}

void bm_parse_command(benchmark::State& state) {
    const std::string_view lines[] = {
        "MAIL FROM:<bounce-1234@news.sender.example> SIZE=10240 BODY=8BITMIME",
        "RCPT TO:<first.last@dest.example>"};
    for (auto _ : state) {
        for (std::string_view line : lines) benchmark::DoNotOptimize(parse_command(line));
    }
    state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(bm_parse_command);

void bm_parse_mail_rcpt(benchmark::State& state) {
    std::string mailbox;
    mail_params mail;
    rcpt_params rcpt;
    for (auto _ : state) {
        const command m = parse_command(
            "MAIL FROM:<bounce-1234@news.sender.example> SIZE=10240 BODY=8BITMIME");
        benchmark::DoNotOptimize(parse_mail(m.argument, mailbox, mail));
        const command r = parse_command("RCPT TO:<first.last@dest.example>");
        benchmark::DoNotOptimize(parse_rcpt(r.argument, mailbox, rcpt));
    }
    state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(bm_parse_mail_rcpt);

void bm_reply_parser_ehlo(benchmark::State& state) {
    const std::string wire = "250-mx.dest.example at your service, [192.0.2.7]\r\n"
                             "250-SIZE 157286400\r\n250-8BITMIME\r\n250-STARTTLS\r\n"
                             "250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n"
                             "250-CHUNKING\r\n250 SMTPUTF8\r\n";
    reply_parser parser;
    for (auto _ : state) {
        const auto r = parser.parse(wire);
        benchmark::DoNotOptimize(r);
        benchmark::DoNotOptimize(parser.take());
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * wire.size()));
}
BENCHMARK(bm_reply_parser_ehlo);

void bm_dot_unstuffer_10k(benchmark::State& state) {
    const std::string wire = make_stuffed(make_content());
    dot_unstuffer reader(1 << 20);
    std::string body;
    body.reserve(wire.size());
    for (auto _ : state) {
        reader.reset();
        body.clear();
        benchmark::DoNotOptimize(reader.feed(wire, body));
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * wire.size()));
}
BENCHMARK(bm_dot_unstuffer_10k);

void bm_dot_stuff_10k(benchmark::State& state) {
    const std::string content = make_content();
    std::string wire;
    wire.reserve(content.size() * 2);
    for (auto _ : state) {
        wire.clear();
        dot_stuff_state stuff_state;
        dot_stuff(content, wire, stuff_state);
        dot_stuff_finish(wire, stuff_state);
        benchmark::DoNotOptimize(wire.data());
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * content.size()));
}
BENCHMARK(bm_dot_stuff_10k);

struct accept_all final : server_hooks {
    std::optional<reply_spec> check_mail(const envelope&, std::string_view) override {
        return std::nullopt;
    }
    std::optional<reply_spec> check_rcpt(const envelope&, std::string_view) override {
        return std::nullopt;
    }
    void append_trace_headers(const envelope&, std::string& content) override {
        content += "Received: from client.example by mx.example; "
                   "Mon, 1 Jan 2024 00:00:00 +0000\r\n";
    }
};

// MAIL, RCPT, DATA and 10 KiB of content in one pipelined write, then the 250.
void bm_server_transaction(benchmark::State& state) {
    const std::string wire = "MAIL FROM:<bounce-1234@news.sender.example> SIZE=10240\r\n"
                             "RCPT TO:<first.last@dest.example>\r\nDATA\r\n" +
                             make_stuffed(make_content());
    server_settings settings;
    accept_all hooks;
    server_protocol protocol(settings, hooks);
    std::string out;
    protocol.feed("EHLO client.example\r\n", out);
    for (auto _ : state) {
        out.clear();
        const auto r = protocol.feed(wire, out);
        if (r.event != server_protocol::event::message || r.consumed != wire.size()) {
            state.SkipWithError("transaction did not complete");
            break;
        }
        benchmark::DoNotOptimize(protocol.pending_content().data());
        protocol.message_done({250, "2.0.0", "Ok: queued"}, out);
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * wire.size()));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_server_transaction);

}  // namespace

BENCHMARK_MAIN();
