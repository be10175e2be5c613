/* nft.h: the cell's own nftables table, "inet pic_cell" (DESIGN §7), through
 * libnftnl. Each change is one atomic batch: the whole table at start-up, and
 * afterwards only what belongs to the links that changed. The ports a link
 * may reach are the elements of its own set, "svc_<name>", which one rule of
 * its chain looks up: a permission toggle adds and deletes elements and
 * writes no rule, so the kernel need not re-validate the table, and a toggle
 * costs the same with 1 link or 250. Nothing outside the table is ever
 * touched. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "netaddr.h"

#define NFT_TABLE_NAME "pic_cell"
#define NFT_MAX_LINK_CHAIN 64  /* chain names are "link_" + cell name (≤ 32); set names
                                 * "svc_" + cell name are shorter still */

typedef struct {
        char protocol[4];   /* "tcp" | "udp" */
        uint16_t port;
        uint32_t address;   /* destination address of the service */
} NftPort;

/* What one linked cell may reach here. */
typedef struct {
        unsigned ref_count;         /* rulesets may share a link that did not change */
        char *name;                 /* the linked cell's name: chain "link_<name>",
                                     * set "svc_<name>" */
        Ipv4Prefix subnet;          /* its VPN subnet (canonical) */
        GArray *ports;              /* of NftPort: the services we share with it (a port
                                     * listed twice is one element) */
        GPtrArray *exit_sources;    /* of Ipv4Prefix*: its peers that leave through us
                                     * (empty unless we offer the exit to it) */
} NftLink;

typedef struct {
        char *interface;            /* our WireGuard interface, e.g. "wg0" */
        char *uplink;               /* interface towards the internet (for exit/masquerade), or NULL */
        Ipv4Prefix own_subnet;      /* our VPN range (canonical) */
        uint32_t tunnel_address;    /* where linked cells reach peer-sync */
        uint16_t sync_port;
        uint32_t dns_address;       /* where linked cells reach DNS (53 udp/tcp) */
        GPtrArray *masquerade;      /* of Ipv4Prefix*: our own sources masqueraded on the
                                     * uplink (full-tunnel peers) */
        GPtrArray *links;           /* of NftLink*, any order; names unique */
        bool validated;             /* nft_apply() checked it (do not change it after) */
} NftRuleset;

NftRuleset *nft_ruleset_new(void);
void nft_ruleset_free(NftRuleset *ruleset);
NftRuleset *nft_ruleset_copy(const NftRuleset *ruleset);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NftRuleset, nft_ruleset_free)
NftLink *nft_link_new(const char *name, const Ipv4Prefix *subnet);  /* owned by the caller until added */
NftLink *nft_link_ref(NftLink *link);
void nft_link_unref(NftLink *link);
void nft_link_add_port(NftLink *link, const char *protocol, uint16_t port, uint32_t address);

/* Applies @desired. With @previous NULL the table is rebuilt whole (deleted if
 * it exists, created anew, all in one batch). With @previous (what was last
 * applied successfully) only the difference goes into the batch: the sets
 * and chains of links that appeared or vanished, the map entries of those
 * and of links whose subnet moved, the elements that came or went in the
 * sets of links whose ports changed, the rules of a link only if its exit
 * sources changed, and the masquerade set's elements. A difference the
 * kernel refuses (someone edited what it touches) and any change to the
 * global parts rebuild the table instead. On failure nothing is applied
 * (the batch is atomic) and @error quotes the kernel's answer. */
bool nft_apply(const NftRuleset *previous, NftRuleset *desired, GError **error);

/* Removes the table (at shutdown of the feature; not at daemon exit). */
bool nft_remove_table(GError **error);
