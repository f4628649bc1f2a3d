// name_text (see name_text.h).
#include "name_text.h"

#include <cstdio>

namespace ringmta::dns::detail {

namespace {

void append_label_byte(std::string& out, std::uint8_t c) {
    if (c >= 'A' && c <= 'Z') {
        out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (c == '.' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
    } else if (c > 0x20 && c < 0x7f) {
        out.push_back(static_cast<char>(c));
    } else {
        char escaped[5];
        std::snprintf(escaped, sizeof(escaped), "\\%03u", static_cast<unsigned>(c));
        out.append(escaped);
    }
}

}  // namespace

std::string name_text(const ldns_rdf* name) {
    std::string out;
    if (name == nullptr || ldns_rdf_get_type(name) != LDNS_RDF_TYPE_DNAME) return out;
    const std::uint8_t* data = ldns_rdf_data(name);
    std::size_t size = ldns_rdf_size(name);
    std::size_t at = 0;
    // A wire name has at most 127 labels; the bound also stops a malformed rdf.
    for (unsigned labels = 0; at < size && labels < 128; ++labels) {
        std::uint8_t length = data[at++];
        if (length == 0) break;
        if (length > 63 || at + length > size) break;
        if (!out.empty()) out.push_back('.');
        for (std::size_t i = 0; i < length; ++i) append_label_byte(out, data[at + i]);
        at += length;
    }
    if (out.empty()) out.push_back('.');   // the root (push_back: g++ 12 -Wrestrict)
    return out;
}

}  // namespace ringmta::dns::detail
