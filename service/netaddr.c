/* netaddr.c: placeholder until written. */
#include "netaddr.h"
