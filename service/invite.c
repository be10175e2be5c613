/* invite.c: placeholder until written. */
#include "invite.h"
