/* cell.h: the core of pic-celld: the operations on a cell. Each one runs the
 * same way: validate, mutate a copy of the model, persist it atomically,
 * adopt it, reconcile the kernel, and tell the listeners (the faces: D-Bus
 * objects, peer-sync) what changed. The core never includes a face. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "cell-state.h"
#include "daemon-config.h"
#include "reconcile.h"
#include "wg-key.h"

#define CELL_INVITE_DEFAULT_TTL 86400u
#define CELL_INVITE_MIN_TTL 60u
#define CELL_INVITE_MAX_TTL 604800u
#define CELL_STATUS_INTERVAL_MS 2000  /* how often the WireGuard status is read */
#define CELL_CONNECTED_WINDOW 180     /* a handshake this recent means connected */

typedef struct Cell Cell;

/* What a face learns. @properties are D-Bus property names, NULL-terminated. */
typedef struct {
        void (*cell_changed)(void *userdata, const char *const *properties);
        void (*link_added)(void *userdata, const char *name);
        void (*link_removed)(void *userdata, const char *name);
        void (*link_changed)(void *userdata, const char *name, const char *const *properties);
        void (*peer_added)(void *userdata, const char *name);
        void (*peer_removed)(void *userdata, const char *name);
        void (*peer_changed)(void *userdata, const char *name, const char *const *properties);
} CellListener;

/* What WireGuard last said about a link or peer (runtime only, not saved). */
typedef struct {
        int64_t last_handshake;
        uint64_t rx_bytes;
        uint64_t tx_bytes;
        bool connected;
} TunnelStatus;

/* Settings of Configure; each field applies when its has_* flag is set. */
typedef struct {
        bool has_name, has_domain, has_address, has_endpoint, has_dns_address;
        const char *name;
        const char *domain;
        const char *address;      /* CIDR: "10.23.7.1/24" */
        const char *endpoint;     /* "host:port" or "auto" */
        const char *dns_address;
} CellSettings;

/* Loads the cell from @state_dir (state.json, private.key), creating its
 * identity on first start. @config is borrowed and must outlive the cell. */
Cell *cell_new(const DaemonConfig *config, const char *state_dir, const char *runtime_dir, GError **error);
void cell_free(Cell *cell);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Cell, cell_free)

void cell_add_listener(Cell *cell, const CellListener *listener, void *userdata);

/* Hands the cell its kernel side (borrowed), reconciles at once (recovery
 * after a restart) and starts reading the tunnels' status. */
void cell_start(Cell *cell, Reconciler *reconciler);

const CellState *cell_get_state(const Cell *cell);
/* The link to the cell @name, the peer or the service named @name; or NULL
 * with PIC_ERROR_NOT_FOUND naming it in @error. */
const Link *cell_find_link(const Cell *cell, const char *name, GError **error);
const Peer *cell_find_peer(const Cell *cell, const char *name, GError **error);
const Service *cell_find_service(const Cell *cell, const char *name, GError **error);
/* Changes whenever the model is replaced; pointers into an older one are invalid. */
uint64_t cell_get_generation(const Cell *cell);
const DaemonConfig *cell_get_config(const Cell *cell);
const char *cell_get_wireguard_backend(const Cell *cell); /* "kernel" | "userspace" */
/* The endpoint other cells should use ("host:port"), or NULL with @error. */
char *cell_get_endpoint(const Cell *cell, GError **error);

/* Validation without change: PIC_ERROR_INVALID_ARGUMENT or _CONFLICT, and
 * whether anything would change. Used before asking polkit. */
bool cell_configure_check(const Cell *cell, const CellSettings *settings, bool *ret_changes, GError **error);
bool cell_configure(Cell *cell, const CellSettings *settings, GError **error);

/* Services: @address "" means the cell's own address. */
bool cell_set_service_check(const Cell *cell, const char *name, const char *address,
                            const ServicePort *ports, size_t n_ports, GError **error);
bool cell_set_service(Cell *cell, const char *name, const char *address,
                      const ServicePort *ports, size_t n_ports, GError **error);
bool cell_remove_service(Cell *cell, const char *name, GError **error);

/* Status of the link or peer named @name; zeros when unknown. */
TunnelStatus cell_get_key_status(const Cell *cell, const char *public_key); /* of a link or peer, by its key */
TunnelStatus cell_get_link_status(const Cell *cell, const char *name);
TunnelStatus cell_get_peer_status(const Cell *cell, const char *name);

/* Links. Import returns the new link's name. */
bool cell_import_invite_check(const Cell *cell, const char *text, GError **error);
char *cell_import_invite(Cell *cell, const char *text, GError **error);
bool cell_remove_link(Cell *cell, const char *name, GError **error);

/* --- pairing and sync, for the peer-sync face --- */

#define CELL_DEPARTURE_GRACE_MS 10000 /* a removed link's tunnel stays this long for the farewell */

typedef enum {
        CELL_PAIR_LINKED,
        CELL_PAIR_ALREADY_LINKED,
} CellPairResult;

/* This cell's own invite, without pairing (what it pushes to others). */
Invite *cell_build_invite(const Cell *cell, GError **error);

/* A remote cell presents one of our invites' pairing id (its signature,
 * freshness and nonce already checked) and its own invite. Errors:
 * PIC_ERROR_NOT_AUTHORIZED (unknown, expired or used by another key),
 * PIC_ERROR_CONFLICT, PIC_ERROR_LIMIT_EXCEEDED. */
bool cell_accept_paired_invite(Cell *cell, const char *pairing_id, const Invite *invite,
                               CellPairResult *ret_result, GError **error);
/* The remote confirmed our link (accept-invite answered linked). */
bool cell_confirm_link(Cell *cell, const char *name, GError **error);
/* The outcome of a push to @name; kept and shown as PushState/LastPush*. */
void cell_record_push(Cell *cell, const char *name, PushState state, const char *error_message);
/* The remote's invite changed (healing): re-check conflicts, update in place. */
bool cell_apply_remote_update(Cell *cell, const char *name, const Invite *invite, GError **error);
/* The remote removed us: remove the link here, without telling it back. */
bool cell_apply_remote_unlink(Cell *cell, const char *name, GError **error);

/* Permissions (Link.SetPermissions): @inbound maps service names to
 * gboolean (GINT_TO_POINTER) and is merged into what is shared. */
bool cell_set_permissions_check(const Cell *cell, const char *name, GHashTable *inbound, bool *ret_changes,
                                GError **error);
bool cell_set_permissions(Cell *cell, const char *name, GHashTable *inbound, GError **error);
bool cell_set_exit_offered(Cell *cell, const char *name, bool offered, GError **error);

/* What a linked cell pushed to us over the tunnel (DESIGN §6). */
typedef struct {
        uint64_t seq;
        GHashTable *inbound;        /* their service -> gboolean: what they share with us */
        bool exit_offered;
        bool use_as_exit_relay;
        GPtrArray *exit_sources;    /* of char* CIDR, inside their subnet */
} RemotePermissions;

/* Stores @remote as the mirror of @name; a seq not above the last one is
 * ignored (@ret_stale true). */
bool cell_apply_remote_permissions(Cell *cell, const char *name, const RemotePermissions *remote, bool *ret_stale,
                                   GError **error);
/* The seq for the next permissions push to @name: above every one sent before,
 * even across restarts. */
uint64_t cell_next_push_seq(const Cell *cell, const char *name);
/* A permissions push with @seq landed. */
void cell_record_push_seq(Cell *cell, const char *name, uint64_t seq);

/* --- road-warrior peers --- */

typedef struct {
        const char *public_key;  /* NULL: generate a key pair, the private half only in the config */
        bool full_tunnel;        /* default true */
} PeerOptions;

bool cell_add_peer_check(const Cell *cell, const char *name, const PeerOptions *options, GError **error);
/* Adds the peer; @ret_config is the wg-quick configuration for its device. */
bool cell_add_peer(Cell *cell, const char *name, const PeerOptions *options, char **ret_config, GError **error);
bool cell_remove_peer(Cell *cell, const char *name, GError **error);
/* Routes the peer's internet traffic through the linked cell @via ("" =
 * directly). PIC_ERROR_NOT_OFFERED unless that cell offers its exit. */
bool cell_set_route_via_check(const Cell *cell, const char *name, const char *via, GError **error);
bool cell_set_route_via(Cell *cell, const char *name, const char *via, GError **error);
/* Whether the peer's route through its exit cell is in effect now. */
bool cell_peer_route_via_active(const Cell *cell, const Peer *peer);

/* A link removed by our admin stays reachable for a short while so that the
 * remote can be told; the face asks for it and says when it is done. */
const Link *cell_get_departing(const Cell *cell, const char *name);
void cell_departure_done(Cell *cell, const char *name);

/* A new invite in compact form ("pic1:…"), its pairing token remembered. */
bool cell_create_invite_check(const Cell *cell, uint32_t ttl, GError **error);
char *cell_create_invite(Cell *cell, uint32_t ttl, GError **error);
