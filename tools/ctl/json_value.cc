// A small JSON reader for ringmta-ctl. See json_value.h.
#include "json_value.h"

#include <charconv>
#include <cstdlib>

namespace ringmta::ctl {

namespace {

constexpr int depth_max = 32;

class reader {
public:
    explicit reader(std::string_view text) : _text(text) {}

    bool value(json_value& out, int depth) {
        skip_space();
        if (depth > depth_max || _at >= _text.size()) return false;
        char c = _text[_at];
        if (c == '{') return object(out, depth);
        if (c == '[') return array(out, depth);
        if (c == '"') {
            out.type = json_value::kind::string;
            return string(out.text);
        }
        if (literal("true")) {
            out.type = json_value::kind::boolean;
            out.boolean = true;
            return true;
        }
        if (literal("false")) {
            out.type = json_value::kind::boolean;
            return true;
        }
        if (literal("null")) return true;
        return number(out);
    }

    bool at_end() {
        skip_space();
        return _at == _text.size();
    }

private:
    void skip_space() {
        while (_at < _text.size() && (_text[_at] == ' ' || _text[_at] == '\n' ||
                                      _text[_at] == '\r' || _text[_at] == '\t')) {
            ++_at;
        }
    }

    bool literal(std::string_view word) {
        if (_text.substr(_at, word.size()) != word) return false;
        _at += word.size();
        return true;
    }

    bool eat(char c) {
        skip_space();
        if (_at >= _text.size() || _text[_at] != c) return false;
        ++_at;
        return true;
    }

    bool number(json_value& out) {
        const char* begin = _text.data() + _at;
        const char* end = _text.data() + _text.size();
        auto [ptr, ec] = std::from_chars(begin, end, out.number);
        if (ec != std::errc() || ptr == begin) return false;
        out.type = json_value::kind::number;
        _at += static_cast<std::size_t>(ptr - begin);
        return true;
    }

    static void append_utf8(std::string& out, unsigned code) {
        if (code < 0x80) {
            out += static_cast<char>(code);
        } else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
        } else if (code < 0x10000) {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (code >> 18));
            out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        }
    }

    bool hex4(unsigned& code) {
        if (_at + 4 > _text.size()) return false;
        auto [ptr, ec] = std::from_chars(_text.data() + _at, _text.data() + _at + 4, code, 16);
        if (ec != std::errc() || ptr != _text.data() + _at + 4) return false;
        _at += 4;
        return true;
    }

    bool escape(std::string& out) {
        char c = _text[_at++];
        switch (c) {
            case '"': case '\\': case '/': out += c; return true;
            case 'b': out += '\b'; return true;
            case 'f': out += '\f'; return true;
            case 'n': out += '\n'; return true;
            case 'r': out += '\r'; return true;
            case 't': out += '\t'; return true;
            case 'u': break;
            default: return false;
        }
        unsigned code = 0;
        if (!hex4(code)) return false;
        if (code >= 0xD800 && code < 0xDC00 && _text.substr(_at, 2) == "\\u") {
            _at += 2;
            unsigned low = 0;
            if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        } else if (code >= 0xD800 && code < 0xE000) {
            code = 0xFFFD;   // a lone surrogate
        }
        append_utf8(out, code);
        return true;
    }

    bool string(std::string& out) {
        ++_at;   // the opening quote
        while (_at < _text.size()) {
            char c = _text[_at++];
            if (c == '"') return true;
            if (c != '\\') {
                out += c;
            } else if (_at >= _text.size() || !escape(out)) {
                return false;
            }
        }
        return false;
    }

    bool array(json_value& out, int depth) {
        out.type = json_value::kind::array;
        ++_at;
        if (eat(']')) return true;
        do {
            out.items.emplace_back();
            if (!value(out.items.back(), depth + 1)) return false;
        } while (eat(','));
        return eat(']');
    }

    bool object(json_value& out, int depth) {
        out.type = json_value::kind::object;
        ++_at;
        if (eat('}')) return true;
        do {
            skip_space();
            std::string name;
            if (_at >= _text.size() || _text[_at] != '"' || !string(name) || !eat(':')) {
                return false;
            }
            out.fields.emplace_back(std::move(name), json_value{});
            if (!value(out.fields.back().second, depth + 1)) return false;
        } while (eat(','));
        return eat('}');
    }

    std::string_view _text;
    std::size_t _at = 0;
};

}  // namespace

const json_value* json_value::get(std::string_view name) const {
    for (const auto& [key, value] : fields) {
        if (key == name) return &value;
    }
    return nullptr;
}

std::string json_value::string_or(std::string_view name, std::string fallback) const {
    const json_value* v = get(name);
    return v != nullptr && v->type == kind::string ? v->text : fallback;
}

double json_value::number_or(std::string_view name, double fallback) const {
    const json_value* v = get(name);
    return v != nullptr && v->type == kind::number ? v->number : fallback;
}

bool json_value::bool_or(std::string_view name, bool fallback) const {
    const json_value* v = get(name);
    return v != nullptr && v->type == kind::boolean ? v->boolean : fallback;
}

std::optional<json_value> parse_json(std::string_view text) {
    reader r(text);
    json_value out;
    if (!r.value(out, 0) || !r.at_end()) return std::nullopt;
    return out;
}

}  // namespace ringmta::ctl
