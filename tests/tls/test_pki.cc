// Test certificates made with the openssl command; see test_pki.h.
#include "test_pki.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace ringmta::tls::test {

namespace {

void run(const std::string& dir, const std::string& command) {
    const std::string line = "cd '" + dir + "' && " + command + " >openssl.log 2>&1";
    if (std::system(line.c_str()) != 0) {
        std::fprintf(stderr, "test_pki: failed: %s (see %s/openssl.log)\n", command.c_str(),
                     dir.c_str());
        std::exit(1);
    }
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

// Minimal `openssl ca` set-up: the only way to give a certificate past dates.
constexpr const char* ca_config =
    "[ ca ]\ndefault_ca = test_ca\n[ test_ca ]\ndatabase = index.txt\nnew_certs_dir = .\n"
    "serial = serial\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\n"
    "unique_subject = no\n[ any ]\ncommonName = supplied\n";

constexpr const char* ec_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
constexpr const char* rsa_key = "-newkey rsa:2048 -nodes";
constexpr const char* ca_ext =
    "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign";

std::string san(const std::string& host) {
    return "-subj /CN=" + host + " -addext subjectAltName=DNS:" + host;
}

void make_self_signed(const std::string& d, const std::string& name, const char* key,
                      const std::string& subject) {
    run(d, std::string("openssl req -x509 ") + key + " -keyout " + name + ".key -out " + name +
               ".pem -days 2 " + subject);
}

void make_signed(const std::string& d, const std::string& name, const char* key,
                 const std::string& subject, const std::string& ca, const std::string& ext) {
    run(d, std::string("openssl req -new ") + key + " -keyout " + name + ".key -out " + name +
               ".csr " + subject);
    run(d, "openssl x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca +
               ".key -days 2 -copy_extensions copy " + ext + " -out " + name + ".pem");
}

pki make_pki() {
    char pattern[] = "/tmp/ringmta-tls-test-XXXXXX";
    const char* made = mkdtemp(pattern);
    if (made == nullptr) {
        std::perror("test_pki: mkdtemp");
        std::exit(1);
    }
    const std::string d = made;
    make_self_signed(d, "rsa", rsa_key, san(test_host));
    make_self_signed(d, "ec", ec_key, san(test_host));
    make_self_signed(d, "wrong", ec_key, san("wrong.test.example"));
    make_self_signed(d, "ca", ec_key, std::string("-subj /CN=ringmta-test-ca ") + ca_ext);
    make_self_signed(d, "other_ca", ec_key, std::string("-subj /CN=other-ca ") + ca_ext);
    make_signed(d, "leaf", ec_key, san(test_host), "ca", "");
    make_signed(d, "rsa_leaf", rsa_key, san(test_host), "ca", "");
    make_signed(d, "int", ec_key, std::string("-subj /CN=ringmta-test-int ") + ca_ext, "ca",
                "");
    make_signed(d, "chain_leaf", ec_key, san(test_host), "int", "");
    run(d, "{ cat chain_leaf.pem int.pem >chain.pem; }");
    write_file(d + "/ca.cnf", ca_config);
    write_file(d + "/index.txt", "");
    write_file(d + "/serial", "1000\n");
    run(d, std::string("openssl req -new ") + ec_key + " -keyout expired.key -out expired.csr " +
               san(test_host));
    run(d, "openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr "
           "-out expired.pem -notext -startdate 20200101000000Z -enddate 20200102000000Z");
    pki p;
    p.dir = d;
    p.rsa_cert = d + "/rsa.pem", p.rsa_key = d + "/rsa.key";
    p.ec_cert = d + "/ec.pem", p.ec_key = d + "/ec.key";
    p.ca_cert = d + "/ca.pem";
    p.leaf_cert = d + "/leaf.pem", p.leaf_key = d + "/leaf.key";
    p.rsa_leaf_cert = d + "/rsa_leaf.pem", p.rsa_leaf_key = d + "/rsa_leaf.key";
    p.chain_cert = d + "/chain.pem", p.chain_key = d + "/chain_leaf.key";
    p.expired_cert = d + "/expired.pem", p.expired_key = d + "/expired.key";
    p.wrong_cert = d + "/wrong.pem", p.wrong_key = d + "/wrong.key";
    p.other_ca_cert = d + "/other_ca.pem";
    return p;
}

struct pki_holder {
    pki value = make_pki();
    ~pki_holder() {
        std::error_code ignored;
        std::filesystem::remove_all(value.dir, ignored);
    }
};

pki_holder& holder() {
    static pki_holder h;
    return h;
}

}  // namespace

const pki& test_pki() { return holder().value; }

std::string write_test_file(const std::string& name, const std::string& text) {
    const std::string path = test_pki().dir + "/" + name;
    write_file(path, text);
    return path;
}

}  // namespace ringmta::tls::test
