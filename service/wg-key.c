/* wg-key.c: placeholder until written. */
#include "wg-key.h"
