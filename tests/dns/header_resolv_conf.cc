// Proves ringmta/dns/resolv_conf.h compiles on its own (STYLE.md: every public header does).
#include "ringmta/dns/resolv_conf.h"
