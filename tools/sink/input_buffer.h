// input_buffer: the bytes received on one socket and not yet consumed by the
// protocol. Fixed capacity: the server protocol consumes all complete input and
// leaves at most a partial command line (<= command_line_max), so compacting
// that remainder to the front always frees room for the next recv.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

#include "ringmta/runtime/assert.h"

namespace ringmta::sink {

class input_buffer {
public:
    explicit input_buffer(std::size_t capacity_bytes)
        : _data(std::make_unique<char[]>(capacity_bytes)), _capacity_bytes(capacity_bytes) {}

    std::string_view view() const { return {_data.get() + _begin, _end - _begin}; }

    void consume(std::size_t n) {
        RINGMTA_ASSERT(n <= _end - _begin, "consume %zu of %zu", n, _end - _begin);
        _begin += n;
        if (_begin == _end) _begin = _end = 0;
    }

    // Free room after the data, compacting first when the tail is short.
    char* space() {
        if (_capacity_bytes - _end < _capacity_bytes / 2 && _begin > 0) {
            std::memmove(_data.get(), _data.get() + _begin, _end - _begin);
            _end -= _begin;
            _begin = 0;
        }
        RINGMTA_ASSERT(_end < _capacity_bytes, "input buffer full (%zu bytes)", _end);
        return _data.get() + _end;
    }
    std::size_t space_bytes() const { return _capacity_bytes - _end; }

    void commit(std::size_t n) {
        RINGMTA_ASSERT(n <= _capacity_bytes - _end, "commit %zu past the end", n);
        _end += n;
    }

private:
    std::unique_ptr<char[]> _data;
    std::size_t _capacity_bytes;
    std::size_t _begin = 0;
    std::size_t _end = 0;
};

}  // namespace ringmta::sink
