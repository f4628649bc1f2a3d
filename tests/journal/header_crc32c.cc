// Proves ringmta/journal/crc32c.h compiles on its own (STYLE.md: every public header does).
#include "ringmta/journal/crc32c.h"
