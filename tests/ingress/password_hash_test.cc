// Password hashes: known PBKDF2-HMAC-SHA256 vectors, passlib compatibility,
// round trips, wrong passwords and malformed hash strings.
#include <ringmta/ingress/password_hash.h>

#include <doctest/doctest.h>

#include <set>
#include <stdexcept>
#include <string>

using namespace ringmta::ingress;

TEST_CASE("hash_password matches known PBKDF2-HMAC-SHA256 vectors") {
    // RFC 7914 section 11: P="passwd", S="salt", c=1; the first 32 bytes are
    // 55 ac 04 6e 56 e3 08 9f ec 16 91 c2 25 44 b6 05 f9 41 85 21 6d de 04 65 ...
    CHECK(hash_password("passwd", "salt", 1) ==
          "$pbkdf2-sha256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw");
    // hashlib.pbkdf2_hmac('sha256', b'password', b'salt', 4096) = c5e478d5...98134a
    CHECK(hash_password("password", "salt", 4096) ==
          "$pbkdf2-sha256$4096$c2FsdA$xeR41ZKIyEGqUw22hFxMjZYok6ABzk4RpJY4c6qYE0o");
}

TEST_CASE("verify_password accepts hashes made by Python passlib") {
    // passlib's own test vector for pbkdf2_sha256 (test_handlers_pbkdf2.py).
    const std::string passlib =
        "$pbkdf2-sha256$1212$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ";
    CHECK(verify_password("password", passlib));
    CHECK_FALSE(verify_password("Password", passlib));
    // Standard base64 with padding is accepted too.
    CHECK(verify_password("passwd", "$pbkdf2-sha256$1$c2FsdA==$"
                                    "VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw="));
}

TEST_CASE("hash_password round trips with a fresh salt each time") {
    std::string first = hash_password("correct horse battery staple");
    std::string second = hash_password("correct horse battery staple");
    CHECK(first.rfind("$pbkdf2-sha256$200000$", 0) == 0);
    CHECK(first != second);  // 16 random salt bytes
    CHECK(verify_password("correct horse battery staple", first));
    CHECK(verify_password("correct horse battery staple", second));
    std::string empty = hash_password("", "", 2);
    CHECK(verify_password("", empty));
    CHECK_FALSE(verify_password("x", empty));
}

TEST_CASE("verify_password rejects a wrong password") {
    std::string encoded = hash_password("s3cret", "0123456789abcdef", 1000);
    CHECK(verify_password("s3cret", encoded));
    CHECK_FALSE(verify_password("s3cret ", encoded));
    CHECK_FALSE(verify_password("S3cret", encoded));
    CHECK_FALSE(verify_password("", encoded));
}

TEST_CASE("verify_password is false on malformed hash strings") {
    const std::string good = "$pbkdf2-sha256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw";
    REQUIRE(verify_password("passwd", good));
    for (std::string_view bad : {
             "",
             "passwd",
             "$pbkdf2-sha256$",
             "$pbkdf2-sha256$1$c2FsdA",
             "$pbkdf2-sha512$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
             "$pbkdf2$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
             "$pbkdf2-sha256$$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
             "$pbkdf2-sha256$01$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
             "$pbkdf2-sha256$0$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
             "$pbkdf2-sha256$-1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
             "$pbkdf2-sha256$99999999999$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
             "$pbkdf2-sha256$1$c2F*dA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
             "$pbkdf2-sha256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrL",
             "$pbkdf2-sha256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw$",
             "$pbkdf2-sha256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLwAA",
             "$pbkdf2-sha256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLx",
         }) {
        CAPTURE(bad);
        CHECK_FALSE(verify_password("passwd", bad));
    }
}

TEST_CASE("hash_password refuses parameters outside its bounds") {
    CHECK_THROWS_AS(hash_password("pw", "salt", 0), std::invalid_argument);
    CHECK_THROWS_AS(hash_password("pw", "salt", password_iterations_max + 1),
                    std::invalid_argument);
    CHECK_THROWS_AS(hash_password("pw", std::string(1025, 's'), 1), std::invalid_argument);
}
