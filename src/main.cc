// ringmta command line:
//   ringmta [--config FILE]        run the daemon (no file: embedded defaults)
//   ringmta --check-config FILE    validate FILE, print the effective settings
//   ringmta hash-password          read a password on stdin, print its hash
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "daemon.h"
#include "ringmta/config/config.h"
#include "ringmta/ingress/password_hash.h"

namespace {

int usage(int status) {
    std::fprintf(status ? stderr : stdout,
                 "usage: ringmta [--config FILE]\n"
                 "       ringmta --check-config FILE\n"
                 "       ringmta hash-password < password\n");
    return status;
}

int hash_password_command() {
    std::string password;
    if (!std::getline(std::cin, password)) {
        std::fprintf(stderr, "ringmta hash-password: no password on standard input\n");
        return 1;
    }
    if (!password.empty() && password.back() == '\r') password.pop_back();
    if (password.empty()) {
        std::fprintf(stderr, "ringmta hash-password: the password is empty\n");
        return 1;
    }
    std::printf("%s\n", ringmta::ingress::hash_password(password).c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string config_path;
    bool check_only = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "hash-password" && argc == 2) return hash_password_command();
        if ((arg == "--config" || arg == "--check-config") && i + 1 < argc) {
            check_only = arg == "--check-config";
            config_path = argv[++i];
        } else if (arg == "--help" || arg == "-h") {
            return usage(0);
        } else {
            std::fprintf(stderr, "ringmta: unknown argument '%s'\n", arg.c_str());
            return usage(2);
        }
    }
    ringmta::config::config cfg;
    try {
        cfg = config_path.empty() ? ringmta::config::defaults()
                                  : ringmta::config::load_file(config_path);
    } catch (const ringmta::config::config_error& error) {
        std::fprintf(stderr, "ringmta: %s\n", error.what());
        return 1;
    }
    if (check_only) {
        std::printf("%s", ringmta::config::describe(cfg).c_str());
        std::fprintf(stderr, "%s: ok\n", config_path.c_str());
        return 0;
    }
    return ringmta::run_daemon(cfg);
}
