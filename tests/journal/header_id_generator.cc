// Proves ringmta/journal/id_generator.h compiles on its own (STYLE.md: every public header does).
#include "ringmta/journal/id_generator.h"
