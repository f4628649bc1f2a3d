// libFuzzer target: arbitrary bytes, split into arbitrary chunks, into the SMTP
// server state machine (command parser, DATA and BDAT readers, STARTTLS and AUTH
// exchanges, limits), with the checks a
// peer relies on: every reply line is "DDD[ -]text CRLF", the machine never
// claims to consume more than it was given, a partial line it keeps stays
// bounded, and a stored message never exceeds the size limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ringmta/smtp/server_protocol.h"

namespace {

using namespace ringmta::smtp;

class fuzz_hooks final : public server_hooks {
public:
    explicit fuzz_hooks(std::uint8_t policy) : _policy(policy) {}
    std::optional<reply_spec> check_mail(const envelope&, std::string_view) override {
        if (_policy & 1) return reply_spec{550, "5.7.1", "sender refused"};
        return std::nullopt;
    }
    std::optional<reply_spec> check_rcpt(const envelope&, std::string_view mailbox) override {
        if ((_policy & 2) && !mailbox.empty() && mailbox.front() == 'x') {
            return reply_spec{554, "5.7.1", "Relay access denied"};
        }
        return std::nullopt;
    }
    void append_trace_headers(const envelope&, std::string& content) override {
        content += "Received: fuzz\r\n";
    }

private:
    std::uint8_t _policy;
};

void check_replies(std::string_view out) {
    std::size_t at = 0;
    while (at < out.size()) {
        std::size_t end = out.find("\r\n", at);
        if (end == std::string_view::npos) std::abort();  // a reply line without CRLF
        std::string_view line = out.substr(at, end - at);
        if (line.size() < 3) std::abort();
        for (int i = 0; i < 3; ++i) {
            if (line[i] < '0' || line[i] > '9') std::abort();
        }
        if (line.size() > 3 && line[3] != ' ' && line[3] != '-') std::abort();
        at = end + 2;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    server_settings settings;
    settings.hostname = "fuzz.test";
    settings.message_bytes_max = 4096;
    settings.recipients_max = 5;
    settings.errors_max = 1000;
    settings.offer_smtputf8 = data[0] & 4;
    settings.offer_dsn = data[0] & 8;
    settings.offer_chunking = data[0] & 16;
    settings.offer_binarymime = data[0] & 32;
    settings.offer_starttls = data[0] & 64;
    settings.offer_auth = data[0] & 128;
    settings.auth_requires_tls = data[1] & 64;
    settings.auth_line_max = 1024;
    fuzz_hooks hooks(data[0]);
    server_protocol protocol(settings, hooks);
    std::string out;
    protocol.greet(out);
    std::string pending;
    std::size_t chunk = 1 + data[1] % 64;
    for (std::size_t at = 2; at < size && !protocol.closed(); at += chunk) {
        pending.append(reinterpret_cast<const char*>(data) + at, std::min(chunk, size - at));
        for (int rounds = 0; rounds < 10000; ++rounds) {
            auto r = protocol.feed(pending, out);
            if (r.consumed > pending.size()) std::abort();
            pending.erase(0, r.consumed);
            if (r.event == server_protocol::event::starttls) {
                pending.clear();  // what followed STARTTLS is dropped, as a driver must
                protocol.tls_started();
                continue;
            }
            if (r.event == server_protocol::event::auth) {
                // Credentials reach the caller whole and within RFC 4616's bounds.
                const auth_credentials& c = protocol.pending_auth();
                if (c.user.empty() || c.user.size() > 255 || c.password.empty() ||
                    c.password.size() > 255 || c.authzid.size() > 255) {
                    std::abort();
                }
                auth_result result = c.password == "ok"       ? auth_result::success
                                     : c.user.front() == 'x' ? auth_result::unavailable
                                                             : auth_result::failure;
                protocol.auth_done(result, out);
                if ((result == auth_result::success) != protocol.authenticated()) std::abort();
                continue;
            }
            if (r.event == server_protocol::event::message) {
                if (protocol.pending_content().size() > settings.message_bytes_max + 64) {
                    std::abort();  // the limit (plus the trace header) holds
                }
                protocol.message_done(reply_spec{250, "2.0.0", "Ok"}, out);
                continue;
            }
            break;
        }
        // What the machine leaves unconsumed is at most one partial command line
        // (an AUTH line or SASL response may be up to auth_line_max).
        const std::size_t line_max = settings.offer_auth
                                         ? std::max(settings.command_line_max,
                                                    settings.auth_line_max)
                                         : settings.command_line_max;
        if (!protocol.in_data() && pending.size() > line_max + chunk) {
            std::abort();
        }
        check_replies(out);
        out.clear();
    }
    return 0;
}
