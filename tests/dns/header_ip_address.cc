// Proves ringmta/dns/ip_address.h compiles on its own (STYLE.md: every public header does).
#include "ringmta/dns/ip_address.h"
