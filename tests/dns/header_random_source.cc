// Proves ringmta/dns/random_source.h compiles on its own (STYLE.md: every public header does).
#include "ringmta/dns/random_source.h"
