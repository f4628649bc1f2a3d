// Test certificates, made at run time with the openssl command into a private
// temporary directory (removed at exit): self-signed RSA 2048 and ECDSA P-256 for
// mx.test.example, a CA with an intermediate, leaves it signed (valid, expired,
// RSA), and a self-signed certificate for a wrong name. Shared by the unit tests
// and tls_handshake_rate; made once per process.
#pragma once

#include <string>

namespace ringmta::tls::test {

inline constexpr const char* test_host = "mx.test.example";

struct pki {
    std::string dir;
    std::string rsa_cert, rsa_key;          // self-signed, RSA 2048, mx.test.example
    std::string ec_cert, ec_key;            // self-signed, P-256, mx.test.example
    std::string ca_cert;                    // root CA (P-256)
    std::string leaf_cert, leaf_key;        // CA -> leaf, P-256, mx.test.example
    std::string rsa_leaf_cert, rsa_leaf_key;  // CA -> leaf, RSA 2048, mx.test.example
    std::string chain_cert, chain_key;      // leaf + intermediate (CA -> int -> leaf)
    std::string expired_cert, expired_key;  // CA -> leaf, valid only on 2020-01-01
    std::string wrong_cert, wrong_key;      // self-signed for wrong.test.example
    std::string other_ca_cert;              // an unrelated root CA
};

// The process-wide set; aborts the test program with a message if openssl fails.
const pki& test_pki();

// Writes `text` to dir/name and returns the path (for broken-file tests).
std::string write_test_file(const std::string& name, const std::string& text);

}  // namespace ringmta::tls::test
