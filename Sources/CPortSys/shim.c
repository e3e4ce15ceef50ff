// The functions live in the header as static inline; this file gives the target a source.
#include "CPortSys.h"
