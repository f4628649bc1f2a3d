// Proves ringmta/dns/resolver.h compiles on its own (STYLE.md: every public header does).
#include "ringmta/dns/resolver.h"
