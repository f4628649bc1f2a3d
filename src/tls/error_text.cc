// Readable reasons for wolfSSL failures; see error_text.h.
#include "error_text.h"

#include <wolfssl/options.h>  // first: it fixes the layout of wolfSSL's structs
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <string>

namespace ringmta::tls {

std::string wolfssl_reason(int code) {
    // With OPENSSL_EXTRA the reason table covers both libssl and wolfCrypt codes.
    const char* reason = wolfSSL_ERR_reason_error_string(static_cast<unsigned long>(code));
    std::string text = reason != nullptr ? reason : "unknown error";
    text += " (wolfSSL ";
    text += std::to_string(code);
    text += ')';
    return text;
}

namespace {

std::string verify_label(int code, std::string_view expected_name) {
    switch (code) {
    case DOMAIN_NAME_MISMATCH:
        return "domain name mismatch: certificate is not for '" + std::string(expected_name) +
               "'";
    case ASN_NO_SIGNER_E:
        return "unknown CA: no trusted signer";
    case ASN_SELF_SIGNED_E:
        return "unknown CA: self-signed certificate";
    case ASN_AFTER_DATE_E:
        return "certificate expired";
    case ASN_BEFORE_DATE_E:
        return "certificate not yet valid";
    case ASN_SIG_CONFIRM_E:
        return "bad certificate signature";
    default:
        return "certificate rejected";
    }
}

}  // namespace

std::string verify_failure_text(int ssl_error, int store_error, int depth,
                                std::string_view expected_name) {
    std::string text = "certificate verify failed: ";
    text += verify_label(ssl_error, expected_name);
    text += " (depth ";
    text += std::to_string(depth);
    text += "; ";
    text += wolfssl_reason(ssl_error);
    // With OPENSSL_EXTRA the callback sees OpenSSL's X509_V_ERR codes for chain errors.
    if (store_error > 0) {
        text += "; X509_V_ERR ";
        text += std::to_string(store_error);
        const std::string_view x509 = wolfSSL_X509_verify_cert_error_string(store_error);
        if (x509.substr(0, 7) != "unknown") {  // 5.5.4 names only some of them
            text += ": ";
            text += x509;
        }
    }
    text += ')';
    return text;
}

std::string alert_name(int code) {
    const char* name = wolfSSL_alert_desc_string_long(code);
    return name != nullptr ? name : "alert " + std::to_string(code);
}

}  // namespace ringmta::tls
