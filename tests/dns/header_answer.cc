// Proves ringmta/dns/answer.h compiles on its own (STYLE.md: every public header does).
#include "ringmta/dns/answer.h"
