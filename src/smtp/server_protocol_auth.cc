// AUTH (RFC 4954) for server_protocol: the PLAIN (RFC 4616) and LOGIN mechanisms,
// with or without an initial response. The machine only collects and checks the
// syntax of what the client sends (base64, PLAIN's NUL-separated fields, lengths);
// whether the credentials are right is the caller's question (event::auth, then
// auth_done()), because checking a salted slow hash must not run here.
//
// Replies: 334 challenges; 235 2.7.0 success; 535 5.7.8 wrong credentials;
// 454 4.7.0 temporary failure; 501 5.5.2 undecodable base64 or a malformed
// response; 501 5.0.0 "*" cancelled; 504 5.5.4 unknown mechanism; 503 5.5.1 out of
// sequence (before EHLO, after a successful AUTH, inside a mail transaction);
// 538 5.7.11 without TLS when auth_requires_tls; 500 5.5.6 an overlong line.
#include <array>
#include <cstring>
#include <optional>

#include "ringmta/runtime/assert.h"
#include "ringmta/smtp/server_protocol.h"
#include "text.h"

namespace ringmta::smtp {

namespace {

// RFC 4616 section 2: authcid and passwd are at most 255 octets each.
constexpr std::size_t credential_bytes_max = 255;

// "Username:" and "Password:" in base64, the challenges every LOGIN client expects.
constexpr std::string_view login_user_challenge = "VXNlcm5hbWU6";
constexpr std::string_view login_password_challenge = "UGFzc3dvcmQ6";

constexpr std::array<std::int8_t, 256> make_base64_table() {
    std::array<std::int8_t, 256> table{};
    for (auto& entry : table) entry = -1;
    constexpr std::string_view digits =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::size_t v = 0; v < digits.size(); ++v) {
        table[static_cast<unsigned char>(digits[v])] = static_cast<std::int8_t>(v);
    }
    return table;
}

constexpr std::array<std::int8_t, 256> base64_table = make_base64_table();

// RFC 4648 base64 as SASL uses it (RFC 4954 section 4): the standard alphabet,
// '=' padding only at the end. Missing padding is tolerated (some clients drop
// it); any other character, or a length no encoder can produce, is an error.
std::optional<std::string> decode_sasl_base64(std::string_view text) {
    std::size_t padding = 0;
    while (!text.empty() && text.back() == '=' && padding < 2) {
        text.remove_suffix(1);
        ++padding;
    }
    if (text.size() % 4 == 1 || (padding != 0 && (text.size() + padding) % 4 != 0)) {
        return std::nullopt;
    }
    std::string out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t bits = 0;
    int bit_count = 0;
    for (char c : text) {
        const int value = base64_table[static_cast<unsigned char>(c)];
        if (value < 0) return std::nullopt;
        bits = (bits << 6) | static_cast<std::uint32_t>(value);
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            out += static_cast<char>((bits >> bit_count) & 0xff);
        }
    }
    return out;
}

void wipe(std::string& secret) {
    // volatile stores: the compiler may not drop them as dead before the clear().
    volatile char* p = secret.data();
    for (std::size_t i = 0; i < secret.size(); ++i) p[i] = 0;
    secret.clear();
}

bool valid_credential(std::string_view s) {
    return !s.empty() && s.size() <= credential_bytes_max &&
           s.find('\0') == std::string_view::npos;
}

}  // namespace

std::size_t server_protocol::line_max(std::string_view start) const {
    if (!_settings.offer_auth) return _settings.command_line_max;
    if (_phase == phase::auth_response || detail::istarts_with(start, "AUTH ")) {
        return std::max(_settings.auth_line_max, _settings.command_line_max);
    }
    return _settings.command_line_max;
}

void server_protocol::end_auth_exchange() {
    wipe(_auth.password);
    _auth = auth_credentials{};
    _auth_login_wants_password = false;
    _phase = phase::command;
}

void server_protocol::handle_auth(const command& cmd, std::string& out) {
    if (!_helo_seen || !_env.esmtp) {
        return reply_error(out, 503, "5.5.1", "Error: send EHLO first");
    }
    if (authenticated()) return reply_error(out, 503, "5.5.1", "Error: already authenticated");
    if (_mail_given) {
        return reply_error(out, 503, "5.5.1", "Error: MAIL transaction in progress");
    }
    if (_settings.auth_requires_tls && !_tls_active) {
        return reply(out, 538, "5.7.11",
                     "Encryption required for requested authentication mechanism");
    }
    const std::string_view argument = detail::trim_spaces(cmd.argument);
    const std::size_t space = argument.find(' ');
    const std::string_view mechanism = argument.substr(0, space);
    const std::string_view initial = space == std::string_view::npos
                                         ? std::string_view{}
                                         : detail::trim_spaces(argument.substr(space + 1));
    if (mechanism.empty() || (space != std::string_view::npos &&
                              (initial.empty() || initial.find(' ') != std::string_view::npos))) {
        return reply_error(out, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
    }
    if (detail::iequals(mechanism, "PLAIN")) {
        _auth.mechanism = "PLAIN";
    } else if (detail::iequals(mechanism, "LOGIN")) {
        _auth.mechanism = "LOGIN";
    } else {
        return reply_error(out, 504, "5.5.4", "Unrecognized authentication type");
    }
    _phase = phase::auth_response;
    if (!initial.empty()) return handle_auth_response(initial, out);
    if (_auth.mechanism == "PLAIN") {
        out += "334 \r\n";  // an empty challenge: "334" SP CRLF (RFC 4954 section 4)
    } else {
        reply(out, 334, "", login_user_challenge);
    }
}

// One client response: base64 (an initial response "=" stands for an empty one),
// or "*" to cancel.
void server_protocol::handle_auth_response(std::string_view line, std::string& out) {
    RINGMTA_ASSERT(_phase == phase::auth_response, "SASL response in phase %d", int(_phase));
    line = detail::trim_spaces(line);
    if (line == "*") {
        end_auth_exchange();
        return reply_error(out, 501, "5.0.0", "Authentication cancelled");
    }
    std::optional<std::string> decoded =
        line == "=" ? std::optional<std::string>(std::string()) : decode_sasl_base64(line);
    if (!decoded) {
        end_auth_exchange();
        return reply_error(out, 501, "5.5.2", "Error: invalid base64 data");
    }
    take_auth_response(*decoded, out);
    wipe(*decoded);
}

void server_protocol::take_auth_response(std::string_view decoded, std::string& out) {
    if (_auth.mechanism == "LOGIN") {
        if (!valid_credential(decoded)) {
            end_auth_exchange();
            return reply_error(out, 501, "5.5.2", "Error: invalid LOGIN response");
        }
        if (!_auth_login_wants_password) {
            _auth.user.assign(decoded);
            _auth_login_wants_password = true;
            return reply(out, 334, "", login_password_challenge);
        }
        _auth.password.assign(decoded);
        _phase = phase::auth_pending;
        return;
    }
    // PLAIN: [authzid] NUL authcid NUL passwd (RFC 4616 section 2).
    const std::size_t first = decoded.find('\0');
    const std::size_t second =
        first == std::string_view::npos ? first : decoded.find('\0', first + 1);
    if (second == std::string_view::npos) {
        end_auth_exchange();
        return reply_error(out, 501, "5.5.2", "Error: invalid PLAIN response");
    }
    const std::string_view authzid = decoded.substr(0, first);
    const std::string_view user = decoded.substr(first + 1, second - first - 1);
    const std::string_view password = decoded.substr(second + 1);
    if (authzid.size() > credential_bytes_max || !valid_credential(user) ||
        !valid_credential(password)) {
        end_auth_exchange();
        return reply_error(out, 501, "5.5.2", "Error: invalid PLAIN response");
    }
    _auth.authzid.assign(authzid);
    _auth.user.assign(user);
    _auth.password.assign(password);
    _phase = phase::auth_pending;
}

const auth_credentials& server_protocol::pending_auth() const {
    RINGMTA_ASSERT(_phase == phase::auth_pending, "no pending AUTH");
    return _auth;
}

void server_protocol::auth_done(auth_result result, std::string& out) {
    RINGMTA_ASSERT(_phase == phase::auth_pending, "auth_done without an AUTH");
    std::string user = std::move(_auth.user);
    end_auth_exchange();
    switch (result) {
    case auth_result::success:
        _env.auth_user = std::move(user);
        return reply(out, 235, "2.7.0", "Authentication successful");
    case auth_result::failure:
        // Counted like a bad command, so a guessing client meets errors_max (421).
        reply(out, 535, "5.7.8", "Error: authentication failed");
        return count_error(out);
    case auth_result::unavailable:
        return reply(out, 454, "4.7.0", "Temporary authentication failure, try again later");
    }
    RINGMTA_ASSERT(false, "bad auth_result %d", int(result));
}

}  // namespace ringmta::smtp
