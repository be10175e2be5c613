/* nm-address.h: the interface between endpoint.c and the NetworkManager
 * module it loads on demand (nm-address.c, built as libpic-celld-nm.so). */
#pragma once

#define NM_ADDRESS_MODULE_NAME "libpic-celld-nm.so"
#define NM_ADDRESS_SYMBOL "pic_celld_nm_primary_address"

/* The IPv4 address of NetworkManager's primary connection as NetworkManager
 * writes it (newly allocated), or NULL when NetworkManager does not run, has
 * no primary connection or does not answer within about a second. */
typedef char *(*NmPrimaryAddressFunc)(void);

char *pic_celld_nm_primary_address(void);
