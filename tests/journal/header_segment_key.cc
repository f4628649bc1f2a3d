// Proves ringmta/journal/segment_key.h compiles on its own (STYLE.md: every public header does).
#include "ringmta/journal/segment_key.h"
