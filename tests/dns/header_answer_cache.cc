// Proves ringmta/dns/answer_cache.h compiles on its own (STYLE.md: every public header does).
#include "ringmta/dns/answer_cache.h"
