// Proves ringmta/journal/recovery.h compiles on its own (STYLE.md: every public header does).
#include "ringmta/journal/recovery.h"
