// Proves ringmta/dns/question.h compiles on its own (STYLE.md: every public header does).
#include "ringmta/dns/question.h"
