// Proves ringmta/dns/mx_result.h compiles on its own (STYLE.md: every public header does).
#include "ringmta/dns/mx_result.h"
