/* cell-state.h: the cell's model (DESIGN §3-4): identity, services, links to
 * other cells, road-warrior peers and outstanding invites, and its JSON
 * persistence in state.json. The model is the truth; the kernel is derived
 * from it by the reconciler. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "invite.h"
#include "netaddr.h"

#define CELL_STATE_VERSION 2  /* 1: the original cell_links.json era */
#define CELL_STATE_MAX_SIZE (16 * 1024 * 1024)
#define CELL_STATE_MAX_LINKS 256
#define CELL_STATE_MAX_PEERS 1024
#define CELL_STATE_MAX_SERVICES 64
#define CELL_STATE_MAX_PORTS 32      /* per service */
#define CELL_STATE_MAX_INVITES 32    /* outstanding, not yet expired or used */

typedef enum {
        PUSH_STATE_OK,
        PUSH_STATE_PENDING,
        PUSH_STATE_FAILED,
} PushState;

const char *push_state_to_string(PushState state);          /* "ok" | "pending" | "failed" */
bool push_state_from_string(const char *text, PushState *ret);

typedef struct {
        char protocol[4];   /* "tcp" | "udp" */
        uint16_t port;
} ServicePort;

typedef struct {
        char *name;
        uint32_t address;   /* where it listens: the cell's tunnel address by default */
        GArray *ports;      /* of ServicePort */
} Service;

/* Links and peers are shared between a state and its copies (see
 * cell_state_copy()): change them only through cell_state_edit_*(). */
typedef struct {
        unsigned ref_count;

        /* what the remote's invite said */
        char *name;
        char *domain;
        char *public_key;
        char *endpoint;
        Ipv4Prefix vpn_subnet;
        uint32_t dns_ip;
        uint32_t tunnel_address;
        uint16_t sync_port;

        /* pairing: the token of the remote's invite we imported, kept while we
         * still have to push our own invite to it */
        bool paired;
        char *pairing_id;
        char *pairing_secret;
        int64_t pairing_expires;

        /* permissions: service name -> gboolean (GINT_TO_POINTER) */
        GHashTable *inbound;   /* we share it with them */
        GHashTable *outbound;  /* they share it with us (their mirror) */

        /* exit relay */
        bool exit_offered;
        bool remote_exit_offered;
        bool exit_relay_active;
        bool remote_exit_relay_active;
        GPtrArray *remote_exit_sources; /* of char* CIDR: their peers leaving through us */

        /* sync */
        PushState push_state;
        int64_t last_push_at;
        char *last_push_error;
        int64_t last_remote_update_at;
        uint64_t push_seq;         /* our last seq sent */
        uint64_t remote_seq;       /* their last seq accepted */

        int64_t created_at;
} Link;

typedef struct {
        unsigned ref_count;
        char *name;
        uint32_t address;
        char *public_key;
        bool full_tunnel;
        char *route_via;   /* "" = direct */
        int64_t created_at;
} Peer;

/* An invite we issued (CreateInvite), waiting to be used by the remote. */
typedef struct {
        char *id;
        char *secret;
        int64_t expires;
        int64_t created_at;
        char *used_by;     /* public key of the cell that paired with it, or NULL */
} IssuedInvite;

typedef struct {
        char *name;
        char *domain;
        Ipv4Prefix address;  /* tunnel address and range, e.g. 10.23.7.1/24 */
        uint32_t dns_address;
        char *endpoint;      /* "auto" or host:port */
        char *public_key;    /* the private key lives in private.key */
} CellIdentity;

typedef struct {
        int version;
        CellIdentity cell;
        GPtrArray *services; /* of Service* */
        GPtrArray *links;    /* of Link* */
        GPtrArray *peers;    /* of Peer* */
        GPtrArray *invites;  /* of IssuedInvite* */

        /* Lookup caches for the cell_state_find_*() functions: name (or key) →
         * position in the array. They may be stale (the arrays are changed
         * directly); every hit is checked against the array, and a miss
         * rebuilds them, so a lookup costs O(1) until the array changes. */
        GHashTable *link_names, *link_keys, *peer_names;
} CellState;

CellState *cell_state_new(void);
void cell_state_free(CellState *state);
/* A copy to change while @state stays as it is. Links and peers are not
 * copied but shared until cell_state_edit_*() gives the copy one of its own,
 * so a copy costs a pointer per entry, and an entry that is the same object
 * in two states is unchanged between them. */
CellState *cell_state_copy(const CellState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CellState, cell_state_free)

/* The four services of the original PIC, bound to the cell's address:
 * calendar tcp 5232, files tcp 445, mail tcp 25 587 993, webdav tcp 80 443. */
void cell_state_add_default_services(CellState *state);

Service *service_new(const char *name, uint32_t address);
void service_free(Service *service);
Link *link_new(void);
Link *link_ref(Link *link);
void link_unref(Link *link);
Peer *peer_new(void);
Peer *peer_ref(Peer *peer);
void peer_unref(Peer *peer);
IssuedInvite *issued_invite_new(void);
void issued_invite_free(IssuedInvite *invite);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Link, link_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Peer, peer_unref)

/* A link filled from an invite (its pairing kept for the push), permissions empty. */
Link *link_new_from_invite(const Invite *invite, int64_t now);

const Link *cell_state_find_link(const CellState *state, const char *name);
const Link *cell_state_find_link_by_key(const CellState *state, const char *public_key);
const Peer *cell_state_find_peer(const CellState *state, const char *name);
/* The same, to be changed: an entry shared with another state is replaced by
 * a copy first (the one at position @i for the *_at() forms). */
Link *cell_state_edit_link(CellState *state, const char *name);
Link *cell_state_edit_link_by_key(CellState *state, const char *public_key);
Peer *cell_state_edit_peer(CellState *state, const char *name);
Link *cell_state_edit_link_at(CellState *state, guint i);
Peer *cell_state_edit_peer_at(CellState *state, guint i);
Service *cell_state_find_service(const CellState *state, const char *name);
IssuedInvite *cell_state_find_invite(const CellState *state, const char *id);
/* True when both define the same services, in the same order. */
bool cell_state_services_equal(const CellState *a, const CellState *b);
/* Drops issued invites that expired before @now and were never used. */
void cell_state_expire_invites(CellState *state, int64_t now);

/* JSON: {"version", "cell", "services", "links", "peers", "invites"}.
 * Parsing validates strictly (PIC_ERROR_INVALID_ARGUMENT naming the path of the
 * bad value, e.g. "links[2].vpn_subnet: ...") and migrates older versions: a
 * file in the original cell_links.json shape (a list of links, or links
 * without permission, sync and exit fields) loads with defaults. */
char *cell_state_to_json(const CellState *state);
/* One entry, as it appears in the state file (on one line). */
char *cell_state_link_to_json(const Link *link);
char *cell_state_peer_to_json(const Peer *peer);
CellState *cell_state_from_json(const char *data, size_t len, GError **error);

/* A change of the model as one line of the journal (see state-journal.h):
 * {"version", then only what differs: "cell", "services", "links_removed"
 * (names), "links" (whole links, added or replaced), "peers_removed", "peers",
 * "invites"}. NULL when @after is @before. Costs what changed, not what the
 * cell holds, when @after is a cell_state_copy() of @before. */
char *cell_state_change_to_json(const CellState *before, const CellState *after);
/* Applies such a record to @state, whole or (on error) not at all; the same
 * record applied twice leaves the same state. Validates like the state file;
 * limits and uniqueness over the whole state are cell_state_check()'s.
 * *@ret_newer (if given) tells a record of a later version (to be left
 * alone) from a broken one. */
bool cell_state_apply_change_json(CellState *state, const char *data, size_t len, bool *ret_newer,
                                  GError **error);
bool cell_state_check(const CellState *state, GError **error);

/* Loads @path. A missing file is G_IO_ERROR_NOT_FOUND. A corrupt or truncated
 * file is renamed to "<path>.corrupt-<unix time>" (never overwritten) and
 * PIC_ERROR_FAILED says where it went. */
CellState *cell_state_load(const char *path, GError **error);
/* Writes "<path>.tmp" with mode 0600, fsyncs it, renames it over @path and
 * fsyncs the directory. On any failure @path is untouched and no temporary
 * file is left behind. */
bool cell_state_save(const CellState *state, const char *path, GError **error);
