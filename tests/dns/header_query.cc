// Proves ringmta/dns/query.h compiles on its own (STYLE.md: every public header does).
#include "ringmta/dns/query.h"
