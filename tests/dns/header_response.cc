// Proves ringmta/dns/response.h compiles on its own (STYLE.md: every public header does).
#include "ringmta/dns/response.h"
