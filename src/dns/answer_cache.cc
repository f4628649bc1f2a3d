// answer_cache (see answer_cache.h).
#include "ringmta/dns/answer_cache.h"

namespace ringmta::dns {

answer_cache::answer_cache(std::size_t entries_max) : _entries_max(entries_max) {
    _entries.reserve(std::min<std::size_t>(entries_max, 1024));
}

std::optional<answer> answer_cache::find(const cache_key& key, std::uint64_t now_ms) {
    auto it = _entries.find(key);
    if (it == _entries.end()) return std::nullopt;
    if (it->second.expires_ms <= now_ms) {
        erase(it);
        return std::nullopt;
    }
    answer a = it->second.value;
    a.ttl_s = static_cast<std::uint32_t>((it->second.expires_ms - now_ms + 999) / 1000);
    return a;
}

void answer_cache::insert(const cache_key& key, const answer& value, std::uint64_t now_ms) {
    if (_entries_max == 0 || value.ttl_s == 0) return;
    auto existing = _entries.find(key);
    if (existing != _entries.end()) erase(existing);
    make_room(now_ms);
    std::uint64_t expires_ms = now_ms + std::uint64_t{value.ttl_s} * 1000;
    auto [it, inserted] = _entries.emplace(key, entry{value, expires_ms, {}});
    it->second.position = _by_expiry.emplace(expires_ms, &it->first);
}

void answer_cache::clear() {
    _by_expiry.clear();
    _entries.clear();
}

void answer_cache::erase(entry_map::iterator it) {
    _by_expiry.erase(it->second.position);
    _entries.erase(it);
}

// Drops every expired answer (each is dropped once, so this is amortized O(1)
// per insert), then, if still full, the one closest to expiring.
void answer_cache::make_room(std::uint64_t now_ms) {
    while (!_by_expiry.empty() && _by_expiry.begin()->first <= now_ms) {
        erase(_entries.find(*_by_expiry.begin()->second));
    }
    while (_entries.size() >= _entries_max && !_by_expiry.empty()) {
        erase(_entries.find(*_by_expiry.begin()->second));
        ++_evictions;
    }
}

}  // namespace ringmta::dns
