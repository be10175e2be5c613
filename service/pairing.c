/* pairing.c: placeholder until written. */
#include "pairing.h"
