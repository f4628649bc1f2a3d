// A queued message in memory (DESIGN.md, Journal: "a queued recipient costs a
// small fixed record, never its body").
//
// Two parts:
// * `message`: what stays resident while any recipient is queued: the queue id,
//   arrival time, flags, where its record lies in the journal, and how many
//   recipients are unfinished. 48 bytes, shared by its jobs through an intrusive
//   count (shard-local, so not atomic).
// * `content`: the envelope (sender, recipients, DSN parameters) and the body,
//   needed only while a job of the message is being delivered or reported.
//   Delivery gets it from the content cache (mail delivered right after it
//   arrived) or reads the message record back from the journal.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ringmta::queue {

struct message {
    std::uint64_t id = 0;
    std::uint64_t arrival_unix_ms = 0;
    std::uint64_t segment_sequence = 0;   // journal segment holding the message record
    std::uint64_t record_offset = 0;      // of the record within that segment
    std::uint32_t record_bytes = 0;       // the whole record (one read fetches it)
    std::uint32_t flags = 0;              // journal::message_flag_*
    std::uint32_t unfinished = 0;         // recipients without a final outcome
    std::uint32_t refs = 0;               // message_ptr count
};

// A counted reference to a message; copies are cheap and never allocate.
class message_ptr {
public:
    message_ptr() = default;
    explicit message_ptr(message* m) noexcept : _m(m) {
        if (_m) ++_m->refs;
    }
    message_ptr(const message_ptr& other) noexcept : message_ptr(other._m) {}
    message_ptr(message_ptr&& other) noexcept : _m(other._m) { other._m = nullptr; }
    message_ptr& operator=(message_ptr other) noexcept {
        std::swap(_m, other._m);
        return *this;
    }
    ~message_ptr() { reset(); }

    void reset() noexcept {
        if (_m && --_m->refs == 0) delete _m;
        _m = nullptr;
    }
    message* get() const noexcept { return _m; }
    message& operator*() const noexcept { return *_m; }
    message* operator->() const noexcept { return _m; }
    explicit operator bool() const noexcept { return _m != nullptr; }
    friend bool operator==(const message_ptr& a, const message_ptr& b) noexcept {
        return a._m == b._m;
    }

private:
    message* _m = nullptr;
};

inline message_ptr make_message() { return message_ptr(new message()); }

// The envelope and body of a message, as delivery needs them.
struct content {
    std::string sender;                // "" = null sender
    std::vector<std::string> recipients;
    std::string body;                  // unstuffed, trace headers included
    // RFC 3461 DSN parameters, passed on to a next hop that offers DSN.
    std::string envid;                 // xtext as received, "" = none
    std::uint8_t ret = 0;              // smtp::ret_*
    std::vector<std::uint8_t> notify;  // per recipient (smtp::notify_*), empty = none given
    std::vector<std::string> orcpt;    // per recipient, empty = none given

    // What this costs in memory, about: the cache's budget unit.
    std::size_t footprint() const;
};
using content_ptr = std::shared_ptr<const content>;

// A job's recipients (indexes into the message's recipient list): up to two
// inline, so the usual job of one recipient allocates nothing. 16 bytes.
class recipient_list {
public:
    recipient_list() noexcept {}
    recipient_list(std::span<const std::uint32_t> indexes) { assign(indexes); }
    recipient_list(std::initializer_list<std::uint32_t> indexes) {
        assign(std::span<const std::uint32_t>(indexes.begin(), indexes.size()));
    }
    recipient_list(const std::vector<std::uint32_t>& indexes) {
        assign(std::span<const std::uint32_t>(indexes));
    }
    recipient_list(const recipient_list& other) { assign(other.span()); }
    recipient_list(recipient_list&& other) noexcept { take(other); }
    recipient_list& operator=(const recipient_list& other) {
        if (this != &other) assign(other.span());
        return *this;
    }
    recipient_list& operator=(recipient_list&& other) noexcept {
        if (this != &other) {
            release();
            take(other);
        }
        return *this;
    }
    ~recipient_list() { release(); }

    void assign(std::span<const std::uint32_t> indexes);
    std::size_t size() const noexcept { return _size; }
    bool empty() const noexcept { return _size == 0; }
    const std::uint32_t* begin() const noexcept { return data(); }
    const std::uint32_t* end() const noexcept { return data() + _size; }
    std::uint32_t operator[](std::size_t i) const noexcept { return data()[i]; }
    std::span<const std::uint32_t> span() const noexcept { return {data(), _size}; }
    std::vector<std::uint32_t> to_vector() const { return {begin(), end()}; }
    friend bool operator==(const recipient_list& a, const std::vector<std::uint32_t>& b) {
        return std::equal(a.begin(), a.end(), b.begin(), b.end());
    }

private:
    static constexpr std::uint32_t inline_max = 2;
    const std::uint32_t* data() const noexcept { return _size <= inline_max ? _inline : _heap; }
    void release() noexcept {
        if (_size > inline_max) delete[] _heap;
        _size = 0;
    }
    void take(recipient_list& other) noexcept {
        _size = other._size;
        if (_size > inline_max) {
            _heap = other._heap;
        } else {
            _inline[0] = other._inline[0];
            _inline[1] = other._inline[1];
        }
        other._size = 0;
    }

    std::uint32_t _size = 0;
    union {
        std::uint32_t _inline[inline_max] = {0, 0};
        std::uint32_t* _heap;
    };
};

}  // namespace ringmta::queue
