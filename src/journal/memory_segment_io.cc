// memory_segment_io (see memory_segment_io.h).
#include "ringmta/journal/memory_segment_io.h"

#include <liburing.h>

#include <algorithm>
#include <cerrno>

#include "ringmta/runtime/assert.h"

namespace ringmta::journal {

memory_segment_io::memory_segment_io(fault_plan plan) : _plan(plan), _random(plan.seed) {}

void memory_segment_io::set_plan(const fault_plan& plan) {
    _plan = plan;
    _random.seed(plan.seed);
}

std::string memory_segment_io::list_directory(const std::string& directory,
                                              std::vector<std::string>& names) {
    std::string prefix = directory + "/";
    for (const auto& [path, f] : _files) {
        if (path.compare(0, prefix.size(), prefix) == 0) names.push_back(path.substr(prefix.size()));
    }
    return {};
}

int memory_segment_io::create_segment(const std::string& directory, const std::string& name,
                                      std::uint64_t bytes) {
    if (_plan.create_error != 0) return _plan.create_error;
    std::string path = directory + "/" + name;
    if (_files.count(path)) return -EEXIST;
    file& f = _files[path];
    f.cached.assign(bytes, '\0');  // preallocated, and the entry is durable at once
    f.durable = f.cached;
    _open[_next_fd] = path;
    return _next_fd++;
}

int memory_segment_io::write_zeros(int fd, std::uint64_t bytes) {
    auto it = _open.find(fd);
    if (it == _open.end()) return -EBADF;
    if (_plan.zero_fill_error != 0) return _plan.zero_fill_error;
    file& f = _files[it->second];
    RINGMTA_ASSERT(bytes <= f.cached.size(), "zeros past a new segment's end");
    std::fill_n(f.cached.begin(), bytes, '\0');
    std::fill_n(f.durable.begin(), std::min<std::size_t>(bytes, f.durable.size()), '\0');
    ++_zero_fills;
    return 0;
}

int memory_segment_io::open_segment(const std::string& directory, const std::string& name,
                                    bool) {
    std::string path = directory + "/" + name;
    if (!_files.count(path)) return -ENOENT;
    _open[_next_fd] = path;
    return _next_fd++;
}

int memory_segment_io::scan_segment(int fd,
                                    const std::function<void(std::string_view)>& scan) {
    auto it = _open.find(fd);
    if (it == _open.end()) return -EBADF;
    scan(_files[it->second].cached);
    return 0;
}

bool memory_segment_io::flip_byte(const std::string& path, std::uint64_t offset) {
    auto it = _files.find(path);
    if (it == _files.end() || offset >= it->second.cached.size()) return false;
    it->second.cached[offset] = static_cast<char>(it->second.cached[offset] ^ 0x5a);
    if (offset < it->second.durable.size()) {
        it->second.durable[offset] = static_cast<char>(it->second.durable[offset] ^ 0x5a);
    }
    return true;
}

runtime::task<int> memory_segment_io::read_at(int fd, std::uint64_t offset, std::size_t bytes,
                                              std::string* out) {
    auto it = _open.find(fd);
    if (it == _open.end()) co_return -EBADF;
    const std::string& data = _files[it->second].cached;
    if (offset >= data.size()) {
        out->clear();
        co_return 0;
    }
    out->assign(data, static_cast<std::size_t>(offset), bytes);
    co_return 0;
}

int memory_segment_io::remove_segment(const std::string& directory, const std::string& name) {
    return _files.erase(directory + "/" + name) ? 0 : -ENOENT;
}

int memory_segment_io::rename_segment(const std::string& directory, const std::string& from,
                                      const std::string& to) {
    std::string old_path = directory + "/" + from;
    std::string new_path = directory + "/" + to;
    auto it = _files.find(old_path);
    if (it == _files.end()) return -ENOENT;
    if (old_path == new_path) return 0;
    file moved = std::move(it->second);
    _files.erase(it);
    _files[new_path] = std::move(moved);  // replaces, as rename(2) does
    for (auto& [fd, path] : _open) {
        if (path == old_path) path = new_path;
    }
    return 0;
}

int memory_segment_io::sync_directory(const std::string&) { return _plan.directory_sync_error; }

int memory_segment_io::read_small_file(const std::string& directory, const std::string& name,
                                       std::string* out) {
    auto it = _files.find(directory + "/" + name);
    if (it == _files.end()) return -ENOENT;
    *out = it->second.cached;
    return 0;
}

int memory_segment_io::replace_small_file(const std::string& directory, const std::string& name,
                                          std::string_view data) {
    put_file(directory + "/" + name, std::string(data));
    return 0;
}

const std::string* memory_segment_io::file_image(const std::string& path) const {
    auto it = _files.find(path);
    return it == _files.end() ? nullptr : &it->second.cached;
}

void memory_segment_io::put_file(const std::string& path, std::string data) {
    file& f = _files[path];
    f.cached = std::move(data);
    f.durable = f.cached;
    f.dirty_sectors.clear();
}

void memory_segment_io::close_segment(int fd) { _open.erase(fd); }

void memory_segment_io::start_append(int fd, std::string_view data, std::uint64_t offset,
                                     bool sync, append_target* done) {
    RINGMTA_ASSERT(!_busy, "one journal append in flight at a time");
    auto it = _open.find(fd);
    RINGMTA_ASSERT(it != _open.end(), "append to a closed segment fd %d", fd);
    file& f = _files[it->second];
    ++_writes;
    std::size_t bytes = data.size();
    int result = 0;
    if (_plan.fail_write_at != 0 && _writes == _plan.fail_write_at) {
        result = -EIO;
    } else {
        if (bytes > 1 && std::uniform_real_distribution<>(0, 1)(_random) <
                             _plan.short_write_probability) {
            bytes = std::uniform_int_distribution<std::size_t>(1, bytes - 1)(_random);
            ++_short_writes;
        }
        if (f.cached.size() < offset + bytes) f.cached.resize(offset + bytes, '\0');
        f.cached.replace(offset, bytes, data.substr(0, bytes));
        // As ring_segment_io's direct writes do: the rest of the append's block is
        // zeroed, inside the file (the contract keeps nothing past an append).
        constexpr std::uint64_t block = append_block_bytes;
        std::uint64_t end = offset + bytes;
        std::uint64_t padded = std::min((end + block - 1) & ~(block - 1),
                                        std::uint64_t{f.cached.size()});
        f.cached.replace(end, padded - end, padded - end, '\0');
        for (std::uint64_t s = offset / sector_bytes; s <= (padded - 1) / sector_bytes; ++s) {
            f.dirty_sectors.insert(s);
        }
        result = static_cast<int>(bytes);
    }
    bool whole = result >= 0 && static_cast<std::size_t>(result) == data.size();
    _in_flight = pending{it->second, result, sync && whole, done, _generation};
    _busy = true;
    // Complete on a later turn, through the ring, as real I/O does.
    io_uring_sqe* s = runtime::reactor::current().sqe();
    io_uring_prep_nop(s);
    io_uring_sqe_set_data64(s, runtime::handler_data(this));
}

void memory_segment_io::handle_cqe(int, std::uint32_t) {
    if (_in_flight.generation != _generation) return;  // sent before a crash(): lost
    _busy = false;
    pending done = _in_flight;
    if (done.sync) {
        ++_syncs;
        auto it = _files.find(done.name);
        if (_plan.fail_sync_at != 0 && _syncs == _plan.fail_sync_at) {
            done.result = -EIO;  // and the data stays where it was: not durable
        } else if (it != _files.end()) {
            it->second.durable = it->second.cached;
            it->second.dirty_sectors.clear();
        }
    }
    done.target->append_done(done.result);
}

void memory_segment_io::crash() {
    for (auto& [path, f] : _files) {
        if (f.durable.size() < f.cached.size()) f.durable.resize(f.cached.size(), '\0');
        for (std::uint64_t sector : f.dirty_sectors) {
            if (_random() & 1) {
                std::size_t at = sector * sector_bytes;
                std::size_t n = std::min(sector_bytes, f.cached.size() - at);
                f.durable.replace(at, n, f.cached, at, n);
            }
        }
        f.dirty_sectors.clear();
        f.cached = f.durable;
    }
    _open.clear();
    _busy = false;
    ++_generation;
}

}  // namespace ringmta::journal
