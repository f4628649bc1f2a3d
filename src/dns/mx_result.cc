// mx_result (see mx_result.h): status names and the preference ordering.
#include "ringmta/dns/mx_result.h"

#include <algorithm>
#include <utility>

namespace ringmta::dns {

const char* mx_status_name(mx_status status) {
    switch (status) {
    case mx_status::exchangers: return "exchangers";
    case mx_status::null_mx: return "null_mx";
    case mx_status::nxdomain: return "nxdomain";
    case mx_status::no_address: return "no_address";
    case mx_status::temporary_failure: return "temporary_failure";
    case mx_status::invalid_domain: return "invalid_domain";
    }
    return "?";
}

void order_by_preference(std::vector<mx_record>& records, random_source& random) {
    // Shuffle first (Fisher-Yates), then a stable sort by preference keeps the
    // random order among equal preferences.
    for (std::size_t i = records.size(); i > 1; --i) {
        std::size_t j = static_cast<std::size_t>(random.below(i));
        std::swap(records[i - 1], records[j]);
    }
    std::stable_sort(records.begin(), records.end(),
                     [](const mx_record& a, const mx_record& b) {
                         return a.preference < b.preference;
                     });
}

}  // namespace ringmta::dns
