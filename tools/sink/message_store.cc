// Storing accepted messages on the ring (see message_store.h). A test tool's
// store: no fsync (the sink promises nothing about durability), plain files.
#include "message_store.h"

#include <fcntl.h>

#include <cstdio>

#include "ringmta/runtime/ops.h"

namespace ringmta::sink {

namespace {

namespace io = runtime::io;

// openat(2) on the ring (IORING_OP_OPENAT, Linux 5.6+).
class open_file : public io::uring_op<open_file> {
public:
    open_file(const char* path, int flags, mode_t mode)
        : uring_op(0), _path(path), _flags(flags), _mode(mode) {}
    void prepare(io_uring_sqe* s) { io_uring_prep_openat(s, AT_FDCWD, _path, _flags, _mode); }

private:
    const char* _path;
    int _flags;
    mode_t _mode;
};

// renameat(2) on the ring (IORING_OP_RENAMEAT, Linux 5.11+).
class rename_file : public io::uring_op<rename_file> {
public:
    rename_file(const char* from, const char* to) : uring_op(0), _from(from), _to(to) {}
    void prepare(io_uring_sqe* s) {
        io_uring_prep_renameat(s, AT_FDCWD, _from, AT_FDCWD, _to, 0);
    }

private:
    const char* _from;
    const char* _to;
};

void append_json_string(std::string& out, std::string_view text) {
    out += '"';
    for (char c : text) {
        const auto octet = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (octet < 0x20 || octet == 0x7f) {
            char escaped[8];
            std::snprintf(escaped, sizeof(escaped), "\\u%04x", octet);
            out += escaped;
        } else {
            out += c;  // UTF-8 passes through (SMTPUTF8 mailboxes, HELO names)
        }
    }
    out += '"';
}

runtime::task<int> write_file(std::string path, std::string_view data) {
    open_file open_op(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int fd = co_await open_op;
    if (fd < 0) co_return fd;
    int rc = co_await io::write_fully(fd, data, 0);
    io::close_detached(fd);
    co_return rc;
}

}  // namespace

std::string envelope_json(const smtp::envelope& envelope, std::uint64_t bytes,
                          std::string_view client) {
    std::string json = "{\"mail_from\":";
    append_json_string(json, envelope.mail_from);
    json += ",\"rcpt_to\":[";
    for (std::size_t i = 0; i < envelope.rcpt_to.size(); ++i) {
        if (i > 0) json += ',';
        append_json_string(json, envelope.rcpt_to[i]);
    }
    json += "],\"helo\":";
    append_json_string(json, envelope.helo);
    json += ",\"bytes\":";
    json += std::to_string(bytes);
    json += ",\"client\":";
    append_json_string(json, client);
    json += "}\n";
    return json;
}

runtime::task<int> store_message(std::string dir, std::string stem, std::string_view content,
                        std::string json) {
    const std::string base = dir + "/" + stem;
    int rc = co_await write_file(base + ".eml", content);
    if (rc < 0) co_return rc;
    const std::string temporary = base + ".json.tmp";
    const std::string final_path = base + ".json";
    rc = co_await write_file(temporary, json);
    if (rc < 0) co_return rc;
    rename_file rename_op(temporary.c_str(), final_path.c_str());
    co_return co_await rename_op;
}

}  // namespace ringmta::sink
