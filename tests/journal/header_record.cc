// Proves ringmta/journal/record.h compiles on its own (STYLE.md: every public header does).
#include "ringmta/journal/record.h"
