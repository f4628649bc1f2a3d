// Private: ldns domain names (uncompressed wire labels in an rdf) to the
// module's normalized text form (see question.h).
#pragma once

#include "ldns_headers.h"

#include <string>

namespace ringmta::dns::detail {

// Lower case, labels joined with '.', no trailing dot; the root is ".". Bytes
// that cannot appear in a host name are written as \DDD (and '.' or '\' inside
// a label escaped), so such a name never equals a normalized query name.
std::string name_text(const ldns_rdf* name);

}  // namespace ringmta::dns::detail
