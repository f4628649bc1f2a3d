// question (see question.h): record type names and name normalization.
#include "ringmta/dns/question.h"

namespace ringmta::dns {

const char* record_type_name(record_type type) {
    switch (type) {
    case record_type::a: return "A";
    case record_type::ns: return "NS";
    case record_type::cname: return "CNAME";
    case record_type::soa: return "SOA";
    case record_type::mx: return "MX";
    case record_type::txt: return "TXT";
    case record_type::aaaa: return "AAAA";
    }
    return "other";
}

namespace {

bool host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

std::optional<std::string> normalize_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > name_bytes_max) return std::nullopt;
    std::string out;
    out.reserve(name.size());
    std::size_t label_bytes = 0;
    for (char c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c == '.') {
            if (label_bytes == 0) return std::nullopt;
            label_bytes = 0;
        } else {
            if (!host_char(c) || ++label_bytes > label_bytes_max) return std::nullopt;
        }
        out.push_back(c);
    }
    if (label_bytes == 0) return std::nullopt;
    return out;
}

}  // namespace ringmta::dns
