/* cell-state.c: placeholder until written. */
#include "cell-state.h"
