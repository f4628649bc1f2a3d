// Whole-file reads for context creation; see pem_file.h.
#include "pem_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace ringmta::tls {

namespace {

struct file_closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

void set_error(std::string& error, std::string_view what, const std::string& path,
               std::string_view reason) {
    error.assign(what);
    error += " '";
    error += path;
    error += "': ";
    error += reason;
}

}  // namespace

bool read_pem_file(std::string_view what, const std::string& path, std::string& text,
                   std::string& error) {
    text.clear();
    std::unique_ptr<std::FILE, file_closer> file(std::fopen(path.c_str(), "rb"));
    if (!file) {
        set_error(error, what, path, std::strerror(errno));
        return false;
    }
    char chunk[16384];
    for (;;) {
        const std::size_t got = std::fread(chunk, 1, sizeof chunk, file.get());
        text.append(chunk, got);
        if (text.size() > pem_file_bytes_max) {
            set_error(error, what, path, "larger than 16 MiB, not a PEM file");
            return false;
        }
        if (got < sizeof chunk) break;
    }
    if (std::ferror(file.get())) {
        set_error(error, what, path, std::strerror(errno));
        return false;
    }
    if (text.empty()) {
        set_error(error, what, path, "empty file");
        return false;
    }
    return true;
}

}  // namespace ringmta::tls
