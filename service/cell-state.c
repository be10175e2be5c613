/* cell-state.c: the cell's model and its strict, migrating, atomically saved JSON form (state.json). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "cell-state.h"
#include "durable-file.h"
#include "i18n.h"
#include "json-text.h"
#include "json-writer.h"
#include "names.h"
#include "netaddr.h"
#include "pairing.h"
#include "pic-error.h"

#define ORIGINAL_SYNC_PORT 51821
/* Used invites stay on record while their link exists (idempotent re-pairing):
 * at most one per link, plus the outstanding ones. */
#define MAX_INVITES_TOTAL (CELL_STATE_MAX_INVITES + CELL_STATE_MAX_LINKS)
#define JOURNAL_FIRST_VERSION 2  /* the state version the journal came with */
#define QUOTE_MAX 64

/* ---- push state ---- */

static const char *const push_state_names[] = {
        [PUSH_STATE_OK] = "ok",
        [PUSH_STATE_PENDING] = "pending",
        [PUSH_STATE_FAILED] = "failed",
};

const char *push_state_to_string(PushState state) {
        if ((unsigned) state >= G_N_ELEMENTS(push_state_names))
                return NULL;
        return push_state_names[state];
}

bool push_state_from_string(const char *text, PushState *ret) {
        if (!text)
                return false;
        for (size_t i = 0; i < G_N_ELEMENTS(push_state_names); i++)
                if (g_str_equal(text, push_state_names[i])) {
                        *ret = (PushState) i;
                        return true;
                }
        return false;
}

/* ---- constructors, destructors ---- */

static void free_secret(char *secret) {
        if (!secret)
                return;
        explicit_bzero(secret, strlen(secret));
        g_free(secret);
}

static GHashTable *permissions_new(void) {
        return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

Service *service_new(const char *name, uint32_t address) {
        Service *service = g_new0(Service, 1);

        service->name = g_strdup(name);
        service->address = address;
        service->ports = g_array_new(FALSE, TRUE, sizeof(ServicePort));
        return service;
}

void service_free(Service *service) {
        if (!service)
                return;
        g_free(service->name);
        if (service->ports)
                g_array_unref(service->ports);
        g_free(service);
}

static void service_add_port(Service *service, const char *protocol, uint16_t port) {
        ServicePort p = { .port = port };

        g_strlcpy(p.protocol, protocol, sizeof(p.protocol));
        g_array_append_val(service->ports, p);
}

Link *link_new(void) {
        Link *link = g_new0(Link, 1);

        link->ref_count = 1;
        link->sync_port = INVITE_DEFAULT_SYNC_PORT;
        link->inbound = permissions_new();
        link->outbound = permissions_new();
        link->remote_exit_sources = g_ptr_array_new_with_free_func(g_free);
        link->push_state = PUSH_STATE_OK;
        return link;
}

Link *link_ref(Link *link) {
        link->ref_count++;
        return link;
}

void link_unref(Link *link) {
        if (!link || --link->ref_count > 0)
                return;
        g_free(link->name);
        g_free(link->domain);
        g_free(link->public_key);
        g_free(link->endpoint);
        g_free(link->pairing_id);
        free_secret(link->pairing_secret);
        if (link->inbound)
                g_hash_table_unref(link->inbound);
        if (link->outbound)
                g_hash_table_unref(link->outbound);
        if (link->remote_exit_sources)
                g_ptr_array_unref(link->remote_exit_sources);
        g_free(link->last_push_error);
        g_free(link);
}

Peer *peer_new(void) {
        Peer *peer = g_new0(Peer, 1);

        peer->ref_count = 1;
        /* Never NULL, so that readers can test route_via[0] for "direct". */
        peer->route_via = g_strdup("");
        peer->full_tunnel = true;
        return peer;
}

Peer *peer_ref(Peer *peer) {
        peer->ref_count++;
        return peer;
}

void peer_unref(Peer *peer) {
        if (!peer || --peer->ref_count > 0)
                return;
        g_free(peer->name);
        g_free(peer->public_key);
        g_free(peer->route_via);
        g_free(peer);
}

IssuedInvite *issued_invite_new(void) {
        return g_new0(IssuedInvite, 1);
}

void issued_invite_free(IssuedInvite *invite) {
        if (!invite)
                return;
        g_free(invite->id);
        free_secret(invite->secret);
        g_free(invite->used_by);
        g_free(invite);
}

static void cell_identity_clear(CellIdentity *cell) {
        g_clear_pointer(&cell->name, g_free);
        g_clear_pointer(&cell->domain, g_free);
        g_clear_pointer(&cell->endpoint, g_free);
        g_clear_pointer(&cell->public_key, g_free);
}

static GHashTable *index_new(void) {
        return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

CellState *cell_state_new(void) {
        CellState *state = g_new0(CellState, 1);

        state->version = CELL_STATE_VERSION;
        state->services = g_ptr_array_new_with_free_func((GDestroyNotify) service_free);
        state->links = g_ptr_array_new_with_free_func((GDestroyNotify) link_unref);
        state->peers = g_ptr_array_new_with_free_func((GDestroyNotify) peer_unref);
        state->invites = g_ptr_array_new_with_free_func((GDestroyNotify) issued_invite_free);
        state->link_names = index_new();
        state->link_keys = index_new();
        state->peer_names = index_new();
        return state;
}

void cell_state_free(CellState *state) {
        if (!state)
                return;
        cell_identity_clear(&state->cell);
        g_ptr_array_unref(state->services);
        g_ptr_array_unref(state->links);
        g_ptr_array_unref(state->peers);
        g_ptr_array_unref(state->invites);
        g_hash_table_unref(state->link_names);
        g_hash_table_unref(state->link_keys);
        g_hash_table_unref(state->peer_names);
        g_free(state);
}

/* ---- copies ---- */

static GHashTable *permissions_copy(GHashTable *source) {
        GHashTable *copy = permissions_new();
        GHashTableIter iter;
        gpointer key, value;

        if (!source)
                return copy;
        g_hash_table_iter_init(&iter, source);
        while (g_hash_table_iter_next(&iter, &key, &value))
                g_hash_table_insert(copy, g_strdup(key), value);
        return copy;
}

static Service *service_copy(const Service *service) {
        Service *copy = service_new(service->name, service->address);

        if (service->ports)
                g_array_append_vals(copy->ports, service->ports->data, service->ports->len);
        return copy;
}

static Link *link_copy(const Link *link) {
        Link *copy = g_new0(Link, 1);

        *copy = *link;
        copy->ref_count = 1;
        copy->name = g_strdup(link->name);
        copy->domain = g_strdup(link->domain);
        copy->public_key = g_strdup(link->public_key);
        copy->endpoint = g_strdup(link->endpoint);
        copy->pairing_id = g_strdup(link->pairing_id);
        copy->pairing_secret = g_strdup(link->pairing_secret);
        copy->inbound = permissions_copy(link->inbound);
        copy->outbound = permissions_copy(link->outbound);
        copy->remote_exit_sources = g_ptr_array_new_with_free_func(g_free);
        if (link->remote_exit_sources)
                for (guint i = 0; i < link->remote_exit_sources->len; i++)
                        g_ptr_array_add(copy->remote_exit_sources,
                                        g_strdup(link->remote_exit_sources->pdata[i]));
        copy->last_push_error = g_strdup(link->last_push_error);
        return copy;
}

static Peer *peer_copy(const Peer *peer) {
        Peer *copy = g_new0(Peer, 1);

        *copy = *peer;
        copy->ref_count = 1;
        copy->name = g_strdup(peer->name);
        copy->public_key = g_strdup(peer->public_key);
        copy->route_via = g_strdup(peer->route_via);
        return copy;
}

static IssuedInvite *issued_invite_copy(const IssuedInvite *invite) {
        IssuedInvite *copy = g_new0(IssuedInvite, 1);

        *copy = *invite;
        copy->id = g_strdup(invite->id);
        copy->secret = g_strdup(invite->secret);
        copy->used_by = g_strdup(invite->used_by);
        return copy;
}

CellState *cell_state_copy(const CellState *state) {
        CellState *copy = cell_state_new();

        copy->version = state->version;
        copy->cell = state->cell;
        copy->cell.name = g_strdup(state->cell.name);
        copy->cell.domain = g_strdup(state->cell.domain);
        copy->cell.endpoint = g_strdup(state->cell.endpoint);
        copy->cell.public_key = g_strdup(state->cell.public_key);
        for (guint i = 0; i < state->services->len; i++)
                g_ptr_array_add(copy->services, service_copy(state->services->pdata[i]));
        /* Links and peers are shared until one of the two states edits them. */
        g_ptr_array_set_size(copy->links, (gint) state->links->len);
        for (guint i = 0; i < state->links->len; i++)
                copy->links->pdata[i] = link_ref(state->links->pdata[i]);
        g_ptr_array_set_size(copy->peers, (gint) state->peers->len);
        for (guint i = 0; i < state->peers->len; i++)
                copy->peers->pdata[i] = peer_ref(state->peers->pdata[i]);
        for (guint i = 0; i < state->invites->len; i++)
                g_ptr_array_add(copy->invites, issued_invite_copy(state->invites->pdata[i]));
        /* Same arrays, same positions: the caches hold for the copy too. */
        g_hash_table_unref(copy->link_names);
        g_hash_table_unref(copy->link_keys);
        g_hash_table_unref(copy->peer_names);
        copy->link_names = g_hash_table_ref(state->link_names);
        copy->link_keys = g_hash_table_ref(state->link_keys);
        copy->peer_names = g_hash_table_ref(state->peer_names);
        return copy;
}

/* ---- defaults, links from invites, finders ---- */

void cell_state_add_default_services(CellState *state) {
        static const struct {
                const char *name;
                uint16_t ports[3];
        } defaults[] = {
                { "calendar", { 5232 } },
                { "files", { 445 } },
                { "mail", { 25, 587, 993 } },
                { "webdav", { 80, 443 } },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(defaults); i++) {
                Service *service;

                /* An admin's own definition of the same name wins. */
                if (cell_state_find_service(state, defaults[i].name))
                        continue;
                service = service_new(defaults[i].name, state->cell.address.address);
                for (size_t j = 0; j < G_N_ELEMENTS(defaults[i].ports) && defaults[i].ports[j] != 0; j++)
                        service_add_port(service, "tcp", defaults[i].ports[j]);
                g_ptr_array_add(state->services, service);
        }
}

Link *link_new_from_invite(const Invite *invite, int64_t now) {
        Link *link = link_new();

        link->name = g_strdup(invite->cell_name);
        link->domain = g_strdup(invite->domain);
        link->public_key = g_strdup(invite->public_key);
        link->endpoint = g_strdup(invite->endpoint);
        link->vpn_subnet = invite->vpn_subnet;
        link->dns_ip = invite->dns_ip;
        link->tunnel_address = invite->tunnel_address;
        link->sync_port = invite->sync_port;
        if (invite->has_pairing) {
                link->pairing_id = g_strdup(invite->pairing.id);
                link->pairing_secret = g_strdup(invite->pairing.secret);
                link->pairing_expires = invite->pairing.expires;
        }
        link->created_at = now;
        return link;
}

/* The string member at @offset of the element @item. */
static const char *member_at(const void *item, size_t offset) {
        return G_STRUCT_MEMBER(const char *, item, offset);
}

static bool index_hit(GHashTable *index, const GPtrArray *array, size_t offset, const char *key, guint *ret) {
        gpointer position;
        guint i;

        if (!g_hash_table_lookup_extended(index, key, NULL, &position))
                return false;
        i = GPOINTER_TO_UINT(position);
        if (i >= array->len || g_strcmp0(member_at(array->pdata[i], offset), key) != 0)
                return false;
        *ret = i;
        return true;
}

/* The position in @array of the element whose string member at @offset is
 * @key, through *@index (see CellState); the first one, as a scan would find
 * it. A copy of the state shares the index: as every hit is checked, a
 * rebuild for one of them cannot mislead the other. The caches are not part
 * of the value of a state, so finding is "const". */
static bool find_indexed(GHashTable *const *cache, const GPtrArray *array, size_t offset, const char *key,
                         guint *ret) {
        GHashTable **index = (GHashTable **) cache;

        if (!key)
                return false;
        if (index_hit(*index, array, offset, key, ret))
                return true;
        g_hash_table_remove_all(*index);
        for (guint i = array->len; i-- > 0;) {
                const char *member = member_at(array->pdata[i], offset);
                if (member)
                        g_hash_table_replace(*index, g_strdup(member), GUINT_TO_POINTER(i));
        }
        return index_hit(*index, array, offset, key, ret);
}

static bool link_position(const CellState *state, const char *name, guint *ret) {
        return find_indexed(&state->link_names, state->links, G_STRUCT_OFFSET(Link, name), name, ret);
}

static bool link_key_position(const CellState *state, const char *public_key, guint *ret) {
        return find_indexed(&state->link_keys, state->links, G_STRUCT_OFFSET(Link, public_key), public_key, ret);
}

static bool peer_position(const CellState *state, const char *name, guint *ret) {
        return find_indexed(&state->peer_names, state->peers, G_STRUCT_OFFSET(Peer, name), name, ret);
}

const Link *cell_state_find_link(const CellState *state, const char *name) {
        guint i;

        return link_position(state, name, &i) ? state->links->pdata[i] : NULL;
}

const Link *cell_state_find_link_by_key(const CellState *state, const char *public_key) {
        guint i;

        return link_key_position(state, public_key, &i) ? state->links->pdata[i] : NULL;
}

const Peer *cell_state_find_peer(const CellState *state, const char *name) {
        guint i;

        return peer_position(state, name, &i) ? state->peers->pdata[i] : NULL;
}

Link *cell_state_edit_link_at(CellState *state, guint i) {
        Link *link;

        g_assert(i < state->links->len);
        link = state->links->pdata[i];
        if (link->ref_count == 1)
                return link;
        /* Shared with another state: this one gets a copy of its own. */
        state->links->pdata[i] = link_copy(link);
        link_unref(link);
        return state->links->pdata[i];
}

Peer *cell_state_edit_peer_at(CellState *state, guint i) {
        Peer *peer;

        g_assert(i < state->peers->len);
        peer = state->peers->pdata[i];
        if (peer->ref_count == 1)
                return peer;
        state->peers->pdata[i] = peer_copy(peer);
        peer_unref(peer);
        return state->peers->pdata[i];
}

Link *cell_state_edit_link(CellState *state, const char *name) {
        guint i;

        return link_position(state, name, &i) ? cell_state_edit_link_at(state, i) : NULL;
}

Link *cell_state_edit_link_by_key(CellState *state, const char *public_key) {
        guint i;

        return link_key_position(state, public_key, &i) ? cell_state_edit_link_at(state, i) : NULL;
}

Peer *cell_state_edit_peer(CellState *state, const char *name) {
        guint i;

        return peer_position(state, name, &i) ? cell_state_edit_peer_at(state, i) : NULL;
}

Service *cell_state_find_service(const CellState *state, const char *name) {
        if (!name)
                return NULL;
        for (guint i = 0; i < state->services->len; i++) {
                Service *service = state->services->pdata[i];

                if (g_strcmp0(service->name, name) == 0)
                        return service;
        }
        return NULL;
}

IssuedInvite *cell_state_find_invite(const CellState *state, const char *id) {
        if (!id)
                return NULL;
        for (guint i = 0; i < state->invites->len; i++) {
                IssuedInvite *invite = state->invites->pdata[i];

                if (g_strcmp0(invite->id, id) == 0)
                        return invite;
        }
        return NULL;
}

void cell_state_expire_invites(CellState *state, int64_t now) {
        for (guint i = state->invites->len; i > 0; i--) {
                IssuedInvite *invite = state->invites->pdata[i - 1];

                if (invite->expires >= now)
                        continue;
                /* A used invite stays while its cell is linked, so that a retried
                 * pairing is still recognised; once that link is gone nothing can
                 * use it any more, and keeping it would only let the list grow. */
                if (invite->used_by && cell_state_find_link_by_key(state, invite->used_by))
                        continue;
                g_ptr_array_remove_index(state->invites, i - 1);
        }
}

/* ---- serialisation ---- */

static void add_address(JsonWriter *w, const char *key, uint32_t address) {
        g_autofree char *text = netaddr_format_address(address);

        json_writer_string(w, key, text);
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static void add_permissions(JsonWriter *w, const char *key, GHashTable *permissions) {
        g_autofree gpointer *keys = NULL;
        guint n = 0;

        json_writer_begin_object(w, key);
        if (permissions) {
                /* Sorted, so that the same state always gives the same file. */
                keys = g_hash_table_get_keys_as_array(permissions, &n);
                qsort(keys, n, sizeof(gpointer), compare_strings);
        }
        for (guint i = 0; i < n; i++)
                json_writer_bool(w, keys[i], GPOINTER_TO_INT(g_hash_table_lookup(permissions, keys[i])) != 0);
        json_writer_end_object(w);
}

static void add_cell(JsonWriter *w, const CellIdentity *cell) {
        json_writer_begin_object(w, "cell");
        json_writer_string(w, "name", cell->name);
        json_writer_string(w, "domain", cell->domain);
        /* 0.0.0.0/0 is what a migrated state has before the daemon fills it in. */
        if (cell->address.address == 0 && cell->address.prefixlen == 0)
                json_writer_null(w, "address");
        else {
                g_autofree char *text = netaddr_format_prefix(&cell->address);
                json_writer_string(w, "address", text);
        }
        if (cell->dns_address != 0)
                add_address(w, "dns_address", cell->dns_address);
        else
                json_writer_null(w, "dns_address");
        json_writer_string(w, "endpoint", cell->endpoint);
        json_writer_string(w, "public_key", cell->public_key);
        json_writer_end_object(w);
}

static void add_service(JsonWriter *w, const Service *service) {
        json_writer_begin_object(w, NULL);
        json_writer_string(w, "name", service->name);
        add_address(w, "address", service->address);
        json_writer_begin_array(w, "ports");
        for (guint i = 0; service->ports && i < service->ports->len; i++) {
                const ServicePort *port = &g_array_index(service->ports, ServicePort, i);

                json_writer_begin_array(w, NULL);
                json_writer_string(w, NULL, port->protocol);
                json_writer_int(w, NULL, port->port);
                json_writer_end_array(w);
        }
        json_writer_end_array(w);
        json_writer_end_object(w);
}

static void add_link(JsonWriter *w, const Link *link) {
        const char *push_state = push_state_to_string(link->push_state);
        g_autofree char *subnet = netaddr_format_network(&link->vpn_subnet);

        json_writer_begin_object(w, NULL);
        json_writer_string(w, "cell_name", link->name);
        json_writer_string(w, "public_key", link->public_key);
        json_writer_string(w, "endpoint", link->endpoint);
        json_writer_string(w, "vpn_subnet", subnet);
        add_address(w, "dns_ip", link->dns_ip);
        json_writer_string(w, "domain", link->domain);
        add_address(w, "tunnel_address", link->tunnel_address);
        json_writer_int(w, "sync_port", link->sync_port);
        json_writer_bool(w, "paired", link->paired);
        if (link->pairing_id) {
                json_writer_begin_object(w, "pairing");
                json_writer_string(w, "id", link->pairing_id);
                json_writer_string(w, "secret", link->pairing_secret);
                json_writer_int(w, "expires", link->pairing_expires);
                json_writer_end_object(w);
        }
        add_permissions(w, "inbound", link->inbound);
        add_permissions(w, "outbound", link->outbound);
        json_writer_bool(w, "exit_offered", link->exit_offered);
        json_writer_bool(w, "remote_exit_offered", link->remote_exit_offered);
        json_writer_bool(w, "exit_relay_active", link->exit_relay_active);
        json_writer_bool(w, "remote_exit_relay_active", link->remote_exit_relay_active);
        json_writer_begin_array(w, "remote_exit_sources");
        for (guint i = 0; link->remote_exit_sources && i < link->remote_exit_sources->len; i++)
                json_writer_string(w, NULL, link->remote_exit_sources->pdata[i]);
        json_writer_end_array(w);
        /* An out-of-range value can only come from a bug; "failed" makes it retried. */
        json_writer_string(w, "push_state", push_state ?: "failed");
        json_writer_int(w, "last_push_at", link->last_push_at);
        json_writer_string(w, "last_push_error", link->last_push_error);
        json_writer_int(w, "last_remote_update_at", link->last_remote_update_at);
        json_writer_int(w, "push_seq", (int64_t) MIN(link->push_seq, (uint64_t) INT64_MAX));
        json_writer_int(w, "remote_seq", (int64_t) MIN(link->remote_seq, (uint64_t) INT64_MAX));
        json_writer_int(w, "created_at", link->created_at);
        json_writer_end_object(w);
}

static void add_peer(JsonWriter *w, const Peer *peer) {
        json_writer_begin_object(w, NULL);
        json_writer_string(w, "name", peer->name);
        add_address(w, "address", peer->address);
        json_writer_string(w, "public_key", peer->public_key);
        json_writer_bool(w, "full_tunnel", peer->full_tunnel);
        json_writer_string(w, "route_via", peer->route_via ?: "");
        json_writer_int(w, "created_at", peer->created_at);
        json_writer_end_object(w);
}

static void add_issued_invite(JsonWriter *w, const IssuedInvite *invite) {
        json_writer_begin_object(w, NULL);
        json_writer_string(w, "id", invite->id);
        json_writer_string(w, "secret", invite->secret);
        json_writer_int(w, "expires", invite->expires);
        json_writer_int(w, "created_at", invite->created_at);
        json_writer_string(w, "used_by", invite->used_by);
        json_writer_end_object(w);
}

char *cell_state_link_to_json(const Link *link) {
        JsonWriter w;

        json_writer_init_compact(&w);
        add_link(&w, link);
        return json_writer_finish(&w);
}

char *cell_state_peer_to_json(const Peer *peer) {
        JsonWriter w;

        json_writer_init_compact(&w);
        add_peer(&w, peer);
        return json_writer_finish(&w);
}

char *cell_state_to_json(const CellState *state) {
        JsonWriter w;

        json_writer_init(&w);
        json_writer_begin_object(&w, NULL);
        /* Whatever version was loaded, the file is written in the current one. */
        json_writer_int(&w, "version", CELL_STATE_VERSION);
        add_cell(&w, &state->cell);

        json_writer_begin_array(&w, "services");
        for (guint i = 0; i < state->services->len; i++)
                add_service(&w, state->services->pdata[i]);
        json_writer_end_array(&w);

        json_writer_begin_array(&w, "links");
        for (guint i = 0; i < state->links->len; i++)
                add_link(&w, state->links->pdata[i]);
        json_writer_end_array(&w);

        json_writer_begin_array(&w, "peers");
        for (guint i = 0; i < state->peers->len; i++)
                add_peer(&w, state->peers->pdata[i]);
        json_writer_end_array(&w);

        json_writer_begin_array(&w, "invites");
        for (guint i = 0; i < state->invites->len; i++)
                add_issued_invite(&w, state->invites->pdata[i]);
        json_writer_end_array(&w);
        json_writer_end_object(&w);
        return json_writer_finish(&w);
}

/* ---- parsing helpers ---- */

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Service, service_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(IssuedInvite, issued_invite_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CellIdentity, cell_identity_clear)

typedef enum {
        FIELD_OPTIONAL = 0,
        FIELD_REQUIRED = 1 << 0,
        FIELD_NULLABLE = 1 << 1,
} FieldFlags;

/* A value fit to quote in a message: control characters escaped, long
 * values cut (a damaged file may hold megabytes in one string). */
static char *quote(const char *text) {
        /* Walking by characters needs valid UTF-8 to stay inside the string. */
        g_autofree char *valid = g_utf8_make_valid(text, -1);
        GString *out = g_string_new(NULL);
        glong n = 0;

        for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
                gunichar c = g_utf8_get_char(p);

                if (++n > QUOTE_MAX) {
                        g_string_append(out, "...");
                        break;
                }
                if (c < 0x20 || c == 0x7f)
                        g_string_append_printf(out, "\\x%02x", c);
                else
                        g_string_append_unichar(out, c);
        }
        return g_string_free(out, FALSE);
}

static char *field_path(const char *path, const char *key) {
        if (!path || !*path)
                return g_strdup(key);
        if (!key)
                return g_strdup(path);
        return g_strconcat(path, ".", key, NULL);
}

static bool field_error(GError **error, int code, const char *path, const char *key, const char *format, ...)
        G_GNUC_PRINTF(5, 6);

static bool field_error(GError **error, int code, const char *path, const char *key, const char *format, ...) {
        g_autofree char *where = field_path(path, key);
        g_autofree char *message = NULL;
        va_list ap;

        va_start(ap, format);
        message = g_strdup_vprintf(format, ap);
        va_end(ap);
        g_set_error(error, PIC_ERROR, code, "%s: %s", where, message);
        return false;
}

/* Puts the field's path in front of a message from a validator (names, netaddr). */
static bool field_error_from(GError **error, const char *path, const char *key, GError *cause) {
        return field_error(error, PIC_ERROR_INVALID_ARGUMENT, path, key, "%s", cause->message);
}

static const char *node_type_name(JsonNode *node) {
        GType type;

        switch (json_node_get_node_type(node)) {
        case JSON_NODE_OBJECT:
                return "an object";
        case JSON_NODE_ARRAY:
                return "an array";
        case JSON_NODE_NULL:
                return "null";
        case JSON_NODE_VALUE:
                break;
        }
        type = json_node_get_value_type(node);
        if (type == G_TYPE_STRING)
                return "a string";
        if (type == G_TYPE_BOOLEAN)
                return "a boolean";
        if (type == G_TYPE_INT64)
                return "an integer";
        return "a number";
}

static bool node_is(JsonNode *node, GType type) {
        return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == type;
}

/* The member @key of @object. A missing optional or a null nullable member
 * gives NULL and success. */
static bool field_lookup(JsonObject *object, const char *path, const char *key, FieldFlags flags,
                         JsonNode **ret, GError **error) {
        JsonNode *node = json_object_get_member(object, key);

        if (!node) {
                if (flags & FIELD_REQUIRED)
                        return field_error(error, PIC_ERROR_INVALID_ARGUMENT, path, key, "is missing");
                *ret = NULL;
                return true;
        }
        if (JSON_NODE_HOLDS_NULL(node)) {
                if (!(flags & FIELD_NULLABLE))
                        return field_error(error, PIC_ERROR_INVALID_ARGUMENT, path, key, "must not be null");
                *ret = NULL;
                return true;
        }
        *ret = node;
        return true;
}

static bool expect_type(JsonNode *node, GType type, const char *expected, const char *path, const char *key,
                        GError **error) {
        if (node_is(node, type))
                return true;
        return field_error(error, PIC_ERROR_INVALID_ARGUMENT, path, key, "expected %s, got %s",
                           expected, node_type_name(node));
}

/* Strings: a missing optional or null member gives NULL. */
static bool read_string(JsonObject *object, const char *path, const char *key, FieldFlags flags,
                        char **ret, GError **error) {
        JsonNode *node = NULL;

        if (!field_lookup(object, path, key, flags, &node, error))
                return false;
        if (!node) {
                *ret = NULL;
                return true;
        }
        if (!expect_type(node, G_TYPE_STRING, "a string", path, key, error))
                return false;
        *ret = g_strdup(json_node_get_string(node));
        return true;
}

/* Non-strings: a missing optional or null member leaves *ret as it was. */
static bool read_int(JsonObject *object, const char *path, const char *key, FieldFlags flags,
                     int64_t min, int64_t max, int64_t *ret, GError **error) {
        JsonNode *node = NULL;
        int64_t value = 0;

        if (!field_lookup(object, path, key, flags, &node, error))
                return false;
        if (!node)
                return true;
        if (!expect_type(node, G_TYPE_INT64, "an integer", path, key, error))
                return false;
        value = json_node_get_int(node);
        if (value < min || value > max)
                return field_error(error, PIC_ERROR_INVALID_ARGUMENT, path, key,
                                   "'%" PRId64 "' is out of range (%" PRId64 "..%" PRId64 ")", value, min, max);
        *ret = value;
        return true;
}

static bool read_timestamp(JsonObject *object, const char *path, const char *key, int64_t *ret, GError **error) {
        return read_int(object, path, key, FIELD_REQUIRED, 0, INT64_MAX, ret, error);
}

static bool read_bool(JsonObject *object, const char *path, const char *key, FieldFlags flags,
                      bool *ret, GError **error) {
        JsonNode *node = NULL;

        if (!field_lookup(object, path, key, flags, &node, error))
                return false;
        if (!node)
                return true;
        if (!expect_type(node, G_TYPE_BOOLEAN, "true or false", path, key, error))
                return false;
        *ret = json_node_get_boolean(node);
        return true;
}

static bool read_port(JsonObject *object, const char *path, const char *key, FieldFlags flags,
                      uint16_t *ret, GError **error) {
        int64_t value = 0;
        JsonNode *node = NULL;

        if (!field_lookup(object, path, key, flags, &node, error))
                return false;
        if (!node)
                return true;
        if (!expect_type(node, G_TYPE_INT64, "a port number", path, key, error))
                return false;
        value = json_node_get_int(node);
        if (value < 1 || value > 65535)
                return field_error(error, PIC_ERROR_INVALID_ARGUMENT, path, key,
                                   "'%" PRId64 "' is not a port number (1..65535)", value);
        *ret = (uint16_t) value;
        return true;
}

static bool read_address(JsonObject *object, const char *path, const char *key, FieldFlags flags,
                         uint32_t *ret, GError **error) {
        g_autofree char *text = NULL;
        g_autoptr(GError) cause = NULL;
        uint32_t address = 0;

        if (!read_string(object, path, key, flags, &text, error))
                return false;
        if (!text)
                return true;
        if (!netaddr_parse_address(text, &address, &cause))
                return field_error_from(error, path, key, cause);
        *ret = address;
        return true;
}

static bool read_prefix(JsonObject *object, const char *path, const char *key, FieldFlags flags,
                        Ipv4Prefix *ret, GError **error) {
        g_autofree char *text = NULL;
        g_autoptr(GError) cause = NULL;
        Ipv4Prefix prefix;

        if (!read_string(object, path, key, flags, &text, error))
                return false;
        if (!text)
                return true;
        if (!netaddr_parse_prefix(text, true, &prefix, &cause))
                return field_error_from(error, path, key, cause);
        *ret = prefix;
        return true;
}

/* WireGuard keys: base64 of exactly 32 bytes, in the one canonical spelling. */
static bool key_is_valid(const char *text) {
        g_autofree guchar *bytes = NULL;
        gsize len = 0;

        if (strlen(text) != 44 || text[43] != '=')
                return false;
        for (size_t i = 0; i < 43; i++)
                if (!g_ascii_isalnum(text[i]) && text[i] != '+' && text[i] != '/')
                        return false;
        bytes = g_base64_decode(text, &len);
        return len == 32;
}

static bool read_key(JsonObject *object, const char *path, const char *key, FieldFlags flags,
                     char **ret, GError **error) {
        g_autofree char *text = NULL;

        if (!read_string(object, path, key, flags, &text, error))
                return false;
        if (text && !key_is_valid(text)) {
                g_autofree char *q = quote(text);

                return field_error(error, PIC_ERROR_INVALID_ARGUMENT, path, key,
                                   "'%s' is not a WireGuard key (base64 of 32 bytes, 44 characters)", q);
        }
        *ret = g_steal_pointer(&text);
        return true;
}

/* Pairing ids and secrets: base64url of a fixed number of random bytes. */
static bool read_token(JsonObject *object, const char *path, const char *key, size_t n_bytes, bool secret,
                       char **ret, GError **error) {
        g_autofree char *text = NULL;
        g_autoptr(GError) cause = NULL;
        uint8_t bytes[64];
        bool ok;

        g_assert(n_bytes <= sizeof(bytes));
        if (!read_string(object, path, key, FIELD_REQUIRED, &text, error))
                return false;
        ok = pairing_base64url_decode(text, bytes, n_bytes, &cause);
        explicit_bzero(bytes, sizeof(bytes));
        if (!ok) {
                if (secret) {
                        /* Never quote a secret back, not even a malformed one. */
                        explicit_bzero(text, strlen(text));
                        return field_error(error, PIC_ERROR_INVALID_ARGUMENT, path, key,
                                           "is not base64url of %zu bytes", n_bytes);
                }
                return field_error_from(error, path, key, cause);
        }
        *ret = g_steal_pointer(&text);
        return true;
}

static bool read_name(JsonObject *object, const char *path, const char *key, FieldFlags flags,
                      bool (*validate)(const char *, GError **), char **ret, GError **error) {
        g_autofree char *text = NULL;
        g_autoptr(GError) cause = NULL;

        if (!read_string(object, path, key, flags, &text, error))
                return false;
        if (text && !validate(text, &cause))
                return field_error_from(error, path, key, cause);
        *ret = g_steal_pointer(&text);
        return true;
}

static bool read_endpoint(JsonObject *object, const char *path, const char *key, FieldFlags flags,
                          bool allow_auto, char **ret, GError **error) {
        g_autofree char *text = NULL;
        g_autofree char *host = NULL;
        g_autoptr(GError) cause = NULL;
        uint16_t port = 0;

        if (!read_string(object, path, key, flags, &text, error))
                return false;
        if (text && !(allow_auto && g_str_equal(text, "auto")) &&
            !netaddr_parse_endpoint(text, &host, &port, &cause))
                return field_error_from(error, path, key, cause);
        *ret = g_steal_pointer(&text);
        return true;
}

static bool read_array(JsonObject *object, const char *path, const char *key, FieldFlags flags,
                       guint limit, const char *what, JsonArray **ret, GError **error) {
        JsonNode *node = NULL;
        JsonArray *array = NULL;

        if (!field_lookup(object, path, key, flags, &node, error))
                return false;
        if (!node) {
                *ret = NULL;
                return true;
        }
        if (!JSON_NODE_HOLDS_ARRAY(node))
                return field_error(error, PIC_ERROR_INVALID_ARGUMENT, path, key, "expected an array, got %s",
                                   node_type_name(node));
        array = json_node_get_array(node);
        if (json_array_get_length(array) > limit)
                return field_error(error, PIC_ERROR_LIMIT_EXCEEDED, path, key,
                                   "%u %s, more than the limit of %u; remove some",
                                   json_array_get_length(array), what, limit);
        *ret = array;
        return true;
}

static bool read_object(JsonObject *object, const char *path, const char *key, FieldFlags flags,
                        JsonObject **ret, GError **error) {
        JsonNode *node = NULL;

        if (!field_lookup(object, path, key, flags, &node, error))
                return false;
        if (!node) {
                *ret = NULL;
                return true;
        }
        if (!JSON_NODE_HOLDS_OBJECT(node))
                return field_error(error, PIC_ERROR_INVALID_ARGUMENT, path, key, "expected an object, got %s",
                                   node_type_name(node));
        *ret = json_node_get_object(node);
        return true;
}

/* Element @index of an array that must hold objects. */
static bool array_object(JsonArray *array, guint index, const char *path, JsonObject **ret, GError **error) {
        JsonNode *node = json_array_get_element(array, index);

        if (!JSON_NODE_HOLDS_OBJECT(node))
                return field_error(error, PIC_ERROR_INVALID_ARGUMENT, path, NULL, "expected an object, got %s",
                                   node_type_name(node));
        *ret = json_node_get_object(node);
        return true;
}

/* ---- parsing the current version ---- */

static bool parse_permissions(JsonObject *object, const char *path, const char *key, GHashTable *permissions,
                              GError **error) {
        g_autofree char *where = field_path(path, key);
        g_autoptr(GList) members = NULL;
        JsonObject *map = NULL;

        if (!read_object(object, path, key, FIELD_REQUIRED, &map, error))
                return false;
        if (json_object_get_size(map) > CELL_STATE_MAX_SERVICES)
                return field_error(error, PIC_ERROR_LIMIT_EXCEEDED, where, NULL,
                                   "%u services, more than the limit of %d; remove some",
                                   json_object_get_size(map), CELL_STATE_MAX_SERVICES);
        members = json_object_get_members(map);
        for (GList *l = members; l; l = l->next) {
                const char *service = l->data;
                g_autoptr(GError) cause = NULL;
                bool allowed = false;

                if (!names_validate_service_name(service, &cause))
                        return field_error_from(error, where, service, cause);
                if (!read_bool(map, where, service, FIELD_REQUIRED, &allowed, error))
                        return false;
                g_hash_table_replace(permissions, g_strdup(service), GINT_TO_POINTER(allowed));
        }
        return true;
}

static bool parse_cell(JsonObject *root, CellIdentity *ret, GError **error) {
        g_auto(CellIdentity) cell = {};
        JsonObject *object = NULL;

        /* Every field may be null: a migrated state has no identity until the
         * daemon gives it one at start-up. */
        if (!read_object(root, "", "cell", FIELD_REQUIRED, &object, error) ||
            !read_name(object, "cell", "name", FIELD_REQUIRED | FIELD_NULLABLE, names_validate_cell_name,
                       &cell.name, error) ||
            !read_name(object, "cell", "domain", FIELD_REQUIRED | FIELD_NULLABLE, names_validate_domain,
                       &cell.domain, error) ||
            !read_prefix(object, "cell", "address", FIELD_REQUIRED | FIELD_NULLABLE, &cell.address, error) ||
            !read_address(object, "cell", "dns_address", FIELD_REQUIRED | FIELD_NULLABLE, &cell.dns_address,
                          error) ||
            !read_endpoint(object, "cell", "endpoint", FIELD_REQUIRED | FIELD_NULLABLE, true, &cell.endpoint,
                           error) ||
            !read_key(object, "cell", "public_key", FIELD_REQUIRED | FIELD_NULLABLE, &cell.public_key, error))
                return false;
        *ret = cell;
        cell = (CellIdentity) {};
        return true;
}

static bool parse_service(JsonObject *object, const char *path, void **ret, GError **error) {
        g_autoptr(Service) service = service_new(NULL, 0);
        JsonArray *ports = NULL;

        if (!read_name(object, path, "name", FIELD_REQUIRED, names_validate_service_name, &service->name, error) ||
            !read_address(object, path, "address", FIELD_REQUIRED, &service->address, error) ||
            !read_array(object, path, "ports", FIELD_REQUIRED, CELL_STATE_MAX_PORTS, "ports", &ports, error))
                return false;

        for (guint i = 0; i < json_array_get_length(ports); i++) {
                g_autofree char *where = g_strdup_printf("%s.ports[%u]", path, i);
                JsonNode *node = json_array_get_element(ports, i);
                JsonArray *pair = NULL;
                JsonNode *protocol, *number;
                int64_t port = 0;

                if (!JSON_NODE_HOLDS_ARRAY(node) || json_array_get_length(json_node_get_array(node)) != 2)
                        return field_error(error, PIC_ERROR_INVALID_ARGUMENT, where, NULL,
                                           "expected a pair like [\"tcp\", 445], got %s",
                                           JSON_NODE_HOLDS_ARRAY(node) ? "an array of another length"
                                                                      : node_type_name(node));
                pair = json_node_get_array(node);
                protocol = json_array_get_element(pair, 0);
                number = json_array_get_element(pair, 1);
                if (!node_is(protocol, G_TYPE_STRING))
                        return field_error(error, PIC_ERROR_INVALID_ARGUMENT, where, NULL,
                                           "expected the protocol \"tcp\" or \"udp\", got %s",
                                           node_type_name(protocol));
                if (!g_str_equal(json_node_get_string(protocol), "tcp") &&
                    !g_str_equal(json_node_get_string(protocol), "udp")) {
                        g_autofree char *q = quote(json_node_get_string(protocol));

                        return field_error(error, PIC_ERROR_INVALID_ARGUMENT, where, NULL,
                                           "'%s' is not a protocol; use \"tcp\" or \"udp\"", q);
                }
                if (!node_is(number, G_TYPE_INT64))
                        return field_error(error, PIC_ERROR_INVALID_ARGUMENT, where, NULL,
                                           "expected a port number, got %s", node_type_name(number));
                port = json_node_get_int(number);
                if (port < 1 || port > 65535)
                        return field_error(error, PIC_ERROR_INVALID_ARGUMENT, where, NULL,
                                           "'%" PRId64 "' is not a port number (1..65535)", port);
                service_add_port(service, json_node_get_string(protocol), (uint16_t) port);
        }
        *ret = g_steal_pointer(&service);
        return true;
}

/* The fields every era of link records has: those of the original invite. */
static bool parse_link_core(JsonObject *object, const char *path, Link *link, GError **error) {
        if (!read_name(object, path, "cell_name", FIELD_REQUIRED, names_validate_cell_name, &link->name, error) ||
            !read_key(object, path, "public_key", FIELD_REQUIRED, &link->public_key, error) ||
            !read_endpoint(object, path, "endpoint", FIELD_REQUIRED, false, &link->endpoint, error) ||
            !read_prefix(object, path, "vpn_subnet", FIELD_REQUIRED, &link->vpn_subnet, error) ||
            !read_address(object, path, "dns_ip", FIELD_REQUIRED, &link->dns_ip, error) ||
            !read_name(object, path, "domain", FIELD_REQUIRED, names_validate_domain, &link->domain, error))
                return false;
        /* A link routes a network: keep it in its canonical form. */
        link->vpn_subnet = netaddr_canonical(&link->vpn_subnet);
        return true;
}

static bool parse_link(JsonObject *object, const char *path, void **ret, GError **error) {
        g_autoptr(Link) link = link_new();
        g_autofree char *pairing_path = field_path(path, "pairing");
        g_autofree char *push_state = NULL;
        JsonObject *pairing = NULL;
        JsonArray *sources = NULL;
        int64_t value = 0;

        if (!parse_link_core(object, path, link, error) ||
            !read_address(object, path, "tunnel_address", FIELD_REQUIRED, &link->tunnel_address, error) ||
            !read_port(object, path, "sync_port", FIELD_REQUIRED, &link->sync_port, error) ||
            !read_bool(object, path, "paired", FIELD_REQUIRED, &link->paired, error) ||
            !read_object(object, path, "pairing", FIELD_OPTIONAL, &pairing, error))
                return false;
        if (pairing &&
            (!read_token(pairing, pairing_path, "id", PAIRING_ID_BYTES, false, &link->pairing_id, error) ||
             !read_token(pairing, pairing_path, "secret", PAIRING_SECRET_BYTES, true, &link->pairing_secret,
                         error) ||
             !read_timestamp(pairing, pairing_path, "expires", &link->pairing_expires, error)))
                return false;

        if (!parse_permissions(object, path, "inbound", link->inbound, error) ||
            !parse_permissions(object, path, "outbound", link->outbound, error) ||
            !read_bool(object, path, "exit_offered", FIELD_REQUIRED, &link->exit_offered, error) ||
            !read_bool(object, path, "remote_exit_offered", FIELD_REQUIRED, &link->remote_exit_offered, error) ||
            !read_bool(object, path, "exit_relay_active", FIELD_REQUIRED, &link->exit_relay_active, error) ||
            !read_bool(object, path, "remote_exit_relay_active", FIELD_REQUIRED, &link->remote_exit_relay_active,
                       error) ||
            !read_array(object, path, "remote_exit_sources", FIELD_REQUIRED, CELL_STATE_MAX_PEERS, "sources",
                        &sources, error))
                return false;
        for (guint i = 0; i < json_array_get_length(sources); i++) {
                g_autofree char *where = g_strdup_printf("%s.remote_exit_sources[%u]", path, i);
                g_autoptr(GError) cause = NULL;
                JsonNode *node = json_array_get_element(sources, i);
                Ipv4Prefix prefix;

                if (!node_is(node, G_TYPE_STRING))
                        return field_error(error, PIC_ERROR_INVALID_ARGUMENT, where, NULL,
                                           "expected a string, got %s", node_type_name(node));
                /* A bare address is one host, as the remote may have sent it. */
                if (!netaddr_parse_prefix(json_node_get_string(node), false, &prefix, &cause))
                        return field_error_from(error, where, NULL, cause);
                g_ptr_array_add(link->remote_exit_sources, g_strdup(json_node_get_string(node)));
        }

        if (!read_string(object, path, "push_state", FIELD_REQUIRED, &push_state, error))
                return false;
        if (!push_state_from_string(push_state, &link->push_state)) {
                g_autofree char *q = quote(push_state);

                return field_error(error, PIC_ERROR_INVALID_ARGUMENT, path, "push_state",
                                   "'%s' is not a push state; use \"ok\", \"pending\" or \"failed\"", q);
        }
        if (!read_timestamp(object, path, "last_push_at", &link->last_push_at, error) ||
            !read_string(object, path, "last_push_error", FIELD_REQUIRED | FIELD_NULLABLE, &link->last_push_error,
                         error) ||
            !read_timestamp(object, path, "last_remote_update_at", &link->last_remote_update_at, error) ||
            !read_int(object, path, "push_seq", FIELD_REQUIRED, 0, INT64_MAX, &value, error))
                return false;
        link->push_seq = (uint64_t) value;
        value = 0;
        if (!read_int(object, path, "remote_seq", FIELD_REQUIRED, 0, INT64_MAX, &value, error))
                return false;
        link->remote_seq = (uint64_t) value;
        if (!read_timestamp(object, path, "created_at", &link->created_at, error))
                return false;

        *ret = g_steal_pointer(&link);
        return true;
}

static bool parse_peer(JsonObject *object, const char *path, void **ret, GError **error) {
        g_autoptr(Peer) peer = peer_new();
        g_autofree char *route_via = NULL;

        if (!read_name(object, path, "name", FIELD_REQUIRED, names_validate_peer_name, &peer->name, error) ||
            !read_address(object, path, "address", FIELD_REQUIRED, &peer->address, error) ||
            !read_key(object, path, "public_key", FIELD_REQUIRED, &peer->public_key, error) ||
            !read_bool(object, path, "full_tunnel", FIELD_REQUIRED, &peer->full_tunnel, error) ||
            !read_string(object, path, "route_via", FIELD_REQUIRED, &route_via, error))
                return false;
        if (route_via[0] != '\0') {
                g_autoptr(GError) cause = NULL;

                if (!names_validate_cell_name(route_via, &cause))
                        return field_error_from(error, path, "route_via", cause);
        }
        g_free(peer->route_via);
        peer->route_via = g_steal_pointer(&route_via);
        if (!read_timestamp(object, path, "created_at", &peer->created_at, error))
                return false;
        *ret = g_steal_pointer(&peer);
        return true;
}

static bool parse_issued_invite(JsonObject *object, const char *path, void **ret, GError **error) {
        g_autoptr(IssuedInvite) invite = issued_invite_new();

        if (!read_token(object, path, "id", PAIRING_ID_BYTES, false, &invite->id, error) ||
            !read_token(object, path, "secret", PAIRING_SECRET_BYTES, true, &invite->secret, error) ||
            !read_timestamp(object, path, "expires", &invite->expires, error) ||
            !read_timestamp(object, path, "created_at", &invite->created_at, error) ||
            !read_key(object, path, "used_by", FIELD_REQUIRED | FIELD_NULLABLE, &invite->used_by, error))
                return false;
        *ret = g_steal_pointer(&invite);
        return true;
}

/* ---- the original era (cell_links.json) ---- */

/* The original wrote times as Unix seconds or ISO 8601 text; anything else is
 * left at its default. */
static bool original_timestamp(JsonObject *object, const char *key, int64_t *ret) {
        JsonNode *node = json_object_get_member(object, key);

        if (!node || !JSON_NODE_HOLDS_VALUE(node))
                return false;
        if (node_is(node, G_TYPE_INT64) && json_node_get_int(node) >= 0) {
                *ret = json_node_get_int(node);
                return true;
        }
        if (node_is(node, G_TYPE_DOUBLE)) {
                double value = json_node_get_double(node);

                if (!(value >= 0 && value < 9.2e18))
                        return false;
                *ret = (int64_t) value;
                return true;
        }
        if (node_is(node, G_TYPE_STRING)) {
                g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
                g_autoptr(GDateTime) time = g_date_time_new_from_iso8601(json_node_get_string(node), utc);

                if (!time || g_date_time_to_unix(time) < 0)
                        return false;
                *ret = g_date_time_to_unix(time);
                return true;
        }
        return false;
}

static void original_bool(JsonObject *object, const char *key, bool *ret) {
        JsonNode *node = json_object_get_member(object, key);

        if (node && node_is(node, G_TYPE_BOOLEAN))
                *ret = json_node_get_boolean(node);
}

static void original_permissions(JsonObject *permissions, const char *key, GHashTable *ret) {
        JsonNode *node = json_object_get_member(permissions, key);
        g_autoptr(GList) members = NULL;
        JsonObject *map = NULL;

        if (!node || !JSON_NODE_HOLDS_OBJECT(node))
                return;
        map = json_node_get_object(node);
        members = json_object_get_members(map);
        for (GList *l = members; l && g_hash_table_size(ret) < CELL_STATE_MAX_SERVICES; l = l->next) {
                JsonNode *value = json_object_get_member(map, l->data);

                /* Map what maps: a name the new rules refuse cannot be shared anyway. */
                if (!node_is(value, G_TYPE_BOOLEAN) || !names_validate_service_name(l->data, NULL))
                        continue;
                g_hash_table_replace(ret, g_strdup(l->data), GINT_TO_POINTER(json_node_get_boolean(value)));
        }
}

/* A record of the original cell_links.json: the invite's fields are checked
 * as strictly as ever, the rest is taken where it fits and defaulted where not. */
static bool parse_original_link(JsonObject *object, const char *path, void **ret, GError **error) {
        g_autoptr(Link) link = link_new();
        JsonNode *node = NULL;
        const char *status = NULL;
        bool pending = false;

        if (!parse_link_core(object, path, link, error))
                return false;

        link->tunnel_address = link->dns_ip;
        node = json_object_get_member(object, "tunnel_address");
        if (node && node_is(node, G_TYPE_STRING))
                (void) netaddr_parse_address(json_node_get_string(node), &link->tunnel_address, NULL);
        link->sync_port = ORIGINAL_SYNC_PORT;
        node = json_object_get_member(object, "sync_port");
        if (node && node_is(node, G_TYPE_INT64) && json_node_get_int(node) >= 1 && json_node_get_int(node) <= 65535)
                link->sync_port = (uint16_t) json_node_get_int(node);

        /* It was in the list because the two cells had linked. */
        link->paired = true;

        node = json_object_get_member(object, "permissions");
        if (node && JSON_NODE_HOLDS_OBJECT(node)) {
                original_permissions(json_node_get_object(node), "inbound", link->inbound);
                original_permissions(json_node_get_object(node), "outbound", link->outbound);
        }

        original_bool(object, "exit_offered", &link->exit_offered);
        original_bool(object, "remote_exit_offered", &link->remote_exit_offered);
        original_bool(object, "exit_relay_active", &link->exit_relay_active);
        original_bool(object, "remote_exit_relay_active", &link->remote_exit_relay_active);

        original_bool(object, "pending_push", &pending);
        node = json_object_get_member(object, "last_push_status");
        if (node && node_is(node, G_TYPE_STRING))
                status = json_node_get_string(node);
        if (pending)
                link->push_state = PUSH_STATE_PENDING;
        else if (status && (g_str_equal(status, "failed") || g_str_equal(status, "error")))
                link->push_state = PUSH_STATE_FAILED;
        node = json_object_get_member(object, "last_push_error");
        if (node && node_is(node, G_TYPE_STRING) && *json_node_get_string(node))
                link->last_push_error = g_strdup(json_node_get_string(node));
        (void) original_timestamp(object, "last_push_at", &link->last_push_at);
        (void) original_timestamp(object, "last_remote_update_at", &link->last_remote_update_at);
        if (!original_timestamp(object, "created_at", &link->created_at))
                (void) original_timestamp(object, "connected_at", &link->created_at);

        *ret = g_steal_pointer(&link);
        return true;
}

/* ---- the whole state ---- */

typedef bool (*ParseFunc)(JsonObject *object, const char *path, void **ret, GError **error);

static bool parse_list(JsonArray *array, const char *name, ParseFunc parse, GPtrArray *out, GError **error) {
        for (guint i = 0; array && i < json_array_get_length(array); i++) {
                g_autofree char *path = g_strdup_printf("%s[%u]", name, i);
                JsonObject *object = NULL;
                void *item = NULL;

                if (!array_object(array, i, path, &object, error) || !parse(object, path, &item, error))
                        return false;
                g_ptr_array_add(out, item);
        }
        return true;
}

/* Two entries under one name would make every lookup ambiguous. */
static bool check_unique(const GPtrArray *items, const char *list, const char *key, size_t offset, GError **error) {
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

        for (guint i = 0; i < items->len; i++) {
                const char *value = G_STRUCT_MEMBER(const char *, items->pdata[i], offset);
                g_autofree char *path = g_strdup_printf("%s[%u]", list, i);
                gpointer first;

                if (!value)
                        continue;
                if (g_hash_table_lookup_extended(seen, value, NULL, &first)) {
                        g_autofree char *q = quote(value);

                        return field_error(error, PIC_ERROR_INVALID_ARGUMENT, path, key,
                                           "'%s' is already used by %s[%u]; remove one of them",
                                           q, list, GPOINTER_TO_UINT(first));
                }
                g_hash_table_insert(seen, (gpointer) value, GUINT_TO_POINTER(i));
        }
        return true;
}

static bool parse_current(JsonObject *root, CellState *state, GError **error) {
        JsonArray *services, *links, *peers, *invites;

        if (!parse_cell(root, &state->cell, error) ||
            !read_array(root, "", "services", FIELD_REQUIRED, CELL_STATE_MAX_SERVICES, "services", &services,
                        error) ||
            !read_array(root, "", "links", FIELD_REQUIRED, CELL_STATE_MAX_LINKS, "links", &links, error) ||
            !read_array(root, "", "peers", FIELD_REQUIRED, CELL_STATE_MAX_PEERS, "peers", &peers, error) ||
            !read_array(root, "", "invites", FIELD_REQUIRED, MAX_INVITES_TOTAL, "invites", &invites, error))
                return false;

        if (!parse_list(services, "services", parse_service, state->services, error) ||
            !parse_list(links, "links", parse_link, state->links, error) ||
            !parse_list(peers, "peers", parse_peer, state->peers, error) ||
            !parse_list(invites, "invites", parse_issued_invite, state->invites, error))
                return false;

        return check_unique(state->services, "services", "name", G_STRUCT_OFFSET(Service, name), error) &&
               check_unique(state->peers, "peers", "name", G_STRUCT_OFFSET(Peer, name), error) &&
               check_unique(state->peers, "peers", "public_key", G_STRUCT_OFFSET(Peer, public_key), error) &&
               check_unique(state->invites, "invites", "id", G_STRUCT_OFFSET(IssuedInvite, id), error);
}

/* Link names and keys are unique in every era. */
static bool check_links_unique(const CellState *state, GError **error) {
        return check_unique(state->links, "links", "cell_name", G_STRUCT_OFFSET(Link, name), error) &&
               check_unique(state->links, "links", "public_key", G_STRUCT_OFFSET(Link, public_key), error);
}

static bool parse_original_links(JsonArray *links, CellState *state, GError **error) {
        if (json_array_get_length(links) > CELL_STATE_MAX_LINKS)
                return field_error(error, PIC_ERROR_LIMIT_EXCEEDED, "links", NULL,
                                   "%u links, more than the limit of %d; remove some",
                                   json_array_get_length(links), CELL_STATE_MAX_LINKS);
        return parse_list(links, "links", parse_original_link, state->links, error);
}

/* A state file is nested a handful of levels deep; anything far deeper is
 * not one. */
#define MAX_JSON_DEPTH 32


/* Parses @data, which must be JSON no deeper than a state file: json-glib
 * alone would take text that is not JSON, and overflow its stack on deep
 * nesting. */
static JsonParser *parse_json(const char *data, size_t len, JsonNode **ret_root, GError **error) {
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autoptr(GError) cause = NULL;
        const char *problem = NULL;
        size_t where = 0;

        switch (json_text_check(data, len, MAX_JSON_DEPTH, &where, &problem)) {
        case JSON_TEXT_OK:
                break;
        case JSON_TEXT_TOO_DEEP:
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            "nested more than %d levels deep at byte %zu; a state file is not", MAX_JSON_DEPTH, where);
                return NULL;
        case JSON_TEXT_INVALID:
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT, "not valid JSON: %s at byte %zu", problem,
                            where);
                return NULL;
        }
        if (!json_parser_load_from_data(parser, data, (gssize) len, &cause)) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT, "not valid JSON: %s", cause->message);
                return NULL;
        }
        *ret_root = json_parser_get_root(parser);
        if (!*ret_root) {
                g_set_error_literal(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT, "there is no JSON value");
                return NULL;
        }
        return g_steal_pointer(&parser);
}

/* Parses @data; *ret_newer tells a file of a later version (to be left alone)
 * from a broken one (to be moved aside). */
static CellState *parse_state(const char *data, size_t len, bool *ret_newer, GError **error) {
        g_autoptr(JsonParser) parser = NULL;
        g_autoptr(CellState) state = cell_state_new();
        JsonNode *root = NULL;
        JsonObject *object = NULL;
        int64_t version = 1;

        *ret_newer = false;
        if (len > CELL_STATE_MAX_SIZE) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                            "the state is %zu bytes, more than the limit of %d", len, CELL_STATE_MAX_SIZE);
                return NULL;
        }
        parser = parse_json(data, len, &root, error);
        if (!parser)
                return NULL;

        if (JSON_NODE_HOLDS_ARRAY(root)) {
                /* The original cell_links.json: nothing but the list of links. */
                if (!parse_original_links(json_node_get_array(root), state, error) ||
                    !check_links_unique(state, error))
                        return NULL;
                return g_steal_pointer(&state);
        }
        if (!JSON_NODE_HOLDS_OBJECT(root)) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            "expected an object with \"version\", got %s", node_type_name(root));
                return NULL;
        }
        object = json_node_get_object(root);
        if (!read_int(object, "", "version", FIELD_OPTIONAL, INT64_MIN, INT64_MAX, &version, error))
                return NULL;
        if (version < 1) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            "version: '%" PRId64 "' is not a state version (1..%d)", version, CELL_STATE_VERSION);
                return NULL;
        }
        if (version > CELL_STATE_VERSION) {
                *ret_newer = true;
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "it is version %" PRId64 ", written by a newer pic-celld (this one reads up to "
                            "version %d); upgrade pic-celld to use it",
                            version, CELL_STATE_VERSION);
                return NULL;
        }
        if (version == 1) {
                JsonArray *links = NULL;

                if (!read_array(object, "", "links", FIELD_OPTIONAL, CELL_STATE_MAX_LINKS, "links", &links, error))
                        return NULL;
                if (links && !parse_original_links(links, state, error))
                        return NULL;
        } else if (!parse_current(object, state, error))
                return NULL;

        if (!check_links_unique(state, error))
                return NULL;

        state->version = CELL_STATE_VERSION;
        return g_steal_pointer(&state);
}

CellState *cell_state_from_json(const char *data, size_t len, GError **error) {
        bool newer;

        return parse_state(data, len, &newer, error);
}

/* ---- files ---- */

/* Reads at most @limit + 1 bytes, so that the caller can tell a file that is
 * too large without reading all of it. */
static bool read_capped(int fd, size_t limit, char **ret, size_t *ret_len, GError **error) {
        g_autofree char *buffer = NULL;
        size_t size = 0, allocated = 4096;

        buffer = g_malloc(allocated + 1);
        for (;;) {
                ssize_t n;

                if (size == allocated) {
                        if (allocated > limit)
                                break;
                        allocated = MIN(allocated * 2, limit + 1);
                        buffer = g_realloc(buffer, allocated + 1);
                }
                n = read(fd, buffer + size, allocated - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "%s", g_strerror(errno));
                        return false;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        buffer[size] = '\0';
        *ret = g_steal_pointer(&buffer);
        *ret_len = size;
        return true;
}


CellState *cell_state_load(const char *path, GError **error) {
        g_autofree char *data = NULL;
        g_autofree char *target = NULL;
        g_autoptr(GError) cause = NULL;
        g_autoptr(GError) move_error = NULL;
        CellState *state;
        struct stat st;
        size_t len = 0;
        bool newer = false;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                int saved = errno;

                if (saved == ENOENT)
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "State file '%s' does not exist", path);
                else
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "Failed to open state file '%s': %s",
                                    path, g_strerror(saved));
                return NULL;
        }
        if (fstat(fd, &st) < 0) {
                int saved = errno;

                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "Failed to load state file '%s': %s", path,
                            g_strerror(saved));
                (void) close(fd);
                return NULL;
        }
        if (!S_ISREG(st.st_mode)) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "Failed to load state file '%s': it is not a regular file; replace or remove it", path);
                (void) close(fd);
                return NULL;
        }
        if (!read_capped(fd, CELL_STATE_MAX_SIZE, &data, &len, &cause)) {
                /* A read error says nothing about the contents: leave the file be. */
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "Failed to read state file '%s': %s", path,
                            cause->message);
                (void) close(fd);
                return NULL;
        }
        (void) close(fd);

        state = parse_state(data, len, &newer, &cause);
        if (state)
                return state;

        if (newer) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "Refusing to load state file '%s': %s. The file was left untouched.", path,
                            cause->message);
                return NULL;
        }
        if (!durable_move_aside(path, &target, &move_error)) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "State file '%s' is corrupt (%s), and it could not be moved aside: %s. "
                            "Repair or remove it.",
                            path, cause->message, move_error->message);
                return NULL;
        }
        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                    "State file '%s' is corrupt (%s). It was moved to '%s'; repair it and move it back, "
                    "or start afresh.",
                    path, cause->message, target);
        return NULL;
}

/* @what names the step that failed and the file it failed on ("cannot create
 * '%s'"), whole, so that a translation can put the name where its grammar wants. */
static bool save_error(GError **error, const char *path, int errnum, const char *what, ...) G_GNUC_PRINTF(4, 5);

static bool save_error(GError **error, const char *path, int errnum, const char *what, ...) {
        g_autofree char *step = NULL;
        va_list ap;

        va_start(ap, what);
        step = g_strdup_vprintf(what, ap);
        va_end(ap);
        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, _("Failed to save state to '%s': %s: %s"), path, step,
                    g_strerror(errnum));
        return false;
}

bool cell_state_save(const CellState *state, const char *path, GError **error) {
        g_autofree char *json = cell_state_to_json(state);
        g_autofree char *temp = g_strconcat(path, ".tmp", NULL);
        g_autofree char *directory = g_path_get_dirname(path);
        int fd, dir_fd, saved;

        /* O_NOFOLLOW: a planted symlink must not redirect the write. */
        fd = open(temp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0) {
                saved = errno;
                return save_error(error, path, saved, _("cannot create '%s'"), temp);
        }

        /* The umask or an older file of that name may have left other bits. */
        if (fchmod(fd, 0600) < 0) {
                saved = errno;
                (void) close(fd);
                (void) unlink(temp);
                return save_error(error, path, saved, _("cannot set the mode of '%s'"), temp);
        }
        if (!durable_write_all(fd, json, strlen(json))) {
                saved = errno;
                (void) close(fd);
                (void) unlink(temp);
                return save_error(error, path, saved, _("cannot write '%s'"), temp);
        }
        if (fsync(fd) < 0) {
                saved = errno;
                (void) close(fd);
                (void) unlink(temp);
                return save_error(error, path, saved, _("cannot sync '%s'"), temp);
        }
        if (close(fd) < 0) {
                saved = errno;
                (void) unlink(temp);
                return save_error(error, path, saved, _("cannot close '%s'"), temp);
        }

        /* Opened before the rename so that the last step that can fail for
         * ordinary reasons comes before the state file changes. */
        dir_fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0) {
                saved = errno;
                (void) unlink(temp);
                return save_error(error, path, saved, _("cannot open the directory '%s'"), directory);
        }
        if (rename(temp, path) < 0) {
                saved = errno;
                (void) close(dir_fd);
                (void) unlink(temp);
                return save_error(error, path, saved, _("cannot rename '%s'"), temp);
        }
        if (fsync(dir_fd) < 0) {
                saved = errno;
                (void) close(dir_fd);
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            _("Failed to save state to '%s': it was written, but syncing directory '%s' failed "
                              "(%s), so it may not survive a power loss"),
                            path, directory, g_strerror(saved));
                return false;
        }
        (void) close(dir_fd);
        return true;
}

/* ---- changes: the records of the journal ---- */

static bool identity_equal(const CellIdentity *a, const CellIdentity *b) {
        return g_strcmp0(a->name, b->name) == 0 && g_strcmp0(a->domain, b->domain) == 0 &&
               a->address.address == b->address.address && a->address.prefixlen == b->address.prefixlen &&
               a->dns_address == b->dns_address && g_strcmp0(a->endpoint, b->endpoint) == 0 &&
               g_strcmp0(a->public_key, b->public_key) == 0;
}

static bool service_equal(const Service *a, const Service *b) {
        guint na = a->ports ? a->ports->len : 0, nb = b->ports ? b->ports->len : 0;

        return g_str_equal(a->name, b->name) && a->address == b->address && na == nb &&
               (na == 0 || memcmp(a->ports->data, b->ports->data, na * sizeof(ServicePort)) == 0);
}

static bool invite_equal(const IssuedInvite *a, const IssuedInvite *b) {
        return g_strcmp0(a->id, b->id) == 0 && g_strcmp0(a->secret, b->secret) == 0 && a->expires == b->expires &&
               a->created_at == b->created_at && g_strcmp0(a->used_by, b->used_by) == 0;
}

typedef bool (*EqualFunc)(const void *a, const void *b);

static bool list_equal(const GPtrArray *a, const GPtrArray *b, EqualFunc equal) {
        if (a->len != b->len)
                return false;
        for (guint i = 0; i < a->len; i++)
                if (!equal(a->pdata[i], b->pdata[i]))
                        return false;
        return true;
}

bool cell_state_services_equal(const CellState *a, const CellState *b) {
        return list_equal(a->services, b->services, (EqualFunc) service_equal);
}

typedef const void *(*FindFunc)(const CellState *state, const char *name);
typedef void (*AddFunc)(JsonWriter *w, const void *item);

/* Entries of @after that are not, as the same object, in @before: links and
 * peers are shared between a state and its copy until edited (see
 * cell_state_copy()), so an unchanged one costs a pointer comparison. */
static bool add_upserted(JsonWriter *w, const char *key, const CellState *before, const GPtrArray *was,
                         const GPtrArray *now, size_t name_offset, FindFunc find, AddFunc add) {
        bool open = false;

        for (guint i = 0; i < now->len; i++) {
                const void *item = now->pdata[i];

                if ((i < was->len && was->pdata[i] == item) || find(before, member_at(item, name_offset)) == item)
                        continue;
                if (!open)
                        json_writer_begin_array(w, key);
                open = true;
                add(w, item);
        }
        if (open)
                json_writer_end_array(w);
        return open;
}

static bool add_removed(JsonWriter *w, const char *key, const CellState *after, const GPtrArray *was,
                        const GPtrArray *now, size_t name_offset, FindFunc find) {
        bool open = false;

        for (guint i = 0; i < was->len; i++) {
                const char *name = member_at(was->pdata[i], name_offset);

                if ((i < now->len && now->pdata[i] == was->pdata[i]) || find(after, name))
                        continue;
                if (!open)
                        json_writer_begin_array(w, key);
                open = true;
                json_writer_string(w, NULL, name);
        }
        if (open)
                json_writer_end_array(w);
        return open;
}

static const void *find_link_any(const CellState *state, const char *name) {
        return cell_state_find_link(state, name);
}

static const void *find_peer_any(const CellState *state, const char *name) {
        return cell_state_find_peer(state, name);
}

static void add_link_any(JsonWriter *w, const void *item) {
        add_link(w, item);
}

static void add_peer_any(JsonWriter *w, const void *item) {
        add_peer(w, item);
}

char *cell_state_change_to_json(const CellState *before, const CellState *after) {
        g_autofree char *record = NULL;
        bool changed = false;
        JsonWriter w;

        json_writer_init_compact(&w);
        json_writer_begin_object(&w, NULL);
        json_writer_int(&w, "version", CELL_STATE_VERSION);
        if (!identity_equal(&before->cell, &after->cell)) {
                add_cell(&w, &after->cell);
                changed = true;
        }
        if (!list_equal(before->services, after->services, (EqualFunc) service_equal)) {
                json_writer_begin_array(&w, "services");
                for (guint i = 0; i < after->services->len; i++)
                        add_service(&w, after->services->pdata[i]);
                json_writer_end_array(&w);
                changed = true;
        }
        changed |= add_removed(&w, "links_removed", after, before->links, after->links,
                               G_STRUCT_OFFSET(Link, name), find_link_any);
        changed |= add_upserted(&w, "links", before, before->links, after->links, G_STRUCT_OFFSET(Link, name),
                                find_link_any, add_link_any);
        changed |= add_removed(&w, "peers_removed", after, before->peers, after->peers,
                               G_STRUCT_OFFSET(Peer, name), find_peer_any);
        changed |= add_upserted(&w, "peers", before, before->peers, after->peers, G_STRUCT_OFFSET(Peer, name),
                                find_peer_any, add_peer_any);
        if (!list_equal(before->invites, after->invites, (EqualFunc) invite_equal)) {
                json_writer_begin_array(&w, "invites");
                for (guint i = 0; i < after->invites->len; i++)
                        add_issued_invite(&w, after->invites->pdata[i]);
                json_writer_end_array(&w);
                changed = true;
        }
        json_writer_end_object(&w);
        record = json_writer_finish(&w);
        return changed ? g_steal_pointer(&record) : NULL;
}

/* Replaces the entry named like @item, or appends it. */
static void upsert(GPtrArray *array, size_t name_offset, GDestroyNotify drop, void *item) {
        const char *name = member_at(item, name_offset);

        for (guint i = 0; i < array->len; i++)
                if (g_strcmp0(member_at(array->pdata[i], name_offset), name) == 0) {
                        void *old = array->pdata[i];

                        array->pdata[i] = item;
                        drop(old);
                        return;
                }
        g_ptr_array_add(array, item);
}

static bool remove_named(JsonArray *names, const char *key, GPtrArray *array, size_t name_offset,
                         GError **error) {
        for (guint i = 0; names && i < json_array_get_length(names); i++) {
                JsonNode *node = json_array_get_element(names, i);
                g_autofree char *path = g_strdup_printf("%s[%u]", key, i);
                const char *name;

                if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
                        return field_error(error, PIC_ERROR_INVALID_ARGUMENT, path, NULL, "expected a name, got %s",
                                           node_type_name(node));
                name = json_node_get_string(node);
                for (guint j = 0; j < array->len; j++)
                        if (g_strcmp0(member_at(array->pdata[j], name_offset), name) == 0) {
                                g_ptr_array_remove_index(array, j);
                                break;
                        }
        }
        return true;
}

static bool upsert_list(JsonArray *items, const char *key, ParseFunc parse, GPtrArray *array, size_t name_offset,
                        GDestroyNotify drop, GError **error) {
        for (guint i = 0; items && i < json_array_get_length(items); i++) {
                g_autofree char *path = g_strdup_printf("%s[%u]", key, i);
                JsonObject *object = NULL;
                void *item = NULL;

                if (!array_object(items, i, path, &object, error) || !parse(object, path, &item, error))
                        return false;
                upsert(array, name_offset, drop, item);
        }
        return true;
}

static bool replace_list(JsonArray *items, const char *key, ParseFunc parse, GPtrArray *array, GDestroyNotify drop,
                         GError **error) {
        g_autoptr(GPtrArray) parsed = g_ptr_array_new_with_free_func(drop);

        if (!parse_list(items, key, parse, parsed, error))
                return false;
        g_ptr_array_set_size(array, 0);
        for (guint i = 0; i < parsed->len; i++)
                g_ptr_array_add(array, parsed->pdata[i]);
        g_ptr_array_set_free_func(parsed, NULL);
        return true;
}

static void cell_state_swap(CellState *a, CellState *b) {
        CellState t = *a;

        *a = *b;
        *b = t;
}

bool cell_state_apply_change_json(CellState *state, const char *data, size_t len, bool *ret_newer,
                                  GError **error) {
        g_autoptr(JsonParser) parser = NULL;
        g_autoptr(CellState) next = NULL;
        JsonNode *root = NULL;
        JsonObject *record = NULL;
        JsonArray *services, *links, *links_removed, *peers, *peers_removed, *invites;
        int64_t version = 0;

        parser = parse_json(data, len, &root, error);
        if (!parser)
                return false;
        if (!JSON_NODE_HOLDS_OBJECT(root)) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT, "expected an object, got %s",
                            node_type_name(root));
                return false;
        }
        record = json_node_get_object(root);
        if (ret_newer)
                *ret_newer = false;
        if (!read_int(record, "", "version", FIELD_REQUIRED, JOURNAL_FIRST_VERSION, INT64_MAX, &version, error))
                return false;
        /* An older record reads like the state file of its version. */
        if (version > CELL_STATE_VERSION) {
                if (ret_newer)
                        *ret_newer = true;
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "it is version %" PRId64 ", written by a newer pic-celld (this one reads up to "
                            "version %d); upgrade pic-celld to use it",
                            version, CELL_STATE_VERSION);
                return false;
        }
        if (!read_array(record, "", "services", FIELD_OPTIONAL, CELL_STATE_MAX_SERVICES, "services", &services,
                        error) ||
            !read_array(record, "", "links", FIELD_OPTIONAL, CELL_STATE_MAX_LINKS, "links", &links, error) ||
            !read_array(record, "", "links_removed", FIELD_OPTIONAL, CELL_STATE_MAX_LINKS, "links", &links_removed,
                        error) ||
            !read_array(record, "", "peers", FIELD_OPTIONAL, CELL_STATE_MAX_PEERS, "peers", &peers, error) ||
            !read_array(record, "", "peers_removed", FIELD_OPTIONAL, CELL_STATE_MAX_PEERS, "peers", &peers_removed,
                        error) ||
            !read_array(record, "", "invites", FIELD_OPTIONAL, MAX_INVITES_TOTAL, "invites", &invites, error))
                return false;

        /* Applied to a copy: a record is taken whole or not at all. */
        next = cell_state_copy(state);
        if (json_object_has_member(record, "cell")) {
                CellIdentity cell = {};

                if (!parse_cell(record, &cell, error))
                        return false;
                cell_identity_clear(&next->cell);
                next->cell = cell;
        }
        if ((services && !replace_list(services, "services", parse_service, next->services,
                                       (GDestroyNotify) service_free, error)) ||
            !remove_named(links_removed, "links_removed", next->links, G_STRUCT_OFFSET(Link, name), error) ||
            !upsert_list(links, "links", parse_link, next->links, G_STRUCT_OFFSET(Link, name),
                         (GDestroyNotify) link_unref, error) ||
            !remove_named(peers_removed, "peers_removed", next->peers, G_STRUCT_OFFSET(Peer, name), error) ||
            !upsert_list(peers, "peers", parse_peer, next->peers, G_STRUCT_OFFSET(Peer, name),
                         (GDestroyNotify) peer_unref, error) ||
            (invites && !replace_list(invites, "invites", parse_issued_invite, next->invites,
                                      (GDestroyNotify) issued_invite_free, error)))
                return false;

        cell_state_swap(state, next);
        return true;
}

bool cell_state_check(const CellState *state, GError **error) {
        if (state->links->len > CELL_STATE_MAX_LINKS || state->peers->len > CELL_STATE_MAX_PEERS ||
            state->invites->len > MAX_INVITES_TOTAL) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                            "%u links, %u peers and %u invites: more than the limits of %d, %d and %d",
                            state->links->len, state->peers->len, state->invites->len, CELL_STATE_MAX_LINKS,
                            CELL_STATE_MAX_PEERS, MAX_INVITES_TOTAL);
                return false;
        }
        return check_unique(state->services, "services", "name", G_STRUCT_OFFSET(Service, name), error) &&
               check_unique(state->peers, "peers", "name", G_STRUCT_OFFSET(Peer, name), error) &&
               check_unique(state->peers, "peers", "public_key", G_STRUCT_OFFSET(Peer, public_key), error) &&
               check_unique(state->invites, "invites", "id", G_STRUCT_OFFSET(IssuedInvite, id), error) &&
               check_links_unique(state, error);
}
