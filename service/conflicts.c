/* conflicts.c: placeholder until written. */
#include "conflicts.h"
