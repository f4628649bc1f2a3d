// Private: ldns's headers, made safe for C++. Without <stdbool.h> first,
// ldns/common.h defines bool, true and false as macros, which break standard
// headers included after it (std::optional's operator<=> uses `false`).
#pragma once

#include <stdbool.h>

#include <ldns/ldns.h>
