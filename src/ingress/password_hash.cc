// PBKDF2-HMAC-SHA256 password hashes in passlib's $pbkdf2-sha256$ format. See
// password_hash.h. Built into the config library for now (owner: ingress).
#include <ringmta/ingress/password_hash.h>

#include <wolfssl/options.h>  // must precede every other wolfSSL header
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/pwdbased.h>

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace ringmta::ingress {

namespace {

constexpr std::string_view scheme_prefix = "$pbkdf2-sha256$";
constexpr std::size_t salt_bytes_default = 16;
constexpr std::size_t salt_bytes_max = 1024;
constexpr std::size_t hash_bytes = 32;             // one SHA-256 block of output
constexpr std::size_t password_bytes_max = 1u << 20;
constexpr std::size_t iteration_digits_max = 10;

// passlib's adapted base64: '.' replaces '+', no '=' padding.
constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./";

std::string encode_base64(const std::uint8_t* data, std::size_t size) {
    std::string out;
    out.reserve((size * 4 + 2) / 3);
    for (std::size_t i = 0; i < size; i += 3) {
        std::uint32_t group = std::uint32_t{data[i]} << 16;
        if (i + 1 < size) group |= std::uint32_t{data[i + 1]} << 8;
        if (i + 2 < size) group |= data[i + 2];
        std::size_t chars = size - i >= 3 ? 4 : size - i + 1;
        for (std::size_t c = 0; c < chars; ++c) out += alphabet[(group >> (18 - 6 * c)) & 63];
    }
    return out;
}

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '.' || c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Accepts both alphabets and optional padding; nullopt on anything else.
std::optional<std::vector<std::uint8_t>> decode_base64(std::string_view text) {
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    if (text.size() % 4 == 1) return std::nullopt;
    std::vector<std::uint8_t> out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t bits = 0;
    int bit_count = 0;
    for (char c : text) {
        int value = base64_value(c);
        if (value < 0) return std::nullopt;
        bits = (bits << 6) | static_cast<std::uint32_t>(value);
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            out.push_back(static_cast<std::uint8_t>(bits >> bit_count));
            bits &= (1u << bit_count) - 1;
        }
    }
    if (bits != 0) return std::nullopt;  // non-canonical trailing bits
    return out;
}

// Empty views may carry nullptr; wolfCrypt wants a valid pointer either way.
const std::uint8_t* bytes_of(std::string_view text) {
    static const std::uint8_t empty = 0;
    return text.empty() ? &empty : reinterpret_cast<const std::uint8_t*>(text.data());
}

bool derive(std::string_view password, std::string_view salt, unsigned iterations,
            std::array<std::uint8_t, hash_bytes>& out) {
    int rc = wc_PBKDF2(out.data(), bytes_of(password), static_cast<int>(password.size()),
                       bytes_of(salt), static_cast<int>(salt.size()),
                       static_cast<int>(iterations), static_cast<int>(out.size()), WC_SHA256);
    return rc == 0;
}

bool equal_constant_time(const std::uint8_t* a, const std::uint8_t* b, std::size_t size) {
    volatile std::uint8_t difference = 0;
    for (std::size_t i = 0; i < size; ++i) difference = difference | (a[i] ^ b[i]);
    return difference == 0;
}

std::optional<unsigned> parse_iterations(std::string_view digits) {
    if (digits.empty() || digits.size() > iteration_digits_max || digits.front() == '0') {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (value > password_iterations_max) return std::nullopt;
    return static_cast<unsigned>(value);
}

struct parsed_hash {
    unsigned iterations;
    std::vector<std::uint8_t> salt;
    std::vector<std::uint8_t> expected;
};

std::optional<parsed_hash> parse_hash(std::string_view encoded) {
    if (encoded.substr(0, scheme_prefix.size()) != scheme_prefix) return std::nullopt;
    std::string_view rest = encoded.substr(scheme_prefix.size());
    std::size_t first = rest.find('$');
    std::size_t second = first == std::string_view::npos ? first : rest.find('$', first + 1);
    if (second == std::string_view::npos) return std::nullopt;
    std::optional<unsigned> iterations = parse_iterations(rest.substr(0, first));
    auto salt = decode_base64(rest.substr(first + 1, second - first - 1));
    auto expected = decode_base64(rest.substr(second + 1));
    if (!iterations || !salt || !expected || salt->size() > salt_bytes_max ||
        expected->size() != hash_bytes) {
        return std::nullopt;
    }
    return parsed_hash{*iterations, std::move(*salt), std::move(*expected)};
}

}  // namespace

std::optional<unsigned> password_hash_iterations(std::string_view encoded) noexcept {
    try {
        std::optional<parsed_hash> parsed = parse_hash(encoded);
        if (!parsed) return std::nullopt;
        return parsed->iterations;
    } catch (...) {
        return std::nullopt;  // std::bad_alloc from the decoders
    }
}

std::string hash_password(std::string_view password) {
    std::array<std::uint8_t, salt_bytes_default> salt{};
    std::size_t filled = 0;
    while (filled < salt.size()) {
        ssize_t count = ::getrandom(salt.data() + filled, salt.size() - filled, 0);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) throw std::system_error(errno, std::generic_category(), "getrandom");
        filled += static_cast<std::size_t>(count);
    }
    std::string_view salt_text(reinterpret_cast<const char*>(salt.data()), salt.size());
    return hash_password(password, salt_text, password_iterations_default);
}

std::string hash_password(std::string_view password, std::string_view salt,
                          unsigned iterations) {
    if (iterations == 0 || iterations > password_iterations_max) {
        throw std::invalid_argument("password hash iterations must be 1 to 10000000");
    }
    if (salt.size() > salt_bytes_max) throw std::invalid_argument("salt over 1024 bytes");
    if (password.size() > password_bytes_max) throw std::invalid_argument("password over 1MB");
    std::array<std::uint8_t, hash_bytes> hash{};
    if (!derive(password, salt, iterations, hash)) {
        throw std::runtime_error("wc_PBKDF2 failed");
    }
    std::string out(scheme_prefix);
    out += std::to_string(iterations);
    out += '$';
    out += encode_base64(bytes_of(salt), salt.size());
    out += '$';
    out += encode_base64(hash.data(), hash.size());
    return out;
}

bool verify_password(std::string_view password, std::string_view encoded) noexcept {
    try {
        if (password.size() > password_bytes_max) return false;
        std::optional<parsed_hash> parsed = parse_hash(encoded);
        if (!parsed) return false;
        std::string_view salt_text(reinterpret_cast<const char*>(parsed->salt.data()),
                                   parsed->salt.size());
        std::array<std::uint8_t, hash_bytes> actual{};
        bool derived = derive(password, salt_text, parsed->iterations, actual);
        bool same = derived &&
                    equal_constant_time(actual.data(), parsed->expected.data(), hash_bytes);
        explicit_bzero(actual.data(), actual.size());
        return same;
    } catch (...) {
        return false;  // std::bad_alloc from the decoders: not a match
    }
}

}  // namespace ringmta::ingress
