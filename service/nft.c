/* nft.c: the cell's nftables table "inet pic_cell", built and patched in single libnftnl batches. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "nft.h"
#include "pic-error.h"

#define TABLE_TEXT "table inet " NFT_TABLE_NAME
#define SET_LINKED "linked"
#define MAP_DISPATCH "dispatch"
#define SET_MASQ "masq"
#define CHAIN_PREFIX "link_"
#define SERVICES_PREFIX "svc_"

/* nft's own numbers for the key types, so `nft list` shows "ipv4_addr" and
 * prints the elements as addresses. A concatenation's type is its parts'
 * numbers shifted in one after the other, as nft composes it; with it nft
 * prints a service as "10.77.1.1 . tcp . 445". */
#define NFT_TYPE_IPV4_ADDR 7
#define NFT_TYPE_INET_PROTOCOL 12
#define NFT_TYPE_INET_SERVICE 13
#define NFT_TYPE_BITS 6
#define NFT_TYPE_SERVICE_KEY \
        ((((NFT_TYPE_IPV4_ADDR << NFT_TYPE_BITS) | NFT_TYPE_INET_PROTOCOL) << NFT_TYPE_BITS) | NFT_TYPE_INET_SERVICE)
#define NFT_BYTEORDER_BIG_ENDIAN 2

/* Batch pages: a full table of 250 links is about a megabyte, so pages are
 * large enough to keep the iovec short; every single message is far below
 * the overrun area. */
#define BATCH_PAGE_SIZE (256 * 1024)
#define BATCH_OVERRUN_SIZE MNL_SOCKET_BUFFER_SIZE

/* The kernel answers every message of the batch with its own ACK, each in a
 * socket buffer of its own; this much room per message keeps the default
 * receive buffer from overflowing on a full rebuild. */
#define RECV_ROOM_PER_MESSAGE 2048
/* All answers are queued before sendmsg() returns; the wait is only a
 * safety net against a kernel that never answers. */
#define ANSWER_TIMEOUT_MS 5000
/* Room for any single answer, extended ACK included. */
#define RECV_SIZE 32768

typedef struct mnl_socket MnlSocket;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MnlSocket, mnl_socket_close)

/* One socket for the life of the process, used from the main thread only.
 * Closing a netfilter socket makes the kernel wait for the release of the
 * last transaction (an RCU grace period, 10 to 20 ms here), which would be
 * nearly all of what a toggle costs. */
static struct {
        MnlSocket *nl;
        dev_t netns_dev;        /* the network namespace it was opened in */
        ino_t netns_ino;
        uint32_t seq;           /* last sequence number used on it */
} kernel;

/* ---- the model ---- */

NftRuleset *nft_ruleset_new(void) {
        NftRuleset *ruleset = g_new0(NftRuleset, 1);

        ruleset->masquerade = g_ptr_array_new_with_free_func(g_free);
        ruleset->links = g_ptr_array_new_with_free_func((GDestroyNotify) nft_link_unref);
        return ruleset;
}

void nft_ruleset_free(NftRuleset *ruleset) {
        if (!ruleset)
                return;
        g_free(ruleset->interface);
        g_free(ruleset->uplink);
        g_clear_pointer(&ruleset->masquerade, g_ptr_array_unref);
        g_clear_pointer(&ruleset->links, g_ptr_array_unref);
        g_free(ruleset);
}

static GPtrArray *prefix_array_copy(const GPtrArray *prefixes) {
        GPtrArray *copy = g_ptr_array_new_full(prefixes ? prefixes->len : 0, g_free);

        for (guint i = 0; prefixes && i < prefixes->len; i++)
                g_ptr_array_add(copy, g_memdup2(prefixes->pdata[i], sizeof(Ipv4Prefix)));
        return copy;
}

static NftLink *link_copy(const NftLink *link) {
        NftLink *copy = nft_link_new(link->name, &link->subnet);

        if (link->ports)
                g_array_append_vals(copy->ports, link->ports->data, link->ports->len);
        g_ptr_array_unref(copy->exit_sources);
        copy->exit_sources = prefix_array_copy(link->exit_sources);
        return copy;
}

NftRuleset *nft_ruleset_copy(const NftRuleset *ruleset) {
        NftRuleset *copy;

        if (!ruleset)
                return NULL;
        copy = nft_ruleset_new();
        copy->interface = g_strdup(ruleset->interface);
        copy->uplink = g_strdup(ruleset->uplink);
        copy->own_subnet = ruleset->own_subnet;
        copy->tunnel_address = ruleset->tunnel_address;
        copy->sync_port = ruleset->sync_port;
        copy->dns_address = ruleset->dns_address;
        g_ptr_array_unref(copy->masquerade);
        copy->masquerade = prefix_array_copy(ruleset->masquerade);
        for (guint i = 0; ruleset->links && i < ruleset->links->len; i++)
                g_ptr_array_add(copy->links, link_copy(ruleset->links->pdata[i]));
        return copy;
}

NftLink *nft_link_new(const char *name, const Ipv4Prefix *subnet) {
        NftLink *link = g_new0(NftLink, 1);

        link->ref_count = 1;
        link->name = g_strdup(name);
        link->subnet = *subnet;
        link->ports = g_array_new(FALSE, TRUE, sizeof(NftPort));
        link->exit_sources = g_ptr_array_new_with_free_func(g_free);
        return link;
}

NftLink *nft_link_ref(NftLink *link) {
        link->ref_count++;
        return link;
}

void nft_link_unref(NftLink *link) {
        if (!link || --link->ref_count > 0)
                return;
        g_free(link->name);
        g_clear_pointer(&link->ports, g_array_unref);
        g_clear_pointer(&link->exit_sources, g_ptr_array_unref);
        g_free(link);
}

void nft_link_add_port(NftLink *link, const char *protocol, uint16_t port, uint32_t address) {
        NftPort p = { .port = port, .address = address };

        /* Cut short, "tcpx" would pass as "tcp"; a protocol that does not
         * even fit is a caller's bug, and a missing port fails closed. */
        g_return_if_fail(protocol && strlen(protocol) < sizeof(p.protocol));
        g_strlcpy(p.protocol, protocol, sizeof(p.protocol));
        g_array_append_val(link->ports, p);
}

/* ---- validation: what the kernel would take but must not get ---- */

/* @value made fit for an error message: control and non-ASCII bytes
 * escaped, and cut short. */
static char *quote(const char *value) {
        g_autofree char *cut = g_strndup(value ? value : "", 80);

        return g_strescape(cut, NULL);
}

static bool validate_ifname(const char *field, const char *name, bool optional, GError **error) {
        if (!name) {
                if (optional)
                        return true;
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            "The nftables table needs the name of our %s, and none was given", field);
                return false;
        }
        /* A longer name would silently compare against bytes past the
         * interface name instead of failing. */
        if (name[0] == '\0' || strlen(name) >= IFNAMSIZ || strpbrk(name, "/: \t\n")) {
                g_autofree char *quoted = quote(name);

                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            "Invalid %s \"%s\": an interface name has 1 to %d characters and no '/', ':' or space",
                            field, quoted, IFNAMSIZ - 1);
                return false;
        }
        return true;
}

static bool protocol_is(const NftPort *port, const char *protocol) {
        return strncmp(port->protocol, protocol, sizeof(port->protocol)) == 0;
}

static bool validate_prefix(const char *what, const char *owner, const Ipv4Prefix *prefix, GError **error) {
        if (prefix->prefixlen > 32) {
                g_autofree char *quoted = quote(owner);

                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            "Invalid prefix length %u in %s%s%s%s: it must be 0 to 32",
                            prefix->prefixlen, what, owner ? " of link \"" : "", owner ? quoted : "", owner ? "\"" : "");
                return false;
        }
        return true;
}

/* True when @name is the name of a link of @ruleset other than the one at @self. */
static bool name_taken(const NftRuleset *ruleset, guint self, const char *name) {
        for (guint i = 0; i < ruleset->links->len; i++)
                if (i != self && g_strcmp0(((const NftLink *) ruleset->links->pdata[i])->name, name) == 0)
                        return true;
        return false;
}

static bool duplicate_name_error(const NftLink *link, GError **error) {
        g_autofree char *name = quote(link->name);

        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                    "Link \"%s\" appears twice in the nftables table: link names must be unique", name);
        return false;
}

/* A link at the same position in @valid, a ruleset that passed already,
 * passed with it. */
static bool link_known(const NftRuleset *valid, guint i, const NftLink *link) {
        return valid && i < valid->links->len && valid->links->pdata[i] == link;
}

/* Checks @ruleset. Of @valid (a ruleset that passed, or NULL) it checks again
 * only what differs: a toggle of one link among 250 checks one. */
static bool validate_ruleset(const NftRuleset *ruleset, const NftRuleset *valid, GError **error) {
        g_autoptr(GHashTable) names = NULL;
        guint unknown = 0;

        if (!validate_ifname("interface", ruleset->interface, false, error) ||
            !validate_ifname("uplink", ruleset->uplink, true, error) ||
            !validate_prefix("own subnet", NULL, &ruleset->own_subnet, error))
                return false;
        for (guint i = 0; ruleset->masquerade && i < ruleset->masquerade->len; i++)
                if (!validate_prefix("masquerade source", NULL, ruleset->masquerade->pdata[i], error))
                        return false;

        /* Names of links that are new to it are compared with every other
         * one; beyond a few of them a table of the names is cheaper. */
        for (guint i = 0; ruleset->links && i < ruleset->links->len; i++)
                unknown += !link_known(valid, i, ruleset->links->pdata[i]);
        if (unknown > 4)
                names = g_hash_table_new(g_str_hash, g_str_equal);

        /* The names are quoted only for an error, so that the check costs
         * little with 250 links. */
        for (guint i = 0; ruleset->links && i < ruleset->links->len; i++) {
                const NftLink *link = ruleset->links->pdata[i];
                g_autofree char *name = NULL;

                if (link_known(valid, i, link)) {
                        /* Checked before, but its name may now be taken. */
                        if (!names || g_hash_table_add(names, link->name))
                                continue;
                        return duplicate_name_error(link, error);
                }
                if (!link->name || link->name[0] == '\0' ||
                    strlen(CHAIN_PREFIX) + strlen(link->name) >= NFT_MAX_LINK_CHAIN) {
                        name = quote(link->name);
                        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                    "Invalid link name \"%s\" for the nftables table: it must have 1 to %zu characters",
                                    name, NFT_MAX_LINK_CHAIN - 1 - strlen(CHAIN_PREFIX));
                        return false;
                }
                if (names ? !g_hash_table_add(names, link->name) : name_taken(ruleset, i, link->name))
                        return duplicate_name_error(link, error);
                if (!validate_prefix("the subnet", link->name, &link->subnet, error))
                        return false;
                for (guint j = 0; link->ports && j < link->ports->len; j++) {
                        const NftPort *port = &g_array_index(link->ports, NftPort, j);

                        if (!protocol_is(port, "tcp") && !protocol_is(port, "udp")) {
                                g_autofree char *cut = g_strndup(port->protocol, sizeof(port->protocol));
                                g_autofree char *protocol = quote(cut);

                                name = quote(link->name);
                                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                            "Invalid protocol \"%s\" for port %u shared with link \"%s\": use \"tcp\" or \"udp\"",
                                            protocol, port->port, name);
                                return false;
                        }
                }
                for (guint j = 0; link->exit_sources && j < link->exit_sources->len; j++)
                        if (!validate_prefix("an exit source", link->name, link->exit_sources->pdata[j], error))
                                return false;
        }
        return true;
}

/* ---- text forms, for error messages ---- */

typedef struct {
        char text[INET_ADDRSTRLEN + 4];
} AddrText;

static AddrText addr_text(uint32_t address) {
        AddrText t;
        uint32_t be = htonl(address);

        inet_ntop(AF_INET, &be, t.text, sizeof(t.text));
        return t;
}

static AddrText prefix_text(const Ipv4Prefix *prefix) {
        AddrText t = addr_text(netaddr_network(prefix));

        if (prefix->prefixlen < 32) {
                size_t n = strlen(t.text);
                g_snprintf(t.text + n, sizeof(t.text) - n, "/%u", prefix->prefixlen);
        }
        return t;
}

/* ---- intervals, the element form of prefixes in interval sets ---- */

typedef struct {
        uint32_t start;
        uint64_t end;           /* exclusive; 2^32 when the interval runs to the top */
} Interval;

static Interval prefix_interval(const Ipv4Prefix *prefix) {
        return (Interval) {
                .start = netaddr_network(prefix),
                .end = (uint64_t) netaddr_broadcast(prefix) + 1,
        };
}

static char *interval_text(const Interval *interval) {
        uint64_t size = interval->end - interval->start;

        /* An aligned power of two reads best as a prefix. */
        if ((size & (size - 1)) == 0 && (interval->start & (size - 1)) == 0) {
                Ipv4Prefix prefix = { .address = interval->start, .prefixlen = 32 };

                while (size > 1) {
                        size >>= 1;
                        prefix.prefixlen--;
                }
                return g_strdup(prefix_text(&prefix).text);
        }
        return g_strdup_printf("%s-%s", addr_text(interval->start).text,
                               addr_text((uint32_t) (interval->end - 1)).text);
}

static int interval_compare(const void *a, const void *b) {
        const Interval *x = a, *y = b;

        if (x->start != y->start)
                return x->start < y->start ? -1 : 1;
        if (x->end != y->end)
                return x->end < y->end ? -1 : 1;
        return 0;
}

/* Everything masqueraded on the uplink, as sorted, disjoint intervals: the
 * kernel refuses overlapping elements, and our own full-tunnel peers and the
 * exit sources of several links may well overlap. */
static GArray *masq_intervals(const NftRuleset *ruleset) {
        g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(Interval));
        GArray *merged = g_array_new(FALSE, FALSE, sizeof(Interval));

        for (guint i = 0; ruleset->masquerade && i < ruleset->masquerade->len; i++) {
                Interval interval = prefix_interval(ruleset->masquerade->pdata[i]);
                g_array_append_val(all, interval);
        }
        for (guint i = 0; ruleset->links && i < ruleset->links->len; i++) {
                const NftLink *link = ruleset->links->pdata[i];

                for (guint j = 0; link->exit_sources && j < link->exit_sources->len; j++) {
                        Interval interval = prefix_interval(link->exit_sources->pdata[j]);
                        g_array_append_val(all, interval);
                }
        }
        g_array_sort(all, interval_compare);
        for (guint i = 0; i < all->len; i++) {
                const Interval *next = &g_array_index(all, Interval, i);
                Interval *last = merged->len > 0 ? &g_array_index(merged, Interval, merged->len - 1) : NULL;

                if (last && next->start <= last->end)
                        last->end = MAX(last->end, next->end);
                else
                        g_array_append_val(merged, *next);
        }
        return merged;
}

/* ---- services, the elements of a link's set ---- */

/* One shared port as the kernel compares it. */
typedef struct {
        uint32_t address;       /* destination */
        uint8_t protocol;       /* IPPROTO_TCP or IPPROTO_UDP */
        uint16_t port;
} ServiceKey;

/* In the set every part fills a 32-bit register of its own, the way the
 * rule loads them: address, then protocol and port, each padded with zeros. */
#define SERVICE_KEY_LEN (3 * sizeof(uint32_t))

static void service_key_bytes(const ServiceKey *key, uint8_t ret[static SERVICE_KEY_LEN]) {
        uint32_t address = htonl(key->address);
        uint16_t port = htons(key->port);

        memset(ret, 0, SERVICE_KEY_LEN);
        memcpy(ret, &address, sizeof(address));
        ret[sizeof(uint32_t)] = key->protocol;
        memcpy(ret + 2 * sizeof(uint32_t), &port, sizeof(port));
}

static char *service_key_text(const ServiceKey *key) {
        return g_strdup_printf("%s . %s . %u", addr_text(key->address).text,
                               key->protocol == IPPROTO_UDP ? "udp" : "tcp", key->port);
}

static int service_key_compare(const void *a, const void *b) {
        const ServiceKey *x = a, *y = b;

        if (x->address != y->address)
                return x->address < y->address ? -1 : 1;
        if (x->protocol != y->protocol)
                return x->protocol < y->protocol ? -1 : 1;
        if (x->port != y->port)
                return x->port < y->port ? -1 : 1;
        return 0;
}

/* The link's ports, sorted and each once: two services on the same port
 * are one element, and the kernel refuses to add an element twice. */
static GArray *link_services(const NftLink *link) {
        GArray *keys = g_array_new(FALSE, FALSE, sizeof(ServiceKey));
        guint n = 0;

        for (guint i = 0; link->ports && i < link->ports->len; i++) {
                const NftPort *port = &g_array_index(link->ports, NftPort, i);
                ServiceKey key = {
                        .address = port->address,
                        .protocol = protocol_is(port, "udp") ? IPPROTO_UDP : IPPROTO_TCP,
                        .port = port->port,
                };

                g_array_append_val(keys, key);
        }
        g_array_sort(keys, service_key_compare);
        for (guint i = 0; i < keys->len; i++)
                if (n == 0 || service_key_compare(&g_array_index(keys, ServiceKey, n - 1),
                                                  &g_array_index(keys, ServiceKey, i)) != 0)
                        g_array_index(keys, ServiceKey, n++) = g_array_index(keys, ServiceKey, i);
        g_array_set_size(keys, n);
        return keys;
}

/* ---- the batch ---- */

typedef struct {
        struct nftnl_batch *batch;
        uint32_t first_seq;     /* of the first message after BATCH_BEGIN */
        uint32_t next_seq;
        GPtrArray *what;        /* char*: what message first_seq + i does, for errors */
        uint32_t last_set_id;   /* transaction ids of the sets it creates */
        bool out_of_memory;
} Batch;

static void batch_free(Batch *batch) {
        if (!batch)
                return;
        if (batch->batch)
                nftnl_batch_free(batch->batch);
        g_clear_pointer(&batch->what, g_ptr_array_unref);
        g_free(batch);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Batch, batch_free)

/* libnftnl allocates with malloc(); like g_malloc(), running out is fatal. */
static void *check_alloc(void *p) {
        if (!p)
                g_error("Out of memory building an nftables batch");
        return p;
}

static void batch_advance(Batch *batch) {
        if (nftnl_batch_update(batch->batch) < 0)
                batch->out_of_memory = true;
}

static Batch *batch_new(void) {
        Batch *batch = g_new0(Batch, 1);

        batch->batch = check_alloc(nftnl_batch_alloc(BATCH_PAGE_SIZE, BATCH_OVERRUN_SIZE));
        batch->what = g_ptr_array_new_with_free_func(g_free);
        nftnl_batch_begin(nftnl_batch_buffer(batch->batch), ++kernel.seq);
        batch_advance(batch);
        batch->first_seq = batch->next_seq = ++kernel.seq;
        return batch;
}

/* Closes the batch; the numbers it used are not handed out again, so a
 * late answer to it can never pass for an answer to the next one. */
static void batch_finish(Batch *batch) {
        nftnl_batch_end(nftnl_batch_buffer(batch->batch), batch->next_seq);
        batch_advance(batch);
        kernel.seq = batch->next_seq;
}

static struct nlmsghdr *batch_message(Batch *batch, uint16_t type, uint16_t flags, char *what) {
        g_ptr_array_add(batch->what, what);
        return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(batch->batch), type, NFPROTO_INET,
                                     flags | NLM_F_ACK, batch->next_seq++);
}

static void batch_table(Batch *batch, uint16_t type, uint16_t flags, const char *verb) {
        struct nftnl_table *table = check_alloc(nftnl_table_alloc());
        struct nlmsghdr *nlh;

        nftnl_table_set_str(table, NFTNL_TABLE_NAME, NFT_TABLE_NAME);
        nlh = batch_message(batch, type, flags, g_strdup_printf("%s the table", verb));
        nftnl_table_nlmsg_build_payload(nlh, table);
        nftnl_table_free(table);
        batch_advance(batch);
}

static struct nftnl_set *set_new(const char *name) {
        struct nftnl_set *set = check_alloc(nftnl_set_alloc());

        nftnl_set_set_str(set, NFTNL_SET_TABLE, NFT_TABLE_NAME);
        nftnl_set_set_str(set, NFTNL_SET_NAME, name);
        return set;
}

/* Queues the creation of @set, keyed as nft would key it, and frees it;
 * returns the set's transaction id, by which the rules of the same batch
 * may refer to it. */
static uint32_t batch_new_set(Batch *batch, struct nftnl_set *set, uint32_t key_type, uint32_t key_len,
                              uint32_t key_byteorder, char *what) {
        struct nftnl_udata_buf *udata = check_alloc(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
        struct nlmsghdr *nlh;
        uint32_t id = ++batch->last_set_id;

        nftnl_set_set_u32(set, NFTNL_SET_ID, id);
        nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, key_type);
        nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, key_len);
        /* nft reads the key's byte order from here to print it. */
        nftnl_udata_put_u32(udata, NFTNL_UDATA_SET_KEYBYTEORDER, key_byteorder);
        nftnl_set_set_data(set, NFTNL_SET_USERDATA, nftnl_udata_buf_data(udata), nftnl_udata_buf_len(udata));

        nlh = batch_message(batch, NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL, what);
        nftnl_set_nlmsg_build_payload(nlh, set);
        nftnl_udata_buf_free(udata);
        nftnl_set_free(set);
        batch_advance(batch);
        return id;
}

/* An interval set of addresses, or with @verdict_map a map from them. */
static void batch_set(Batch *batch, const char *name, bool verdict_map) {
        struct nftnl_set *set = set_new(name);

        nftnl_set_set_u32(set, NFTNL_SET_FLAGS, NFT_SET_INTERVAL | (verdict_map ? NFT_SET_MAP : 0));
        if (verdict_map)
                nftnl_set_set_u32(set, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
        (void) batch_new_set(batch, set, NFT_TYPE_IPV4_ADDR, sizeof(uint32_t), NFT_BYTEORDER_BIG_ENDIAN,
                             g_strdup_printf("add %s %s", verdict_map ? "map" : "set", name));
}

/* A link's set of services: a plain hash, so that adding and deleting its
 * elements never makes the kernel re-validate the table. */
static uint32_t batch_services_set(Batch *batch, const char *name) {
        struct nftnl_set *set = set_new(name);

        nftnl_set_set_u32(set, NFTNL_SET_FLAGS, 0);
        /* A concatenation has no single byte order; nft records none. */
        return batch_new_set(batch, set, NFT_TYPE_SERVICE_KEY, SERVICE_KEY_LEN, 0,
                             g_strdup_printf("add set %s", name));
}

static void batch_delete_set(Batch *batch, const char *name) {
        struct nftnl_set *set = set_new(name);
        struct nlmsghdr *nlh;

        nlh = batch_message(batch, NFT_MSG_DELSET, 0, g_strdup_printf("delete set %s", name));
        nftnl_set_nlmsg_build_payload(nlh, set);
        nftnl_set_free(set);
        batch_advance(batch);
}

typedef struct {
        const char *name;
        uint32_t hook;
        int32_t priority;
        const char *type;
} BaseChain;

static const BaseChain base_chains[] = {
        { "input", NF_INET_LOCAL_IN, 0, "filter" },
        { "forward", NF_INET_FORWARD, 0, "filter" },
        { "postrouting", NF_INET_POST_ROUTING, 100, "nat" },
};

static void batch_chain(Batch *batch, uint16_t type, const char *name, const BaseChain *base) {
        struct nftnl_chain *chain = check_alloc(nftnl_chain_alloc());
        struct nlmsghdr *nlh;
        const char *verb = type == NFT_MSG_NEWCHAIN ? "add" : "delete";

        nftnl_chain_set_str(chain, NFTNL_CHAIN_TABLE, NFT_TABLE_NAME);
        nftnl_chain_set_str(chain, NFTNL_CHAIN_NAME, name);
        if (base) {
                nftnl_chain_set_u32(chain, NFTNL_CHAIN_HOOKNUM, base->hook);
                nftnl_chain_set_s32(chain, NFTNL_CHAIN_PRIO, base->priority);
                nftnl_chain_set_str(chain, NFTNL_CHAIN_TYPE, base->type);
                nftnl_chain_set_u32(chain, NFTNL_CHAIN_POLICY, NF_ACCEPT);
        }
        nlh = batch_message(batch, type, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE | NLM_F_EXCL : 0,
                            g_strdup_printf("%s chain %s", verb, name));
        nftnl_chain_nlmsg_build_payload(nlh, chain);
        nftnl_chain_free(chain);
        batch_advance(batch);
}

static void batch_flush_chain(Batch *batch, const char *name) {
        struct nftnl_rule *rule = check_alloc(nftnl_rule_alloc());
        struct nlmsghdr *nlh;

        nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, NFT_TABLE_NAME);
        nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, name);
        nlh = batch_message(batch, NFT_MSG_DELRULE, 0, g_strdup_printf("flush chain %s", name));
        nftnl_rule_nlmsg_build_payload(nlh, rule);
        nftnl_rule_free(rule);
        batch_advance(batch);
}

/* One interval as set elements: its start, and its end unless it runs to
 * the top of the address space. @chain makes it a verdict-map entry. */
static void batch_interval(Batch *batch, uint16_t type, const char *set_name, const Interval *interval,
                           const char *chain) {
        struct nftnl_set *set = check_alloc(nftnl_set_alloc());
        struct nftnl_set_elem *elem;
        struct nlmsghdr *nlh;
        g_autofree char *text = interval_text(interval);
        uint32_t key;
        bool add = type == NFT_MSG_NEWSETELEM;

        nftnl_set_set_str(set, NFTNL_SET_TABLE, NFT_TABLE_NAME);
        nftnl_set_set_str(set, NFTNL_SET_NAME, set_name);

        elem = check_alloc(nftnl_set_elem_alloc());
        key = htonl(interval->start);
        nftnl_set_elem_set(elem, NFTNL_SET_ELEM_KEY, &key, sizeof(key));
        if (chain && add) {
                nftnl_set_elem_set_u32(elem, NFTNL_SET_ELEM_VERDICT, NFT_JUMP);
                nftnl_set_elem_set_str(elem, NFTNL_SET_ELEM_CHAIN, chain);
        }
        nftnl_set_elem_add(set, elem);
        if (interval->end <= UINT32_MAX) {
                elem = check_alloc(nftnl_set_elem_alloc());
                key = htonl((uint32_t) interval->end);
                nftnl_set_elem_set(elem, NFTNL_SET_ELEM_KEY, &key, sizeof(key));
                nftnl_set_elem_set_u32(elem, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
                nftnl_set_elem_add(set, elem);
        }

        nlh = batch_message(batch, type, add ? NLM_F_CREATE | NLM_F_EXCL : 0,
                            chain ? g_strdup_printf("%s element %s : jump %s %s map %s", add ? "add" : "delete",
                                                    text, chain, add ? "to" : "from", set_name)
                                  : g_strdup_printf("%s element %s %s set %s", add ? "add" : "delete",
                                                    text, add ? "to" : "from", set_name));
        nftnl_set_elems_nlmsg_build_payload(nlh, set);
        nftnl_set_free(set);
        batch_advance(batch);
}

static void batch_service(Batch *batch, uint16_t type, const char *set_name, const ServiceKey *key) {
        struct nftnl_set *set = set_new(set_name);
        struct nftnl_set_elem *elem = check_alloc(nftnl_set_elem_alloc());
        struct nlmsghdr *nlh;
        g_autofree char *text = service_key_text(key);
        uint8_t bytes[SERVICE_KEY_LEN];
        bool add = type == NFT_MSG_NEWSETELEM;

        service_key_bytes(key, bytes);
        nftnl_set_elem_set(elem, NFTNL_SET_ELEM_KEY, bytes, sizeof(bytes));
        nftnl_set_elem_add(set, elem);
        nlh = batch_message(batch, type, add ? NLM_F_CREATE | NLM_F_EXCL : 0,
                            g_strdup_printf("%s element %s %s set %s", add ? "add" : "delete", text,
                                            add ? "to" : "from", set_name));
        nftnl_set_elems_nlmsg_build_payload(nlh, set);
        nftnl_set_free(set);
        batch_advance(batch);
}

/* ---- rules: the expressions nft itself would generate, so that `nft list`
 * prints them back in their natural form ---- */

typedef struct {
        struct nftnl_rule *rule;
        GString *text;          /* the rule as nft prints it, for error messages */
        const char *chain;
} Rule;

static void rule_init(Rule *r, const char *chain) {
        r->rule = check_alloc(nftnl_rule_alloc());
        nftnl_rule_set_str(r->rule, NFTNL_RULE_TABLE, NFT_TABLE_NAME);
        nftnl_rule_set_str(r->rule, NFTNL_RULE_CHAIN, chain);
        r->text = g_string_sized_new(64);
        r->chain = chain;
}

static void rule_text(Rule *r, const char *format, ...) G_GNUC_PRINTF(2, 3);
static void rule_text(Rule *r, const char *format, ...) {
        va_list ap;

        if (r->text->len > 0)
                g_string_append_c(r->text, ' ');
        va_start(ap, format);
        g_string_append_vprintf(r->text, format, ap);
        va_end(ap);
}

static struct nftnl_expr *expr_new(Rule *r, const char *name) {
        struct nftnl_expr *expr = check_alloc(nftnl_expr_alloc(name));

        nftnl_rule_add_expr(r->rule, expr);
        return expr;
}

static void expr_meta_to(Rule *r, uint32_t key, uint32_t dreg) {
        struct nftnl_expr *e = expr_new(r, "meta");

        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
}

static void expr_meta(Rule *r, uint32_t key) {
        expr_meta_to(r, key, NFT_REG_1);
}

static void expr_cmp(Rule *r, enum nft_cmp_ops op, const void *data, uint32_t len) {
        struct nftnl_expr *e = expr_new(r, "cmp");

        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

static void expr_payload_to(Rule *r, enum nft_payload_bases base, uint32_t offset, uint32_t len, uint32_t dreg) {
        struct nftnl_expr *e = expr_new(r, "payload");

        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
}

static void expr_payload(Rule *r, enum nft_payload_bases base, uint32_t offset, uint32_t len) {
        expr_payload_to(r, base, offset, len, NFT_REG_1);
}

static void expr_bitwise(Rule *r, const void *mask, uint32_t len) {
        struct nftnl_expr *e = expr_new(r, "bitwise");
        static const uint8_t zero[sizeof(uint32_t)];

        g_assert(len <= sizeof(zero));
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
}

static void expr_verdict(Rule *r, int verdict) {
        struct nftnl_expr *e = expr_new(r, "immediate");

        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, verdict);
        rule_text(r, "%s", verdict == NF_ACCEPT ? "accept" : "drop");
}

static void match_ct_established(Rule *r) {
        struct nftnl_expr *e = expr_new(r, "ct");
        uint32_t mask = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);
        uint32_t zero = 0;

        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
        expr_bitwise(r, &mask, sizeof(mask));
        expr_cmp(r, NFT_CMP_NEQ, &zero, sizeof(zero));
        rule_text(r, "ct state established,related");
}

static void match_ifname(Rule *r, enum nft_meta_keys key, bool equal, const char *name) {
        char padded[IFNAMSIZ] = {};

        g_strlcpy(padded, name, sizeof(padded));
        expr_meta(r, key);
        expr_cmp(r, equal ? NFT_CMP_EQ : NFT_CMP_NEQ, padded, sizeof(padded));
        rule_text(r, "%s %s\"%s\"", key == NFT_META_IIFNAME ? "iifname" : "oifname", equal ? "" : "!= ", name);
}

/* The table is inet: an IPv4 header field only means something once the
 * packet is known to be IPv4. */
static void match_ipv4(Rule *r) {
        uint8_t proto = NFPROTO_IPV4;

        expr_meta(r, NFT_META_NFPROTO);
        expr_cmp(r, NFT_CMP_EQ, &proto, sizeof(proto));
}

#define IPV4_SADDR_OFFSET 12
#define IPV4_DADDR_OFFSET 16

static const char *addr_field(uint32_t offset) {
        return offset == IPV4_SADDR_OFFSET ? "saddr" : "daddr";
}

static void match_prefix(Rule *r, uint32_t offset, const Ipv4Prefix *prefix) {
        uint32_t network = htonl(netaddr_network(prefix));
        uint32_t mask = htonl(netaddr_netmask(prefix->prefixlen));
        uint32_t len = (prefix->prefixlen + 7) / 8;

        match_ipv4(r);
        rule_text(r, "ip %s %s", addr_field(offset), prefix_text(prefix).text);
        if (len == 0)
                return;
        /* Only the bytes the prefix covers are loaded, as nft does. */
        expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, len);
        if (prefix->prefixlen % 8 != 0)
                expr_bitwise(r, &mask, len);
        expr_cmp(r, NFT_CMP_EQ, &network, len);
}

static void match_address(Rule *r, uint32_t offset, uint32_t address) {
        Ipv4Prefix prefix = { .address = address, .prefixlen = 32 };

        match_prefix(r, offset, &prefix);
}

/* "ip saddr @set", or with @verdict "ip saddr vmap @map". */
static void match_lookup(Rule *r, uint32_t offset, const char *set, bool verdict) {
        struct nftnl_expr *e;

        match_ipv4(r);
        expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, sizeof(uint32_t));
        e = expr_new(r, "lookup");
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
        if (verdict)
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
        rule_text(r, "ip %s %s@%s", addr_field(offset), verdict ? "vmap " : "", set);
}

static void match_l4proto(Rule *r, uint8_t proto) {
        expr_meta(r, NFT_META_L4PROTO);
        expr_cmp(r, NFT_CMP_EQ, &proto, sizeof(proto));
}

static void match_dport(Rule *r, const char *protocol, uint16_t port) {
        uint16_t be = htons(port);

        match_l4proto(r, strcmp(protocol, "udp") == 0 ? IPPROTO_UDP : IPPROTO_TCP);
        /* The destination port sits at the same offset in TCP and UDP. */
        expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, sizeof(be));
        expr_cmp(r, NFT_CMP_EQ, &be, sizeof(be));
        rule_text(r, "%s dport %u", protocol, port);
}

/* "ip daddr . meta l4proto . th dport @set": the key is loaded into three
 * consecutive 32-bit registers, each part zero-padded by the kernel, which
 * is why the elements are padded alike. The protocol in the key keeps a
 * TCP port from opening the same UDP port, and "th dport" reads the same
 * offset in TCP and UDP. @set_id names a set created in the same batch. */
static void match_services(Rule *r, const char *set, uint32_t set_id) {
        struct nftnl_expr *e;

        match_ipv4(r);
        expr_payload_to(r, NFT_PAYLOAD_NETWORK_HEADER, IPV4_DADDR_OFFSET, sizeof(uint32_t), NFT_REG32_00);
        expr_meta_to(r, NFT_META_L4PROTO, NFT_REG32_01);
        expr_payload_to(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, sizeof(uint16_t), NFT_REG32_02);
        e = expr_new(r, "lookup");
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG32_00);
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
        if (set_id != 0)
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
        rule_text(r, "ip daddr . meta l4proto . th dport @%s", set);
}

static void match_icmp_echo_request(Rule *r) {
        uint8_t type = 8;

        match_l4proto(r, IPPROTO_ICMP);
        expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, sizeof(type));
        expr_cmp(r, NFT_CMP_EQ, &type, sizeof(type));
        rule_text(r, "icmp type echo-request");
}

static void action_masquerade(Rule *r) {
        expr_new(r, "masq");
        rule_text(r, "masquerade");
}

/* Queues the rule (appended to its chain) and frees it. */
static void batch_rule(Batch *batch, Rule *r) {
        struct nlmsghdr *nlh;

        nlh = batch_message(batch, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
                            g_strdup_printf("add rule \"%s\" to chain %s", r->text->str, r->chain));
        nftnl_rule_nlmsg_build_payload(nlh, r->rule);
        nftnl_rule_free(r->rule);
        g_string_free(r->text, TRUE);
        *r = (Rule) {};
        batch_advance(batch);
}

/* ---- the table's parts ---- */

static char *link_chain_name(const NftLink *link) {
        return g_strconcat(CHAIN_PREFIX, link->name, NULL);
}

static char *link_set_name(const NftLink *link) {
        return g_strconcat(SERVICES_PREFIX, link->name, NULL);
}

/* Everything a linked cell may reach here, and for its exit sources the
 * way out to the internet; the chain serves input and forward alike, as its
 * address rules only ever match our own services. Its shared services are
 * the elements of its set (@set_id when the batch creates that set), so
 * that sharing and unsharing leave these rules alone. */
static void batch_link_rules(Batch *batch, const NftRuleset *ruleset, const NftLink *link, const char *chain,
                             uint32_t set_id) {
        g_autofree char *set = link_set_name(link);
        static const char *const dns_protocols[] = { "udp", "tcp" };
        Rule r;

        for (size_t i = 0; i < G_N_ELEMENTS(dns_protocols); i++) {
                rule_init(&r, chain);
                match_address(&r, IPV4_DADDR_OFFSET, ruleset->dns_address);
                match_dport(&r, dns_protocols[i], 53);
                expr_verdict(&r, NF_ACCEPT);
                batch_rule(batch, &r);
        }

        rule_init(&r, chain);
        match_address(&r, IPV4_DADDR_OFFSET, ruleset->tunnel_address);
        match_dport(&r, "tcp", ruleset->sync_port);
        expr_verdict(&r, NF_ACCEPT);
        batch_rule(batch, &r);

        /* So that a linked cell can diagnose the tunnel with ping. */
        rule_init(&r, chain);
        match_ipv4(&r);
        match_icmp_echo_request(&r);
        expr_verdict(&r, NF_ACCEPT);
        batch_rule(batch, &r);

        rule_init(&r, chain);
        match_services(&r, set, set_id);
        expr_verdict(&r, NF_ACCEPT);
        batch_rule(batch, &r);

        for (guint i = 0; ruleset->uplink && link->exit_sources && i < link->exit_sources->len; i++) {
                rule_init(&r, chain);
                match_ifname(&r, NFT_META_OIFNAME, true, ruleset->uplink);
                match_prefix(&r, IPV4_SADDR_OFFSET, link->exit_sources->pdata[i]);
                expr_verdict(&r, NF_ACCEPT);
                batch_rule(batch, &r);
        }

        rule_init(&r, chain);
        expr_verdict(&r, NF_DROP);
        batch_rule(batch, &r);
}

/* The link's set with its elements, its chain and its rules. */
static void batch_link_new(Batch *batch, const NftRuleset *ruleset, const NftLink *link, const char *chain) {
        g_autofree char *set = link_set_name(link);
        g_autoptr(GArray) services = link_services(link);
        uint32_t set_id = batch_services_set(batch, set);

        for (guint i = 0; i < services->len; i++)
                batch_service(batch, NFT_MSG_NEWSETELEM, set, &g_array_index(services, ServiceKey, i));
        batch_chain(batch, NFT_MSG_NEWCHAIN, chain, NULL);
        batch_link_rules(batch, ruleset, link, chain, set_id);
}

/* The rules go first: while one of them looks the set up, the kernel
 * refuses to delete it. */
static void batch_link_delete(Batch *batch, const NftLink *link, const char *chain) {
        g_autofree char *set = link_set_name(link);

        batch_flush_chain(batch, chain);
        batch_chain(batch, NFT_MSG_DELCHAIN, chain, NULL);
        batch_delete_set(batch, set);
}

static void batch_link_elements(Batch *batch, uint16_t type, const NftLink *link, const char *chain) {
        Interval interval = prefix_interval(&link->subnet);

        batch_interval(batch, type, MAP_DISPATCH, &interval, chain);
        batch_interval(batch, type, SET_LINKED, &interval, NULL);
}

/* Rules shared by input and forward: established traffic first, then
 * anti-spoofing (the source-address authentication of peer-sync must not be
 * fakeable from the LAN), then each linked cell to its own chain. */
static void batch_filter_rules(Batch *batch, const NftRuleset *ruleset, const char *chain) {
        Rule r;

        rule_init(&r, chain);
        match_ct_established(&r);
        expr_verdict(&r, NF_ACCEPT);
        batch_rule(batch, &r);

        rule_init(&r, chain);
        match_ifname(&r, NFT_META_IIFNAME, false, ruleset->interface);
        match_lookup(&r, IPV4_SADDR_OFFSET, SET_LINKED, false);
        expr_verdict(&r, NF_DROP);
        batch_rule(batch, &r);

        rule_init(&r, chain);
        match_ifname(&r, NFT_META_IIFNAME, false, ruleset->interface);
        match_ifname(&r, NFT_META_IIFNAME, false, "lo");
        match_prefix(&r, IPV4_SADDR_OFFSET, &ruleset->own_subnet);
        expr_verdict(&r, NF_DROP);
        batch_rule(batch, &r);

        rule_init(&r, chain);
        match_ifname(&r, NFT_META_IIFNAME, true, ruleset->interface);
        match_lookup(&r, IPV4_SADDR_OFFSET, MAP_DISPATCH, true);
        batch_rule(batch, &r);
}

static void batch_full(Batch *batch, const NftRuleset *ruleset) {
        g_autoptr(GArray) masq = masq_intervals(ruleset);
        Rule r;

        /* Creating the table first makes its deletion succeed whether or not
         * it existed; the whole batch is one transaction either way. */
        batch_table(batch, NFT_MSG_NEWTABLE, NLM_F_CREATE, "create");
        batch_table(batch, NFT_MSG_DELTABLE, 0, "delete");
        batch_table(batch, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, "create anew");

        batch_set(batch, SET_LINKED, false);
        batch_set(batch, MAP_DISPATCH, true);
        batch_set(batch, SET_MASQ, false);
        for (size_t i = 0; i < G_N_ELEMENTS(base_chains); i++)
                batch_chain(batch, NFT_MSG_NEWCHAIN, base_chains[i].name, &base_chains[i]);

        for (guint i = 0; i < ruleset->links->len; i++) {
                const NftLink *link = ruleset->links->pdata[i];
                g_autofree char *chain = link_chain_name(link);

                batch_link_new(batch, ruleset, link, chain);
                batch_link_elements(batch, NFT_MSG_NEWSETELEM, link, chain);
        }
        for (guint i = 0; i < masq->len; i++)
                batch_interval(batch, NFT_MSG_NEWSETELEM, SET_MASQ, &g_array_index(masq, Interval, i), NULL);

        batch_filter_rules(batch, ruleset, "input");
        batch_filter_rules(batch, ruleset, "forward");
        if (ruleset->uplink) {
                rule_init(&r, "postrouting");
                match_ifname(&r, NFT_META_OIFNAME, true, ruleset->uplink);
                match_lookup(&r, IPV4_SADDR_OFFSET, SET_MASQ, false);
                action_masquerade(&r);
                batch_rule(batch, &r);
        }
}

/* ---- the difference between two rulesets ---- */

static bool prefix_equal(const Ipv4Prefix *a, const Ipv4Prefix *b) {
        return a->address == b->address && a->prefixlen == b->prefixlen;
}

static bool globals_equal(const NftRuleset *a, const NftRuleset *b) {
        return g_strcmp0(a->interface, b->interface) == 0 &&
                g_strcmp0(a->uplink, b->uplink) == 0 &&
                prefix_equal(&a->own_subnet, &b->own_subnet) &&
                a->tunnel_address == b->tunnel_address &&
                a->sync_port == b->sync_port &&
                a->dns_address == b->dns_address;
}

/* True when the link's ports are the same, in the same order: the cheap
 * test that spares an unchanged link the sorting of its elements. */
static bool ports_equal(const NftLink *a, const NftLink *b) {
        guint na = a->ports ? a->ports->len : 0, nb = b->ports ? b->ports->len : 0;

        if (na != nb)
                return false;
        for (guint i = 0; i < na; i++) {
                const NftPort *pa = &g_array_index(a->ports, NftPort, i);
                const NftPort *pb = &g_array_index(b->ports, NftPort, i);

                if (pa->port != pb->port || pa->address != pb->address ||
                    strncmp(pa->protocol, pb->protocol, sizeof(pa->protocol)) != 0)
                        return false;
        }
        return true;
}

/* True when the link's chain would hold other rules: with the global parts
 * equal, only its exit sources make a difference, its ports being set
 * elements. */
static bool link_rules_differ(const NftLink *a, const NftLink *b) {
        guint ea = a->exit_sources ? a->exit_sources->len : 0, eb = b->exit_sources ? b->exit_sources->len : 0;

        if (ea != eb)
                return true;
        for (guint i = 0; i < ea; i++)
                if (!prefix_equal(a->exit_sources->pdata[i], b->exit_sources->pdata[i]))
                        return true;
        return false;
}

static GHashTable *links_by_name(const NftRuleset *ruleset) {
        GHashTable *table = g_hash_table_new(g_str_hash, g_str_equal);

        for (guint i = 0; i < ruleset->links->len; i++) {
                NftLink *link = ruleset->links->pdata[i];
                g_hash_table_insert(table, link->name, link);
        }
        return table;
}

/* The set is our own sources and every link's exit sources: when the
 * rulesets share the first (the peers did not change) and every link's
 * exit sources are as they were, it cannot differ. */
static bool masq_unchanged(const NftRuleset *previous, const NftRuleset *desired) {
        if (previous->masquerade != desired->masquerade || previous->links->len != desired->links->len)
                return false;
        for (guint i = 0; i < desired->links->len; i++) {
                const NftLink *a = previous->links->pdata[i], *b = desired->links->pdata[i];

                if (a != b && link_rules_differ(a, b))
                        return false;
        }
        return true;
}

static void batch_masq_diff(Batch *batch, const NftRuleset *previous, const NftRuleset *desired) {
        g_autoptr(GArray) old = NULL, new = NULL, added = NULL;
        guint i = 0, j = 0;

        if (masq_unchanged(previous, desired))
                return;
        old = masq_intervals(previous);
        new = masq_intervals(desired);
        added = g_array_new(FALSE, FALSE, sizeof(Interval));

        /* Both are sorted: one merge walk finds what went and what came.
         * Deletions go first, so that a grown interval does not collide
         * with its former self. */
        while (i < old->len || j < new->len) {
                const Interval *o = i < old->len ? &g_array_index(old, Interval, i) : NULL;
                const Interval *n = j < new->len ? &g_array_index(new, Interval, j) : NULL;
                int c = !o ? 1 : !n ? -1 : interval_compare(o, n);

                if (c == 0) {
                        i++;
                        j++;
                } else if (c < 0) {
                        batch_interval(batch, NFT_MSG_DELSETELEM, SET_MASQ, o, NULL);
                        i++;
                } else {
                        g_array_append_val(added, *n);
                        j++;
                }
        }
        for (guint k = 0; k < added->len; k++)
                batch_interval(batch, NFT_MSG_NEWSETELEM, SET_MASQ, &g_array_index(added, Interval, k), NULL);
}

/* The elements that went from the link's set and those that came: a
 * toggle, and all a toggle costs. */
static void batch_services_diff(Batch *batch, const NftLink *old, const NftLink *new) {
        g_autoptr(GArray) before = link_services(old);
        g_autoptr(GArray) after = link_services(new);
        g_autofree char *set = link_set_name(new);
        guint i = 0, j = 0;

        /* Both are sorted: one merge walk, as for the masquerade set. */
        while (i < before->len || j < after->len) {
                const ServiceKey *o = i < before->len ? &g_array_index(before, ServiceKey, i) : NULL;
                const ServiceKey *n = j < after->len ? &g_array_index(after, ServiceKey, j) : NULL;
                int c = !o ? 1 : !n ? -1 : service_key_compare(o, n);

                if (c == 0) {
                        i++;
                        j++;
                } else if (c < 0) {
                        batch_service(batch, NFT_MSG_DELSETELEM, set, o);
                        i++;
                } else {
                        batch_service(batch, NFT_MSG_NEWSETELEM, set, n);
                        j++;
                }
        }
}

/* The link of @ruleset named @name. Both rulesets mostly list their links
 * in the same order, so the same index @hint is tried first, and the
 * @index by name is only built when that fails. */
static const NftLink *link_lookup(const NftRuleset *ruleset, guint hint, const char *name, GHashTable **index) {
        const NftLink *link = hint < ruleset->links->len ? ruleset->links->pdata[hint] : NULL;

        /* The same string when both rulesets share the link. */
        if (link && (link->name == name || strcmp(link->name, name) == 0))
                return link;
        if (!*index)
                *index = links_by_name(ruleset);
        return g_hash_table_lookup(*index, name);
}

/* Queues what turns @previous into @desired, whose global parts are the
 * same; returns the number of messages queued. Unchanged links cost a
 * comparison each and nothing else. */
static guint batch_diff(Batch *batch, const NftRuleset *previous, const NftRuleset *desired) {
        g_autoptr(GHashTable) old_links = NULL;
        g_autoptr(GHashTable) new_links = NULL;

        /* Map entries go before the chains they jump to can go. */
        for (guint i = 0; i < previous->links->len; i++) {
                const NftLink *old = previous->links->pdata[i];
                const NftLink *new = link_lookup(desired, i, old->name, &new_links);
                g_autofree char *chain = NULL;

                if (new && prefix_equal(&old->subnet, &new->subnet))
                        continue;
                chain = link_chain_name(old);
                batch_link_elements(batch, NFT_MSG_DELSETELEM, old, chain);
                if (!new)
                        batch_link_delete(batch, old, chain);
        }
        batch_masq_diff(batch, previous, desired);

        for (guint i = 0; i < desired->links->len; i++) {
                const NftLink *new = desired->links->pdata[i];
                const NftLink *old = link_lookup(previous, i, new->name, &old_links);
                g_autofree char *chain = NULL;

                /* The same object: a ruleset built after a change shares the
                 * links the change did not touch. */
                if (old == new ||
                    (old && ports_equal(old, new) && !link_rules_differ(old, new) &&
                     prefix_equal(&old->subnet, &new->subnet)))
                        continue;
                chain = link_chain_name(new);
                if (!old) {
                        batch_link_new(batch, desired, new, chain);
                } else {
                        batch_services_diff(batch, old, new);
                        if (link_rules_differ(old, new)) {
                                batch_flush_chain(batch, chain);
                                batch_link_rules(batch, desired, new, chain, 0);
                        }
                }
                if (!old || !prefix_equal(&old->subnet, &new->subnet))
                        batch_link_elements(batch, NFT_MSG_NEWSETELEM, new, chain);
        }
        return batch->what->len;
}

/* ---- talking to the kernel ---- */

static MnlSocket *socket_open(GError **error) {
        g_autoptr(MnlSocket) nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        int one = 1;

        if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "Failed to open a netfilter netlink socket for the nftables table: %s",
                            g_strerror(errno));
                return NULL;
        }
        /* Errors need not echo the whole message back; the kernel's own
         * words, when it has some, are worth having. Both are optional. */
        (void) mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
        (void) mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
        return g_steal_pointer(&nl);
}

static void socket_drop(void) {
        g_clear_pointer(&kernel.nl, mnl_socket_close);
}

/* The kept socket, or a new one when there is none or the process has moved
 * to another network namespace since (the tests do; a socket stays in the
 * namespace it was made in). */
static MnlSocket *socket_get(GError **error) {
        struct stat st = {};

        (void) stat("/proc/self/ns/net", &st);
        if (kernel.nl && (st.st_dev != kernel.netns_dev || st.st_ino != kernel.netns_ino))
                socket_drop();
        if (!kernel.nl) {
                kernel.nl = socket_open(error);
                kernel.netns_dev = st.st_dev;
                kernel.netns_ino = st.st_ino;
        }
        return kernel.nl;
}

/* Throws away whatever an earlier, interrupted exchange left queued. */
static void socket_drain(MnlSocket *nl) {
        char buf[256];

        while (recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC) >= 0 || errno == EINTR)
                ;
}

/* Raises a socket buffer, with the privileged variant first: the limits in
 * net.core.[rw]mem_max are far below what a full rebuild needs. */
static void socket_buffer(MnlSocket *nl, int force, int plain, size_t size) {
        int fd = mnl_socket_get_fd(nl);
        int value = (int) MIN(size, (size_t) G_MAXINT / 2);
        int current = 0;
        socklen_t len = sizeof(current);

        if (getsockopt(fd, SOL_SOCKET, plain, &current, &len) == 0 && current >= value)
                return;
        if (setsockopt(fd, SOL_SOCKET, force, &value, sizeof(value)) < 0)
                (void) setsockopt(fd, SOL_SOCKET, plain, &value, sizeof(value));
}

static const char *extack_message(const struct nlmsghdr *nlh) {
        const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *attr;
        size_t offset = sizeof(struct nlmsgerr);

        if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
                return NULL;
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
                offset += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
        if (offset > mnl_nlmsg_get_payload_len(nlh))
                return NULL;
        mnl_attr_for_each(attr, nlh, offset)
                if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
                        return mnl_attr_get_str(attr);
        return NULL;
}

typedef struct {
        guint answered;         /* messages of the batch the kernel answered */
        int error;              /* the first failure, as a positive errno */
        uint32_t error_seq;
        char *extack;
        bool lost;              /* the receive buffer overflowed */
} Answers;

static void answers_take(Answers *answers, const Batch *batch, const void *buf, int len) {
        for (const struct nlmsghdr *nlh = buf; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
                const struct nlmsgerr *err;

                if (nlh->nlmsg_type != NLMSG_ERROR || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nlmsgerr))
                        continue;
                err = mnl_nlmsg_get_payload(nlh);
                if (nlh->nlmsg_seq >= batch->first_seq && nlh->nlmsg_seq - batch->first_seq < batch->what->len)
                        answers->answered++;
                if (err->error != 0 && answers->error == 0) {
                        const char *ext = extack_message(nlh);

                        answers->error = -err->error;
                        answers->error_seq = nlh->nlmsg_seq;
                        answers->extack = g_strdup(ext);
                }
        }
}

/* Sends the batch and reads every answer. A failure of the socket itself
 * drops it: whatever state it is in, the next call starts afresh. */
static bool batch_send(const Batch *batch, GError **error) {
        MnlSocket *nl;
        int fd;
        int n_iov = nftnl_batch_iovec_len(batch->batch);
        g_autofree struct iovec *iov = g_new0(struct iovec, MAX(n_iov, 1));
        g_autofree char *buf = g_malloc(RECV_SIZE);
        struct sockaddr_nl to_kernel = { .nl_family = AF_NETLINK };
        struct msghdr msg = {
                .msg_name = &to_kernel,
                .msg_namelen = sizeof(to_kernel),
                .msg_iov = iov,
                .msg_iovlen = (size_t) n_iov,
        };
        Answers answers = {};
        size_t total = 0;

        if (batch->out_of_memory) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "Out of memory building the nftables batch for " TABLE_TEXT);
                return false;
        }
        nl = socket_get(error);
        if (!nl)
                return false;
        fd = mnl_socket_get_fd(nl);
        nftnl_batch_iovec(batch->batch, iov, (uint32_t) n_iov);
        for (int i = 0; i < n_iov; i++)
                total += iov[i].iov_len;
        socket_buffer(nl, SO_SNDBUFFORCE, SO_SNDBUF, total);
        socket_buffer(nl, SO_RCVBUFFORCE, SO_RCVBUF, (size_t) batch->what->len * RECV_ROOM_PER_MESSAGE);
        socket_drain(nl);

        if (sendmsg(fd, &msg, 0) < 0) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "Failed to send the nftables batch for " TABLE_TEXT " (%zu bytes): %s",
                            total, g_strerror(errno));
                socket_drop();
                return false;
        }

        /* The kernel processed the whole batch inside sendmsg(): every
         * answer is queued already. After a failure the rest may never come
         * (a malformed message stops the batch), so then only what is queued
         * is read. */
        for (;;) {
                bool complete = answers.answered >= batch->what->len || answers.error != 0 || answers.lost;
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                ssize_t len;
                int r;

                r = poll(&pfd, 1, complete ? 0 : ANSWER_TIMEOUT_MS);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                                    "Failed to wait for the kernel's answer on " TABLE_TEXT ": %s", g_strerror(errno));
                        g_free(answers.extack);
                        socket_drop();
                        return false;
                }
                if (r == 0) {
                        if (complete)
                                break;
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                                    "The kernel answered only %u of %u nftables messages for " TABLE_TEXT,
                                    answers.answered, batch->what->len);
                        socket_drop();
                        return false;
                }
                len = recv(fd, buf, RECV_SIZE, MSG_DONTWAIT);
                if (len < 0) {
                        if (errno == ENOBUFS)
                                answers.lost = true;
                        else if (errno != EAGAIN && errno != EINTR) {
                                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                                            "Failed to read the kernel's answer on " TABLE_TEXT ": %s",
                                            g_strerror(errno));
                                g_free(answers.extack);
                                socket_drop();
                                return false;
                        }
                        continue;
                }
                answers_take(&answers, batch, buf, (int) len);
        }

        if (answers.error != 0) {
                g_autofree char *extack = answers.extack;
                uint32_t index = answers.error_seq - batch->first_seq;
                const char *what = answers.error_seq >= batch->first_seq && index < batch->what->len
                        ? batch->what->pdata[index] : "apply the batch";

                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "The kernel refused to %s (" TABLE_TEXT "): %s%s%s%s; nothing was changed",
                            what, g_strerror(answers.error),
                            extack ? " (" : "", extack ? extack : "", extack ? ")" : "");
                return false;
        }
        if (answers.lost) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "Lost the kernel's answers to the nftables batch for " TABLE_TEXT
                            " (receive buffer overrun): whether it was applied is unknown");
                socket_drop();
                return false;
        }
        return true;
}

/* Whether our table is there at all: a firewall reload that flushed the
 * whole ruleset must not leave us patching thin air. */
static bool table_exists(bool *ret, GError **error) {
        MnlSocket *nl = socket_get(error);
        g_autofree char *buf = NULL;
        struct nftnl_table *table;
        struct nlmsghdr *nlh;
        uint32_t seq = ++kernel.seq, portid;
        bool exists = false;
        int error_code = 0;

        if (!nl)
                return false;
        socket_drain(nl);
        portid = mnl_socket_get_portid(nl);
        buf = g_malloc(RECV_SIZE);
        table = check_alloc(nftnl_table_alloc());
        nftnl_table_set_str(table, NFTNL_TABLE_NAME, NFT_TABLE_NAME);
        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, seq);
        nftnl_table_nlmsg_build_payload(nlh, table);
        nftnl_table_free(table);
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "Failed to ask the kernel for " TABLE_TEXT ": %s", g_strerror(errno));
                socket_drop();
                return false;
        }
        for (bool done = false; !done;) {
                ssize_t len = mnl_socket_recvfrom(nl, buf, RECV_SIZE);
                int left;

                if (len < 0) {
                        if (errno == EINTR)
                                continue;
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                                    "Failed to read " TABLE_TEXT " from the kernel: %s", g_strerror(errno));
                        socket_drop();
                        return false;
                }
                left = (int) len;
                for (nlh = (struct nlmsghdr *) buf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
                        if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != portid)
                                continue;
                        if (nlh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE))
                                exists = true;
                        else if (nlh->nlmsg_type == NLMSG_ERROR &&
                                 mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct nlmsgerr)) {
                                error_code = -((const struct nlmsgerr *) mnl_nlmsg_get_payload(nlh))->error;
                                done = true;
                        }
                }
        }
        if (error_code != 0 && error_code != ENOENT) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "Failed to read " TABLE_TEXT " from the kernel: %s", g_strerror(error_code));
                return false;
        }
        *ret = exists && error_code == 0;
        return true;
}

static bool apply_full(const NftRuleset *desired, GError **error) {
        g_autoptr(Batch) batch = batch_new();

        batch_full(batch, desired);
        batch_finish(batch);
        return batch_send(batch, error);
}

bool nft_apply(const NftRuleset *previous, NftRuleset *desired, GError **error) {
        bool exists;

        g_return_val_if_fail(desired, false);

        if (!validate_ruleset(desired, previous && previous->validated ? previous : NULL, error))
                return false;
        desired->validated = true;

        /* A @previous that is not what it claims (it fails validation, the
         * table is gone, or the kernel refuses the patch because someone
         * edited our table) is no base for a difference: the state is the
         * truth, so the table is rebuilt from it. A desired state the
         * kernel refuses fails the rebuild as well, and that answer is the
         * one reported. */
        if (previous && (previous->validated || validate_ruleset(previous, NULL, NULL)) &&
            globals_equal(previous, desired)) {
                if (!table_exists(&exists, error))
                        return false;
                if (exists) {
                        g_autoptr(Batch) batch = batch_new();

                        if (batch_diff(batch, previous, desired) == 0)
                                return true;
                        batch_finish(batch);
                        if (batch_send(batch, NULL))
                                return true;
                }
        }
        return apply_full(desired, error);
}

bool nft_remove_table(GError **error) {
        g_autoptr(Batch) batch = batch_new();
        bool ok;

        batch_table(batch, NFT_MSG_NEWTABLE, NLM_F_CREATE, "create");
        batch_table(batch, NFT_MSG_DELTABLE, 0, "delete");
        batch_finish(batch);
        ok = batch_send(batch, error);
        /* The feature is off: the socket has nothing left to do. */
        socket_drop();
        return ok;
}
