// content_cache and message helpers (see content_cache.h, message.h).
#include "ringmta/queue/content_cache.h"

#include <cstring>

namespace ringmta::queue {

std::size_t content::footprint() const {
    // Each string's heap block (when it has one) plus the fixed parts.
    std::size_t n = sizeof(content) + body.capacity() + sender.capacity() + envid.capacity();
    for (const std::string& r : recipients) n += sizeof(std::string) + r.capacity();
    for (const std::string& o : orcpt) n += sizeof(std::string) + o.capacity();
    return n + notify.capacity();
}

void recipient_list::assign(std::span<const std::uint32_t> indexes) {
    release();
    if (indexes.size() > inline_max) {
        auto* heap = new std::uint32_t[indexes.size()];
        std::memcpy(heap, indexes.data(), indexes.size() * sizeof(std::uint32_t));
        _heap = heap;
    } else {
        for (std::size_t i = 0; i < indexes.size(); ++i) _inline[i] = indexes[i];
    }
    _size = static_cast<std::uint32_t>(indexes.size());
}

content_ptr content_cache::find(std::uint64_t id) {
    auto it = _entries.find(id);
    if (it == _entries.end()) {
        ++_stats.misses;
        return nullptr;
    }
    ++_stats.hits;
    _lru.splice(_lru.begin(), _lru, it->second.order);
    return it->second.content;
}

void content_cache::insert(std::uint64_t id, content_ptr c) {
    erase(id);
    std::size_t bytes = c->footprint();
    if (bytes > _budget) {
        ++_stats.too_large;
        return;
    }
    while (_bytes + bytes > _budget && !_lru.empty()) {
        ++_stats.evicted;
        drop(_entries.find(_lru.back()));
    }
    _lru.push_front(id);
    _entries.emplace(id, entry{std::move(c), bytes, _lru.begin()});
    _bytes += bytes;
    ++_stats.inserted;
}

void content_cache::erase(std::uint64_t id) {
    auto it = _entries.find(id);
    if (it != _entries.end()) drop(it);
}

void content_cache::drop(std::unordered_map<std::uint64_t, entry>::iterator it) {
    _bytes -= it->second.bytes;
    _lru.erase(it->second.order);
    _entries.erase(it);
}

}  // namespace ringmta::queue
