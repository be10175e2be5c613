/* cell.c: the operations on a cell (the core floor of DESIGN §2). Every change
 * is made on a copy of the model, which is saved before it is adopted: a failed
 * save leaves the model, the file and the kernel exactly as they were. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cell.h"
#include "log.h"
#include "conflicts.h"
#include "endpoint.h"
#include "i18n.h"
#include "model-check.h"
#include "names.h"
#include "netaddr.h"
#include "pairing.h"
#include "pic-error.h"
#include "private-key.h"
#include "state-journal.h"
#include "text-quote.h"

typedef struct {
        CellListener listener;
        void *userdata;
} ListenerEntry;

struct Cell {
        const DaemonConfig *config;
        char *state_dir;
        char *runtime_dir;
        char *state_path;
        StateJournal *journal;
        ModelCheck *model_check;
        char *key_path;
        CellState *state;
        uint64_t generation;   /* counts replacements of @state */
        WgKey private_key;
        GArray *listeners; /* of ListenerEntry */

        Reconciler *reconciler; /* borrowed; NULL until cell_start() */
        guint retry_id;
        guint retry_delay_ms;
        guint poll_id;
        GHashTable *status;     /* public key (base64) -> TunnelStatus* */
        GPtrArray *departing;   /* of Departure*: removed links kept for the farewell */
};

typedef struct {
        Cell *cell;
        Link *link;
        guint timer;
        bool tell_remote;  /* false: the remote removed us; we only finish answering it */
} Departure;

static void departure_free(Departure *d) {
        if (d->timer)
                g_source_remove(d->timer);
        link_unref(d->link);
        g_free(d);
}

/* Bytes of a name an error message quotes: names come from callers. */
#define NAME_QUOTE_MAX 64
#define RECONCILE_RETRY_MIN_MS 500
#define RECONCILE_RETRY_MAX_MS 30000

uint64_t cell_get_generation(const Cell *cell) {
        return cell->generation;
}

const CellState *cell_get_state(const Cell *cell) {
        return cell->state;
}

const DaemonConfig *cell_get_config(const Cell *cell) {
        return cell->config;
}

const char *cell_get_wireguard_backend(const Cell *cell) {
        if (cell->reconciler)
                return reconciler_wireguard_backend(cell->reconciler);
        return cell->config->wireguard == WG_BACKEND_KERNEL ? "kernel" : "userspace";
}

void cell_add_listener(Cell *cell, const CellListener *listener, void *userdata) {
        ListenerEntry entry = { .listener = *listener, .userdata = userdata };

        g_array_append_val(cell->listeners, entry);
}

static void notify_cell_changed(Cell *cell, const char *const *properties) {
        if (!properties || !properties[0])
                return;
        for (guint i = 0; i < cell->listeners->len; i++) {
                ListenerEntry *e = &g_array_index(cell->listeners, ListenerEntry, i);
                if (e->listener.cell_changed)
                        e->listener.cell_changed(e->userdata, properties);
        }
}

static void notify_link_changed(Cell *cell, const char *name, const char *const *properties) {
        for (guint i = 0; i < cell->listeners->len; i++) {
                ListenerEntry *e = &g_array_index(cell->listeners, ListenerEntry, i);
                if (e->listener.link_changed)
                        e->listener.link_changed(e->userdata, name, properties);
        }
}

static void notify_link_added(Cell *cell, const char *name) {
        for (guint i = 0; i < cell->listeners->len; i++) {
                ListenerEntry *e = &g_array_index(cell->listeners, ListenerEntry, i);
                if (e->listener.link_added)
                        e->listener.link_added(e->userdata, name);
        }
}

static void notify_link_removed(Cell *cell, const char *name) {
        for (guint i = 0; i < cell->listeners->len; i++) {
                ListenerEntry *e = &g_array_index(cell->listeners, ListenerEntry, i);
                if (e->listener.link_removed)
                        e->listener.link_removed(e->userdata, name);
        }
}

static void reconcile_now(Cell *cell, const CellState *before);
static bool same_permissions(GHashTable *a, GHashTable *b);

static gboolean on_reconcile_retry(gpointer userdata) {
        Cell *cell = userdata;

        cell->retry_id = 0;
        reconcile_now(cell, NULL);
        return G_SOURCE_REMOVE;
}

/* The model is already saved: a kernel that refuses it now is retried with
 * backoff until it takes it. With @before, the model the kernel held until
 * now, only what the change touches is looked at; without, everything. */
static void reconcile_now(Cell *cell, const CellState *before) {
        g_autoptr(GError) error = NULL;

        g_autoptr(GPtrArray) links = NULL;
        CellState view;

        if (!cell->reconciler)
                return;
        /* Departing links keep their tunnel until the remote has been told. */
        view = *cell->state;
        /* After a failure, or with a departing link in the view, the kernel
         * may not hold @before. */
        if (cell->retry_id || cell->departing->len > 0)
                before = NULL;
        if (cell->departing->len > 0) {
                links = g_ptr_array_new();
                for (guint i = 0; i < cell->state->links->len; i++)
                        g_ptr_array_add(links, cell->state->links->pdata[i]);
                for (guint i = 0; i < cell->departing->len; i++) {
                        Departure *d = cell->departing->pdata[i];
                        if (!cell_state_find_link_by_key(cell->state, d->link->public_key))
                                g_ptr_array_add(links, d->link);
                }
                view.links = links;
        }
        if (reconciler_apply_change(cell->reconciler, before, &view, &cell->private_key, &error)) {
                cell->retry_delay_ms = 0;
                if (cell->retry_id) {
                        g_source_remove(cell->retry_id);
                        cell->retry_id = 0;
                }
                return;
        }
        cell->retry_delay_ms = CLAMP(cell->retry_delay_ms * 2, RECONCILE_RETRY_MIN_MS, RECONCILE_RETRY_MAX_MS);
        g_warning("Failed to apply the cell's configuration to the kernel (retrying in %u ms): %s",
                  cell->retry_delay_ms, error->message);
        if (!cell->retry_id)
                cell->retry_id = g_timeout_add(cell->retry_delay_ms, on_reconcile_retry, cell);
}

/* Saves @next and adopts it as the model; on failure @next is freed and the
 * model stays as it was. */
static bool commit_model(Cell *cell, CellState *next, GError **error) {
        if (!state_journal_commit(cell->journal, cell->state, next, error)) {
                cell_state_free(next);
                return false;
        }
        model_check_adopt(cell->model_check, cell->state, next);
        cell_state_free(cell->state);
        cell->state = next;
        cell->generation++;
        return true;
}

/* The addresses of the peers that route through each link, in the order of
 * the peers: link name → "ADDR,ADDR,…", one pass over the peers. */
static void string_free(GString *s) {
        g_string_free(s, TRUE);
}

static GHashTable *exit_sources_by_link(const CellState *state) {
        GHashTable *sources = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) string_free);

        for (guint i = 0; i < state->peers->len; i++) {
                const Peer *peer = state->peers->pdata[i];
                GString *list;

                if (!peer->route_via[0])
                        continue;
                list = g_hash_table_lookup(sources, peer->route_via);
                if (!list) {
                        list = g_string_new(NULL);
                        g_hash_table_insert(sources, peer->route_via, list);
                }
                g_string_append_printf(list, "%u,", peer->address);
        }
        return sources;
}

static const char *exit_sources_of(GHashTable *sources, const char *link) {
        GString *list = g_hash_table_lookup(sources, link);

        return list ? list->str : "";
}

/* ExitRelayActive follows from the peers' RouteVia and the remote's offer;
 * it is derived here, once, for every change. */
static void derive_exit_relay(CellState *next) {
        g_autoptr(GHashTable) routed = g_hash_table_new(g_str_hash, g_str_equal);

        for (guint i = 0; i < next->peers->len; i++) {
                const Peer *peer = next->peers->pdata[i];
                if (peer->route_via[0])
                        g_hash_table_add(routed, peer->route_via);
        }
        for (guint i = 0; i < next->links->len; i++) {
                const Link *link = next->links->pdata[i];
                bool active = link->remote_exit_offered && g_hash_table_contains(routed, link->name);

                if (link->exit_relay_active != active)
                        cell_state_edit_link_at(next, i)->exit_relay_active = active;
        }
}

/* True when @item is, unchanged, at position @i of @array too (a copy of
 * the model shares what it did not change). */
static bool same_entry(const GPtrArray *array, guint i, const void *item) {
        return i < array->len && array->pdata[i] == item;
}

static void notify_derived_changes(Cell *cell, const CellState *before) {
        static const char *const link_changed[] = { "ExitRelayActive", NULL };
        static const char *const push_changed[] = { "PushState", NULL };
        static const char *const peer_changed[] = { "RouteViaActive", NULL };

        for (guint i = 0; i < cell->state->links->len; i++) {
                const Link *now = cell->state->links->pdata[i];
                const Link *was = same_entry(before->links, i, now) ? now : cell_state_find_link(before, now->name);

                if (was && was->exit_relay_active != now->exit_relay_active)
                        notify_link_changed(cell, now->name, link_changed);
                if (was && was->push_state != now->push_state)
                        notify_link_changed(cell, now->name, push_changed);
        }
        for (guint i = 0; i < cell->state->peers->len; i++) {
                const Peer *now = cell->state->peers->pdata[i];
                const Link *via_now = now->route_via[0] ? cell_state_find_link(cell->state, now->route_via) : NULL;
                const Link *via_was = now->route_via[0] ? cell_state_find_link(before, now->route_via) : NULL;
                bool active_now = via_now && via_now->exit_relay_active;
                bool active_was = via_was && via_was->exit_relay_active;

                if (active_now != active_was)
                        for (guint j = 0; j < cell->listeners->len; j++) {
                                ListenerEntry *e = &g_array_index(cell->listeners, ListenerEntry, j);
                                if (e->listener.peer_changed)
                                        e->listener.peer_changed(e->userdata, now->name, peer_changed);
                        }
        }
}

/* Link @name of @next, if paired and already there before, waits for a push. */
static void mark_pending(const CellState *before, CellState *next, const char *name) {
        const Link *now = cell_state_find_link(next, name);

        if (now && now->paired && now->push_state != PUSH_STATE_PENDING && cell_state_find_link(before, name))
                cell_state_edit_link(next, name)->push_state = PUSH_STATE_PENDING;
}

/* What a linked cell mirrors of us changed: the link is "pending" in the very
 * save that makes the change, so a crash before the push lands cannot lose it. */
static void mark_unpushed(const CellState *before, CellState *next) {
        g_autoptr(GHashTable) sources_now = NULL, sources_was = NULL;
        GHashTableIter iter;
        gpointer name;

        if (!before)
                return;
        for (guint i = 0; i < next->links->len; i++) {
                const Link *now = next->links->pdata[i];
                const Link *was;

                /* The same object: the change did not touch it. */
                if (same_entry(before->links, i, now))
                        continue;
                was = cell_state_find_link(before, now->name);
                if (!was || !now->paired || now->push_state == PUSH_STATE_PENDING)
                        continue;
                if (!same_permissions(was->inbound, now->inbound) || was->exit_offered != now->exit_offered ||
                    was->exit_relay_active != now->exit_relay_active)
                        cell_state_edit_link_at(next, i)->push_state = PUSH_STATE_PENDING;
        }
        /* The peers leaving through a link are part of what it mirrors:
         * only links that some peer routes through, then or now, can differ. */
        sources_now = exit_sources_by_link(next);
        sources_was = exit_sources_by_link(before);
        g_hash_table_iter_init(&iter, sources_now);
        while (g_hash_table_iter_next(&iter, &name, NULL))
                if (!g_str_equal(exit_sources_of(sources_now, name), exit_sources_of(sources_was, name)))
                        mark_pending(before, next, name);
        g_hash_table_iter_init(&iter, sources_was);
        while (g_hash_table_iter_next(&iter, &name, NULL))
                if (!g_hash_table_contains(sources_now, name))
                        mark_pending(before, next, name);
}

/* The same, then the kernel follows: for every change it could be affected by. */
static bool commit(Cell *cell, CellState *next, GError **error) {
        CellState *before;

        derive_exit_relay(next);
        mark_unpushed(cell->state, next);
        if (!state_journal_commit(cell->journal, cell->state, next, error)) {
                cell_state_free(next);
                return false;
        }
        model_check_adopt(cell->model_check, cell->state, next);
        before = cell->state;
        cell->state = next;
        cell->generation++;
        reconcile_now(cell, before);
        notify_derived_changes(cell, before);
        cell_state_free(before);
        return true;
}

char *cell_get_endpoint(const Cell *cell, GError **error) {
        const char *configured = cell->state->cell.endpoint;
        g_autofree char *host = NULL;

        if (configured && configured[0] && !g_str_equal(configured, "auto"))
                return g_strdup(configured);
        if (!g_str_equal(cell->config->endpoint, "auto"))
                return g_strdup(cell->config->endpoint);
        if (!endpoint_detect_host(&host, error))
                return NULL;
        return g_strdup_printf("%s:%u", host, cell->config->listen_port);
}

const Link *cell_find_link(const Cell *cell, const char *name, GError **error) {
        const Link *link = cell_state_find_link(cell->state, name);

        if (!link) {
                g_autofree char *quoted = text_quote(name, NAME_QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_NOT_FOUND,
                            _("This cell has no link to a cell named '%s'"), quoted);
        }
        return link;
}

const Peer *cell_find_peer(const Cell *cell, const char *name, GError **error) {
        const Peer *peer = cell_state_find_peer(cell->state, name);

        if (!peer) {
                g_autofree char *quoted = text_quote(name, NAME_QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_NOT_FOUND, _("This cell has no peer named '%s'"), quoted);
        }
        return peer;
}

const Service *cell_find_service(const Cell *cell, const char *name, GError **error) {
        const Service *service = cell_state_find_service(cell->state, name);

        if (!service) {
                g_autofree char *quoted = text_quote(name, NAME_QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_NOT_FOUND, _("This cell has no service named '%s'"), quoted);
        }
        return service;
}

/* --- first start --- */

static char *name_from_hostname(void) {
        char host[256] = "";
        GString *name = g_string_new(NULL);

        if (gethostname(host, sizeof(host) - 1) < 0)
                host[0] = '\0';
        for (const char *c = host; *c && *c != '.' && name->len < CELL_NAME_MAX; c++) {
                char ch = g_ascii_tolower(*c);
                if (g_ascii_isalnum(ch))
                        g_string_append_c(name, ch);
                else if (name->len > 0 && name->str[name->len - 1] != '-')
                        g_string_append_c(name, '-');
        }
        while (name->len > 0 && name->str[name->len - 1] == '-')
                g_string_truncate(name, name->len - 1);
        if (name->len == 0)
                g_string_assign(name, "cell");
        return g_string_free(name, FALSE);
}

/* A random 10.X.Y.1/24: not the 10.0.0.0/24 every other VPN picks first. */
static Ipv4Prefix random_cell_address(void) {
        uint32_t x, y;

        do {
                x = (uint32_t) g_random_int_range(0, 256);
                y = (uint32_t) g_random_int_range(0, 256);
        } while (x == 0 && y == 0);
        return (Ipv4Prefix) { .address = (10u << 24) | (x << 16) | (y << 8) | 1u, .prefixlen = 24 };
}

static bool fill_identity(Cell *cell, CellState *state, const WgKey *public_key, GError **error) {
        CellIdentity *id = &state->cell;
        g_autofree char *key = wg_key_to_base64(public_key);
        bool fresh = !id->name;

        if (!id->name)
                id->name = cell->config->first_name ? g_strdup(cell->config->first_name) : name_from_hostname();
        if (!id->domain)
                id->domain = cell->config->first_domain ? g_strdup(cell->config->first_domain)
                                                        : g_strdup_printf("%s.cell", id->name);
        if (fresh || id->address.prefixlen == 0) {
                if (cell->config->first_address) {
                        if (!netaddr_parse_prefix(cell->config->first_address, true, &id->address, error))
                                return false;
                } else
                        id->address = random_cell_address();
                if (cell->config->first_dns_address) {
                        if (!netaddr_parse_address(cell->config->first_dns_address, &id->dns_address, error))
                                return false;
                } else
                        id->dns_address = id->address.address;
        }
        if (!id->endpoint)
                id->endpoint = g_strdup("auto");
        if (!id->public_key || !g_str_equal(id->public_key, key)) {
                if (id->public_key)
                        g_warning("The public key in the state file does not match private.key; using the key of private.key");
                g_free(id->public_key);
                id->public_key = g_steal_pointer(&key);
        }
        if (fresh && state->services->len == 0)
                cell_state_add_default_services(state);
        return true;
}

Cell *cell_new(const DaemonConfig *config, const char *state_dir, const char *runtime_dir, GError **error) {
        g_autoptr(Cell) cell = g_new0(Cell, 1);
        g_autoptr(CellState) state = NULL;
        g_autoptr(GError) local = NULL;
        g_autofree char *before = NULL, *after = NULL;
        WgKey public_key;

        cell->config = config;
        cell->state_dir = g_strdup(state_dir);
        cell->runtime_dir = g_strdup(runtime_dir);
        cell->state_path = g_build_filename(state_dir, "state.json", NULL);
        cell->journal = state_journal_new(cell->state_path);
        cell->model_check = model_check_new();
        cell->key_path = g_build_filename(state_dir, "private.key", NULL);
        cell->listeners = g_array_new(FALSE, FALSE, sizeof(ListenerEntry));
        cell->status = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        cell->departing = g_ptr_array_new_with_free_func((GDestroyNotify) departure_free);

        if (g_mkdir_with_parents(state_dir, 0700) < 0) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            _("Failed to create the state directory '%s': %s"), state_dir, g_strerror(errno));
                return NULL;
        }
        if (!private_key_load_or_create(cell->key_path, &cell->private_key, &public_key, error))
                return NULL;

        state = state_journal_load(cell->journal, &local);
        if (!state) {
                if (!g_error_matches(local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
                        g_propagate_error(error, g_steal_pointer(&local));
                        return NULL;
                }
                state = cell_state_new();
        }

        before = cell_state_to_json(state);
        if (!fill_identity(cell, state, &public_key, error))
                return NULL;
        cell_state_expire_invites(state, g_get_real_time() / G_USEC_PER_SEC);
        after = cell_state_to_json(state);
        /* Write back what first start or a migration added, once. */
        if (!g_str_equal(before, after) || !g_file_test(cell->state_path, G_FILE_TEST_EXISTS)) {
                if (!state_journal_compact(cell->journal, state, error))
                        return NULL;
        } else if (state_journal_pending(cell->journal)) {
                g_autoptr(GError) compact_error = NULL;

                /* Start-up reads everything anyway: one file again, and the
                 * journal's whole allowance for what follows. */
                if (!state_journal_compact(cell->journal, state, &compact_error))
                        g_warning("%s", compact_error->message);
        }

        model_check_adopt(cell->model_check, NULL, state);
        cell->state = g_steal_pointer(&state);
        return g_steal_pointer(&cell);
}

void cell_free(Cell *cell) {
        if (!cell)
                return;
        if (cell->retry_id)
                g_source_remove(cell->retry_id);
        if (cell->poll_id)
                g_source_remove(cell->poll_id);
        if (cell->status)
                g_hash_table_destroy(cell->status);
        if (cell->departing)
                g_ptr_array_unref(cell->departing);
        wg_key_wipe(&cell->private_key);
        cell_state_free(cell->state);
        g_free(cell->state_dir);
        g_free(cell->runtime_dir);
        g_free(cell->state_path);
        state_journal_free(cell->journal);
        model_check_free(cell->model_check);
        g_free(cell->key_path);
        if (cell->listeners)
                g_array_unref(cell->listeners);
        g_free(cell);
}

/* --- Configure --- */

typedef struct {
        CellIdentity id;        /* the would-be identity; strings borrowed */
        Ipv4Prefix address;
        uint32_t dns_address;
} IdentityPlan;

static bool plan_settings(const Cell *cell, const CellSettings *s, IdentityPlan *plan, GError **error) {
        const CellIdentity *cur = &cell->state->cell;
        const CellState *state = cell->state;

        plan->id = *cur;
        plan->address = cur->address;
        plan->dns_address = cur->dns_address;

        if (s->has_name) {
                if (!names_validate_cell_name(s->name, error)) {
                        g_prefix_error(error, "Name: ");
                        return false;
                }
                for (guint i = 0; i < state->links->len; i++) {
                        const Link *l = state->links->pdata[i];
                        if (g_str_equal(l->name, s->name)) {
                                g_set_error(error, PIC_ERROR, PIC_ERROR_CONFLICT,
                                            _("Name: '%s' is the name of a linked cell; choose another name"), s->name);
                                return false;
                        }
                }
                plan->id.name = (char *) s->name;
        }
        if (s->has_domain) {
                if (!names_validate_domain(s->domain, error)) {
                        g_prefix_error(error, "Domain: ");
                        return false;
                }
                plan->id.domain = (char *) s->domain;
        }
        if (s->has_address) {
                Ipv4Prefix p;

                if (!netaddr_parse_prefix(s->address, true, &p, error)) {
                        g_prefix_error(error, "Address: ");
                        return false;
                }
                if (p.prefixlen < INVITE_MIN_PREFIXLEN || p.prefixlen > INVITE_MAX_PREFIXLEN) {
                        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                    _("Address: '%s' has a /%u prefix; use /%u to /%u"),
                                    s->address, p.prefixlen, INVITE_MIN_PREFIXLEN, INVITE_MAX_PREFIXLEN);
                        return false;
                }
                if (p.address == netaddr_network(&p) || p.address == netaddr_broadcast(&p)) {
                        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                    _("Address: '%s' is the network or broadcast address of its range; "
                                      "give the cell's own address, e.g. the .1 of the range"), s->address);
                        return false;
                }
                /* The DNS address follows the cell's address unless set apart. */
                if (cur->dns_address == cur->address.address)
                        plan->dns_address = p.address;
                plan->address = p;
        }
        if (s->has_dns_address) {
                if (!netaddr_parse_address(s->dns_address, &plan->dns_address, error)) {
                        g_prefix_error(error, "DnsAddress: ");
                        return false;
                }
        }
        if (!netaddr_contains(&plan->address, plan->dns_address) ||
            plan->dns_address == netaddr_network(&plan->address) ||
            plan->dns_address == netaddr_broadcast(&plan->address)) {
                g_autofree char *dns = netaddr_format_address(plan->dns_address);
                g_autofree char *range = netaddr_format_network(&plan->address);
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("DnsAddress: '%s' is not a host address of this cell's range %s"), dns, range);
                return false;
        }
        if (s->has_endpoint && !g_str_equal(s->endpoint, "auto")) {
                g_autofree char *host = NULL;
                uint16_t port;

                if (!netaddr_parse_endpoint(s->endpoint, &host, &port, error)) {
                        g_prefix_error(error, "Endpoint: ");
                        return false;
                }
        }
        if (s->has_endpoint)
                plan->id.endpoint = (char *) s->endpoint;

        if ((s->has_address || s->has_domain) &&
            !conflicts_check_identity(state, &plan->address, plan->id.domain, error))
                return false;

        if (s->has_address)
                for (guint i = 0; i < state->peers->len; i++) {
                        const Peer *peer = state->peers->pdata[i];
                        if (!netaddr_contains(&plan->address, peer->address) ||
                            peer->address == plan->address.address) {
                                g_autofree char *a = netaddr_format_address(peer->address);
                                g_set_error(error, PIC_ERROR, PIC_ERROR_CONFLICT,
                                            _("Address: peer %s has the address %s, which the new range '%s' "
                                              "does not leave to it; remove the peer first or pick a range "
                                              "that holds it"),
                                            peer->name, a, s->address);
                                return false;
                        }
                }
        return true;
}

static bool plan_changes(const Cell *cell, const IdentityPlan *plan, const char **changed, size_t *n) {
        const CellIdentity *cur = &cell->state->cell;

        *n = 0;
        if (g_strcmp0(plan->id.name, cur->name) != 0)
                changed[(*n)++] = "Name";
        if (g_strcmp0(plan->id.domain, cur->domain) != 0)
                changed[(*n)++] = "Domain";
        if (plan->address.address != cur->address.address || plan->address.prefixlen != cur->address.prefixlen) {
                changed[(*n)++] = "Address";
                changed[(*n)++] = "VpnSubnet";
        }
        if (plan->dns_address != cur->dns_address)
                changed[(*n)++] = "DnsAddress";
        if (g_strcmp0(plan->id.endpoint, cur->endpoint) != 0)
                changed[(*n)++] = "Endpoint";
        changed[*n] = NULL;
        return *n > 0;
}

bool cell_configure_check(const Cell *cell, const CellSettings *settings, bool *ret_changes, GError **error) {
        const char *changed[8];
        IdentityPlan plan;
        size_t n;

        if (!plan_settings(cell, settings, &plan, error))
                return false;
        *ret_changes = plan_changes(cell, &plan, changed, &n);
        return true;
}

bool cell_configure(Cell *cell, const CellSettings *settings, GError **error) {
        const char *changed[9];
        IdentityPlan plan;
        CellState *next;
        uint32_t old_address = cell->state->cell.address.address;
        bool services_moved = false;
        size_t n;

        if (!plan_settings(cell, settings, &plan, error))
                return false;
        if (!plan_changes(cell, &plan, changed, &n))
                return true;

        next = cell_state_copy(cell->state);
        g_free(next->cell.name);
        next->cell.name = g_strdup(plan.id.name);
        g_free(next->cell.domain);
        next->cell.domain = g_strdup(plan.id.domain);
        g_free(next->cell.endpoint);
        next->cell.endpoint = g_strdup(plan.id.endpoint);
        next->cell.address = plan.address;
        next->cell.dns_address = plan.dns_address;
        /* Services bound to the cell's own address move with it. */
        if (plan.address.address != old_address)
                for (guint i = 0; i < next->services->len; i++) {
                        Service *svc = next->services->pdata[i];
                        if (svc->address == old_address) {
                                svc->address = plan.address.address;
                                services_moved = true;
                        }
                }

        if (!commit(cell, next, error))
                return false;
        if (services_moved) {
                changed[n++] = "Services";
                changed[n] = NULL;
        }
        notify_cell_changed(cell, changed);
        return true;
}

/* --- services --- */

static bool validate_service(const Cell *cell, const char *name, const char *address,
                             const ServicePort *ports, size_t n_ports, uint32_t *ret_address, GError **error) {
        uint32_t addr = cell->state->cell.address.address;

        if (!names_validate_service_name(name, error)) {
                g_prefix_error(error, "name: ");
                return false;
        }
        if (address[0] && !netaddr_parse_address(address, &addr, error)) {
                g_prefix_error(error, "address: ");
                return false;
        }
        if (n_ports == 0) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("ports: service '%s' needs at least one port, e.g. [(\"tcp\", 445)]"), name);
                return false;
        }
        if (n_ports > CELL_STATE_MAX_PORTS) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                            _("ports: %zu ports given for service '%s'; at most %d are allowed"),
                            n_ports, name, CELL_STATE_MAX_PORTS);
                return false;
        }
        for (size_t i = 0; i < n_ports; i++) {
                if (!g_str_equal(ports[i].protocol, "tcp") && !g_str_equal(ports[i].protocol, "udp")) {
                        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                    _("ports[%zu]: protocol '%s' is neither 'tcp' nor 'udp'"), i, ports[i].protocol);
                        return false;
                }
                if (ports[i].port == 0) {
                        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                    _("ports[%zu]: port 0 is not a port; use 1-65535"), i);
                        return false;
                }
                for (size_t j = 0; j < i; j++)
                        if (ports[j].port == ports[i].port && g_str_equal(ports[j].protocol, ports[i].protocol)) {
                                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                            _("ports[%zu]: %s %u is listed twice"),
                                            i, ports[i].protocol, ports[i].port);
                                return false;
                        }
        }
        if (!cell_state_find_service(cell->state, name) && cell->state->services->len >= CELL_STATE_MAX_SERVICES) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                            _("This cell already offers %d services, the most it can; remove one first"),
                            CELL_STATE_MAX_SERVICES);
                return false;
        }
        *ret_address = addr;
        return true;
}

bool cell_set_service_check(const Cell *cell, const char *name, const char *address,
                            const ServicePort *ports, size_t n_ports, GError **error) {
        uint32_t addr;

        return validate_service(cell, name, address, ports, n_ports, &addr, error);
}

bool cell_set_service(Cell *cell, const char *name, const char *address,
                      const ServicePort *ports, size_t n_ports, GError **error) {
        static const char *const changed[] = { "Services", NULL };
        static const char *const link_changed[] = { "Inbound", NULL };
        CellState *next;
        Service *svc;
        uint32_t addr;
        bool added;

        if (!validate_service(cell, name, address, ports, n_ports, &addr, error))
                return false;

        next = cell_state_copy(cell->state);
        svc = cell_state_find_service(next, name);
        added = !svc;
        if (!svc) {
                svc = service_new(name, addr);
                g_ptr_array_add(next->services, svc);
        }
        svc->address = addr;
        g_array_set_size(svc->ports, 0);
        g_array_append_vals(svc->ports, ports, (guint) n_ports);

        if (!commit(cell, next, error))
                return false;
        notify_cell_changed(cell, changed);
        /* Every link's grid gains a row (not shared). */
        if (added)
                for (guint i = 0; i < cell->state->links->len; i++)
                        notify_link_changed(cell, ((const Link *) cell->state->links->pdata[i])->name, link_changed);
        return true;
}

bool cell_remove_service(Cell *cell, const char *name, GError **error) {
        static const char *const changed[] = { "Services", NULL };
        static const char *const link_changed[] = { "Inbound", NULL };
        g_autoptr(GPtrArray) touched = g_ptr_array_new_with_free_func(g_free);
        CellState *next;

        if (!cell_find_service(cell, name, error))
                return false;

        next = cell_state_copy(cell->state);
        for (guint i = 0; i < next->services->len; i++) {
                Service *svc = next->services->pdata[i];
                if (g_str_equal(svc->name, name)) {
                        g_ptr_array_remove_index(next->services, i);
                        break;
                }
        }
        /* Withdrawn everywhere: no link keeps a permission for it. */
        for (guint i = 0; i < next->links->len; i++) {
                const Link *l = next->links->pdata[i];
                if (g_hash_table_contains(l->inbound, name)) {
                        g_hash_table_remove(cell_state_edit_link_at(next, i)->inbound, name);
                        g_ptr_array_add(touched, g_strdup(l->name));
                }
        }

        if (!commit(cell, next, error))
                return false;
        notify_cell_changed(cell, changed);
        for (guint i = 0; i < touched->len; i++)
                notify_link_changed(cell, touched->pdata[i], link_changed);
        return true;
}

/* --- invites --- */

static guint outstanding_invites(const CellState *state, int64_t now) {
        guint n = 0;

        for (guint i = 0; i < state->invites->len; i++) {
                const IssuedInvite *inv = state->invites->pdata[i];
                if (!inv->used_by && inv->expires > now)
                        n++;
        }
        return n;
}

bool cell_create_invite_check(const Cell *cell, uint32_t ttl, GError **error) {
        int64_t now = g_get_real_time() / G_USEC_PER_SEC;

        if (ttl < CELL_INVITE_MIN_TTL || ttl > CELL_INVITE_MAX_TTL) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("ttl: %u seconds is out of range; use %u to %u (7 days)"),
                            ttl, CELL_INVITE_MIN_TTL, CELL_INVITE_MAX_TTL);
                return false;
        }
        if (outstanding_invites(cell->state, now) >= CELL_STATE_MAX_INVITES) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                            _("There are already %d unused invites; wait for one to be used or to expire"),
                            CELL_STATE_MAX_INVITES);
                return false;
        }
        return true;
}

char *cell_create_invite(Cell *cell, uint32_t ttl, GError **error) {
        int64_t now = g_get_real_time() / G_USEC_PER_SEC;
        g_autoptr(Invite) invite = NULL;
        IssuedInvite *issued;
        CellState *next;

        if (!cell_create_invite_check(cell, ttl, error))
                return NULL;
        invite = cell_build_invite(cell, error);
        if (!invite)
                return NULL;
        if (!pairing_token_generate(now, ttl, &invite->pairing, error))
                return NULL;
        invite->has_pairing = true;

        next = cell_state_copy(cell->state);
        cell_state_expire_invites(next, now);
        issued = issued_invite_new();
        issued->id = g_strdup(invite->pairing.id);
        issued->secret = g_strdup(invite->pairing.secret);
        issued->expires = invite->pairing.expires;
        issued->created_at = now;
        g_ptr_array_add(next->invites, issued);
        if (!commit(cell, next, error))
                return NULL;

        return invite_to_compact(invite);
}

/* --- status --- */

static TunnelStatus status_for_key(const Cell *cell, const char *public_key) {
        const TunnelStatus *st = public_key ? g_hash_table_lookup(cell->status, public_key) : NULL;

        return st ? *st : (TunnelStatus) { 0 };
}

TunnelStatus cell_get_key_status(const Cell *cell, const char *public_key) {
        return status_for_key(cell, public_key);
}

TunnelStatus cell_get_link_status(const Cell *cell, const char *name) {
        const Link *link = cell_state_find_link(cell->state, name);

        return status_for_key(cell, link ? link->public_key : NULL);
}

TunnelStatus cell_get_peer_status(const Cell *cell, const char *name) {
        const Peer *peer = cell_state_find_peer(cell->state, name);

        return status_for_key(cell, peer ? peer->public_key : NULL);
}

/* Compares @now with the stored status of @key, stores it, and fills
 * @changed with the properties that differ. */
static size_t update_status(Cell *cell, const char *key, const TunnelStatus *now, const char **changed) {
        TunnelStatus *st = g_hash_table_lookup(cell->status, key);
        size_t n = 0;

        if (!st) {
                st = g_new0(TunnelStatus, 1);
                g_hash_table_insert(cell->status, g_strdup(key), st);
        }
        if (st->last_handshake != now->last_handshake)
                changed[n++] = "LatestHandshake";
        if (st->rx_bytes != now->rx_bytes)
                changed[n++] = "RxBytes";
        if (st->tx_bytes != now->tx_bytes)
                changed[n++] = "TxBytes";
        if (st->connected != now->connected)
                changed[n++] = "Connected";
        changed[n] = NULL;
        *st = *now;
        return n;
}

static TunnelStatus status_from_peer(const WgPeer *peer, int64_t now) {
        TunnelStatus st = { 0 };

        if (peer) {
                st.last_handshake = peer->last_handshake;
                st.rx_bytes = peer->rx_bytes;
                st.tx_bytes = peer->tx_bytes;
                st.connected = peer->last_handshake > 0 && now - peer->last_handshake <= CELL_CONNECTED_WINDOW;
        }
        return st;
}

/* RouteViaActive of the peers leaving through @link follows its Connected. */
static void notify_route_via_peers(Cell *cell, const char *link) {
        static const char *const changed[] = { "RouteViaActive", NULL };

        for (guint i = 0; i < cell->state->peers->len; i++) {
                const Peer *peer = cell->state->peers->pdata[i];
                if (!g_str_equal(peer->route_via, link))
                        continue;
                for (guint j = 0; j < cell->listeners->len; j++) {
                        ListenerEntry *e = &g_array_index(cell->listeners, ListenerEntry, j);
                        if (e->listener.peer_changed)
                                e->listener.peer_changed(e->userdata, peer->name, changed);
                }
        }
}

static void poll_status(Cell *cell) {
        g_autoptr(WgDevice) device = NULL;
        g_autoptr(GError) error = NULL;
        int64_t now = g_get_real_time() / G_USEC_PER_SEC;
        const char *changed[5];

        if (!reconciler_dump(cell->reconciler, &device, &error)) {
                g_debug("Failed to read the WireGuard status: %s", error->message);
                return;
        }
        /* One dump serves every link and peer. */
        for (guint i = 0; i < cell->state->links->len; i++) {
                const Link *link = cell->state->links->pdata[i];
                TunnelStatus st;
                WgKey key;

                if (!wg_key_from_base64(link->public_key, &key, NULL))
                        continue;
                st = status_from_peer(wg_device_find_peer(device, &key), now);
                if (update_status(cell, link->public_key, &st, changed) > 0) {
                        notify_link_changed(cell, link->name, changed);
                        if (g_strv_contains(changed, "Connected"))
                                notify_route_via_peers(cell, link->name);
                }
        }
        for (guint i = 0; i < cell->state->peers->len; i++) {
                const Peer *peer = cell->state->peers->pdata[i];
                TunnelStatus st;
                WgKey key;

                if (!wg_key_from_base64(peer->public_key, &key, NULL))
                        continue;
                st = status_from_peer(wg_device_find_peer(device, &key), now);
                if (update_status(cell, peer->public_key, &st, changed) > 0)
                        for (guint j = 0; j < cell->listeners->len; j++) {
                                ListenerEntry *e = &g_array_index(cell->listeners, ListenerEntry, j);
                                if (e->listener.peer_changed)
                                        e->listener.peer_changed(e->userdata, peer->name, changed);
                        }
        }
}

static gboolean on_poll(gpointer userdata) {
        poll_status(userdata);
        return G_SOURCE_CONTINUE;
}

static void on_device_lost(void *userdata) {
        Cell *cell = userdata;

        g_message("The WireGuard device was restarted; configuring it again");
        reconcile_now(cell, NULL);
}

void cell_start(Cell *cell, Reconciler *reconciler) {
        cell->reconciler = reconciler;
        reconciler_set_lost_callback(reconciler, on_device_lost, cell);
        reconcile_now(cell, NULL);
        poll_status(cell);
        cell->poll_id = g_timeout_add(CELL_STATUS_INTERVAL_MS, on_poll, cell);
}

/* --- links --- */

static Invite *parse_importable(const Cell *cell, const char *text, GError **error) {
        g_autoptr(Invite) invite = invite_parse(text, error);

        if (!invite)
                return NULL;
        if (invite->has_pairing && invite->pairing.expires <= g_get_real_time() / G_USEC_PER_SEC) {
                g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(invite->pairing.expires);
                g_autofree char *expiry = when ? g_date_time_format(when, "%Y-%m-%d %H:%M UTC") : NULL;
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_INVITE,
                            _("pairing.expires: the invite of %s expired at %s; ask %s for a new invite"),
                            invite->cell_name, expiry ?: _("an unknown time"), invite->cell_name);
                return NULL;
        }
        if (cell->state->links->len >= CELL_STATE_MAX_LINKS) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                            _("This cell already has %d links, the most it can; remove one first"),
                            CELL_STATE_MAX_LINKS);
                return NULL;
        }
        if (!conflicts_check_invite(cell->state, invite, NULL, error))
                return NULL;
        return g_steal_pointer(&invite);
}

bool cell_import_invite_check(const Cell *cell, const char *text, GError **error) {
        g_autoptr(Invite) invite = parse_importable(cell, text, error);

        return invite != NULL;
}

char *cell_import_invite(Cell *cell, const char *text, GError **error) {
        g_autoptr(Invite) invite = parse_importable(cell, text, error);
        CellState *next;

        if (!invite)
                return NULL;
        next = cell_state_copy(cell->state);
        g_ptr_array_add(next->links, link_new_from_invite(invite, g_get_real_time() / G_USEC_PER_SEC));
        if (!commit(cell, next, error))
                return NULL;
        notify_link_added(cell, invite->cell_name);
        return g_strdup(invite->cell_name);
}

static Link *steal_link(CellState *state, const char *name) {
        for (guint i = 0; i < state->links->len; i++) {
                Link *link = state->links->pdata[i];
                if (g_str_equal(link->name, name))
                        return g_ptr_array_steal_index(state->links, i);
        }
        return NULL;
}

static gboolean on_departure_timeout(gpointer userdata) {
        Departure *d = userdata;
        Cell *cell = d->cell;

        d->timer = 0;
        g_debug("Link %s: the farewell to the remote took too long; closing its tunnel", d->link->name);
        g_ptr_array_remove(cell->departing, d);
        reconcile_now(cell, NULL);
        return G_SOURCE_REMOVE;
}

#define REMOTE_UNLINK_GRACE_MS 2000 /* time to deliver our answer to the remote's unlink */

/* Removes @name from the model. Its tunnel stays for a while: for the
 * farewell to the remote (@tell_remote), or for our answer to the remote's
 * own unlink, which travels through that tunnel. */
static bool remove_link(Cell *cell, const char *name, bool tell_remote, GError **error) {
        g_autofree char *key = NULL;
        CellState *next;
        Link *link;

        if (!cell_find_link(cell, name, error))
                return false;
        next = cell_state_copy(cell->state);
        link = steal_link(next, name);
        key = g_strdup(link->public_key);
        {
                Departure *d = g_new0(Departure, 1);

                /* Replaces an older departure of the same cell, if any. */
                cell_departure_done(cell, name);
                d->cell = cell;
                d->link = link;
                d->tell_remote = tell_remote;
                d->timer = g_timeout_add(tell_remote ? CELL_DEPARTURE_GRACE_MS : REMOTE_UNLINK_GRACE_MS,
                                         on_departure_timeout, d);
                g_ptr_array_add(cell->departing, d);
        }
        if (!commit(cell, next, error)) {
                cell_departure_done(cell, name);
                return false;
        }
        g_hash_table_remove(cell->status, key);
        notify_link_removed(cell, name);
        return true;
}

bool cell_remove_link(Cell *cell, const char *name, GError **error) {
        return remove_link(cell, name, true, error);
}

bool cell_apply_remote_unlink(Cell *cell, const char *name, GError **error) {
        return remove_link(cell, name, false, error);
}

const Link *cell_get_departing(const Cell *cell, const char *name) {
        for (guint i = 0; i < cell->departing->len; i++) {
                Departure *d = cell->departing->pdata[i];
                if (d->tell_remote && g_str_equal(d->link->name, name))
                        return d->link;
        }
        return NULL;
}

void cell_departure_done(Cell *cell, const char *name) {
        for (guint i = 0; i < cell->departing->len; i++) {
                Departure *d = cell->departing->pdata[i];
                if (g_str_equal(d->link->name, name)) {
                        g_ptr_array_remove_index(cell->departing, i);
                        reconcile_now(cell, NULL);
                        return;
                }
        }
}

/* --- pairing and sync --- */

Invite *cell_build_invite(const Cell *cell, GError **error) {
        const CellIdentity *id = &cell->state->cell;
        g_autoptr(Invite) invite = invite_new();
        g_autofree char *endpoint = cell_get_endpoint(cell, error);

        if (!endpoint)
                return NULL;
        invite->cell_name = g_strdup(id->name);
        invite->public_key = g_strdup(id->public_key);
        if (!netaddr_parse_endpoint(endpoint, &invite->endpoint_host, &invite->endpoint_port, error))
                return NULL;
        invite->endpoint = g_steal_pointer(&endpoint);
        invite->vpn_subnet = netaddr_canonical(&id->address);
        invite->dns_ip = id->dns_address;
        invite->domain = g_strdup(id->domain);
        invite->tunnel_address = id->address.address;
        invite->sync_port = cell->config->sync_port;
        return g_steal_pointer(&invite);
}

bool cell_accept_paired_invite(Cell *cell, const char *pairing_id, const Invite *invite,
                               CellPairResult *ret_result, GError **error) {
        int64_t now = g_get_real_time() / G_USEC_PER_SEC;
        const IssuedInvite *issued = cell_state_find_invite(cell->state, pairing_id);
        CellState *next;
        Link *link;

        if (!issued || (!issued->used_by && issued->expires <= now)) {
                g_set_error_literal(error, PIC_ERROR, PIC_ERROR_NOT_AUTHORIZED,
                                    _("unknown or expired pairing id; ask for a new invite"));
                return false;
        }
        if (issued->used_by) {
                if (!g_str_equal(issued->used_by, invite->public_key)) {
                        g_set_error_literal(error, PIC_ERROR, PIC_ERROR_NOT_AUTHORIZED,
                                            _("this invite has already been used by another cell; "
                                              "ask for a new invite"));
                        return false;
                }
                *ret_result = CELL_PAIR_ALREADY_LINKED;
                return true;
        }
        if (cell->state->links->len >= CELL_STATE_MAX_LINKS) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                            _("%s already has %d links, the most it can"),
                            cell->state->cell.name, CELL_STATE_MAX_LINKS);
                return false;
        }
        if (!conflicts_check_invite(cell->state, invite, NULL, error))
                return false;

        next = cell_state_copy(cell->state);
        link = link_new_from_invite(invite, now);
        /* Their invite to us carries no pairing: we are the side that issued one. */
        g_clear_pointer(&link->pairing_id, g_free);
        g_clear_pointer(&link->pairing_secret, g_free);
        link->pairing_expires = 0;
        link->paired = true;
        g_ptr_array_add(next->links, link);
        for (guint i = 0; i < next->invites->len; i++) {
                IssuedInvite *inv = next->invites->pdata[i];
                if (g_str_equal(inv->id, pairing_id)) {
                        g_free(inv->used_by);
                        inv->used_by = g_strdup(invite->public_key);
                }
        }
        if (!commit(cell, next, error))
                return false;
        notify_link_added(cell, invite->cell_name);
        *ret_result = CELL_PAIR_LINKED;
        return true;
}

bool cell_confirm_link(Cell *cell, const char *name, GError **error) {
        static const char *const changed[] = { "Paired", "PushState", "LastPushAt", "LastPushError", NULL };
        CellState *next;
        Link *link;

        if (!cell_find_link(cell, name, error))
                return false;
        next = cell_state_copy(cell->state);
        link = cell_state_edit_link(next, name);
        link->paired = true;
        if (link->pairing_secret)
                memset(link->pairing_secret, 0, strlen(link->pairing_secret));
        g_clear_pointer(&link->pairing_secret, g_free);
        g_clear_pointer(&link->pairing_id, g_free);
        link->pairing_expires = 0;
        link->push_state = PUSH_STATE_OK;
        link->last_push_at = g_get_real_time() / G_USEC_PER_SEC;
        g_clear_pointer(&link->last_push_error, g_free);
        if (!commit_model(cell, next, error))
                return false;
        notify_link_changed(cell, name, changed);
        return true;
}

void cell_record_push(Cell *cell, const char *name, PushState state, const char *error_message) {
        static const char *const changed[] = { "PushState", "LastPushAt", "LastPushError", NULL };
        g_autoptr(GError) error = NULL;
        const Link *current = cell_state_find_link(cell->state, name);
        CellState *next;
        Link *link;

        if (!current)
                return;
        next = cell_state_copy(cell->state);
        link = cell_state_edit_link(next, name);
        link->push_state = state;
        link->last_push_at = g_get_real_time() / G_USEC_PER_SEC;
        g_free(link->last_push_error);
        link->last_push_error = error_message && error_message[0] ? g_strdup(error_message) : NULL;
        if (!commit_model(cell, next, &error)) {
                log_link_error(G_LOG_LEVEL_WARNING, name, error->message, "Link %s: failed to keep the push result: %s",
                               name, error->message);
                return;
        }
        notify_link_changed(cell, name, changed);
}

bool cell_apply_remote_update(Cell *cell, const char *name, const Invite *invite, GError **error) {
        static const char *const changed[] = { "Domain", "VpnSubnet", "TunnelAddress", "DnsAddress", "Endpoint",
                                               "LastRemoteUpdateAt", NULL };
        CellState *next;
        Link *link;

        if (!cell_find_link(cell, name, error))
                return false;
        if (!g_str_equal(invite->cell_name, name)) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_CONFLICT,
                            _("%s cannot rename itself to '%s' through an update; remove and link it again"),
                            name, invite->cell_name);
                return false;
        }
        if (!conflicts_check_invite(cell->state, invite, name, error))
                return false;

        next = cell_state_copy(cell->state);
        link = cell_state_edit_link(next, name);
        g_free(link->domain);
        link->domain = g_strdup(invite->domain);
        g_free(link->endpoint);
        link->endpoint = g_strdup(invite->endpoint);
        link->vpn_subnet = invite->vpn_subnet;
        link->dns_ip = invite->dns_ip;
        link->tunnel_address = invite->tunnel_address;
        link->sync_port = invite->sync_port;
        link->last_remote_update_at = g_get_real_time() / G_USEC_PER_SEC;
        if (!commit(cell, next, error))
                return false;
        notify_link_changed(cell, name, changed);
        return true;
}

/* --- permissions --- */

static bool validate_permissions(const Cell *cell, const char *name, GHashTable *inbound, bool *ret_changes,
                                 GError **error) {
        const Link *link = cell_find_link(cell, name, error);
        GHashTableIter iter;
        gpointer key, value;
        bool changes = false;

        if (!link)
                return false;
        g_hash_table_iter_init(&iter, inbound);
        while (g_hash_table_iter_next(&iter, &key, &value)) {
                bool now = GPOINTER_TO_INT(g_hash_table_lookup(link->inbound, key));

                if (!cell_state_find_service(cell->state, key)) {
                        g_autofree char *quoted = text_quote((const char *) key, NAME_QUOTE_MAX);
                        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                    _("inbound: this cell has no service named '%s'; add it with SetService first"),
                                    quoted);
                        return false;
                }
                if (now != (GPOINTER_TO_INT(value) != 0))
                        changes = true;
        }
        *ret_changes = changes;
        return true;
}

bool cell_set_permissions_check(const Cell *cell, const char *name, GHashTable *inbound, bool *ret_changes,
                                GError **error) {
        return validate_permissions(cell, name, inbound, ret_changes, error);
}

bool cell_set_permissions(Cell *cell, const char *name, GHashTable *inbound, GError **error) {
        static const char *const changed[] = { "Inbound", NULL };
        GHashTableIter iter;
        gpointer key, value;
        CellState *next;
        Link *link;
        bool changes;

        if (!validate_permissions(cell, name, inbound, &changes, error))
                return false;
        if (!changes)
                return true;
        next = cell_state_copy(cell->state);
        link = cell_state_edit_link(next, name);
        g_hash_table_iter_init(&iter, inbound);
        while (g_hash_table_iter_next(&iter, &key, &value))
                g_hash_table_replace(link->inbound, g_strdup(key), GINT_TO_POINTER(GPOINTER_TO_INT(value) != 0));
        if (!commit(cell, next, error))
                return false;
        notify_link_changed(cell, name, changed);
        return true;
}

bool cell_set_exit_offered(Cell *cell, const char *name, bool offered, GError **error) {
        static const char *const changed[] = { "ExitOffered", NULL };
        const Link *current = cell_find_link(cell, name, error);
        CellState *next;

        if (!current)
                return false;
        if (current->exit_offered == offered)
                return true;
        next = cell_state_copy(cell->state);
        cell_state_edit_link(next, name)->exit_offered = offered;
        if (!commit(cell, next, error))
                return false;
        notify_link_changed(cell, name, changed);
        return true;
}

static bool same_permissions(GHashTable *a, GHashTable *b) {
        GHashTableIter iter;
        gpointer key, value;

        if (g_hash_table_size(a) != g_hash_table_size(b))
                return false;
        g_hash_table_iter_init(&iter, a);
        while (g_hash_table_iter_next(&iter, &key, &value)) {
                gpointer other;
                if (!g_hash_table_lookup_extended(b, key, NULL, &other) ||
                    (GPOINTER_TO_INT(value) != 0) != (GPOINTER_TO_INT(other) != 0))
                        return false;
        }
        return true;
}

static bool same_strings(const GPtrArray *a, const GPtrArray *b) {
        if (a->len != b->len)
                return false;
        for (guint i = 0; i < a->len; i++)
                if (g_strcmp0(a->pdata[i], b->pdata[i]) != 0)
                        return false;
        return true;
}

bool cell_apply_remote_permissions(Cell *cell, const char *name, const RemotePermissions *remote, bool *ret_stale,
                                   GError **error) {
        const char *changed[6];
        const Link *current = cell_find_link(cell, name, error);
        CellState *next;
        Link *link;
        size_t n = 0;

        if (!current)
                return false;
        if (remote->seq <= current->remote_seq) {
                *ret_stale = true;
                return true;
        }
        for (guint i = 0; i < remote->exit_sources->len; i++) {
                Ipv4Prefix p;
                if (!netaddr_parse_prefix(remote->exit_sources->pdata[i], false, &p, error)) {
                        g_prefix_error(error, "exit_sources[%u]: ", i);
                        return false;
                }
                if (!netaddr_prefix_contains(&current->vpn_subnet, &p)) {
                        g_autofree char *subnet = netaddr_format_network(&current->vpn_subnet);
                        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                    _("exit_sources[%u]: '%s' lies outside %s's subnet %s"), i,
                                    (const char *) remote->exit_sources->pdata[i], name, subnet);
                        return false;
                }
        }
        *ret_stale = false;

        if (!same_permissions(current->outbound, remote->inbound))
                changed[n++] = "Outbound";
        if (current->remote_exit_offered != remote->exit_offered)
                changed[n++] = "RemoteExitOffered";
        if (current->remote_exit_relay_active != remote->use_as_exit_relay)
                changed[n++] = "RemoteExitRelayActive";
        changed[n++] = "LastRemoteUpdateAt";
        changed[n] = NULL;

        next = cell_state_copy(cell->state);
        link = cell_state_edit_link(next, name);
        g_hash_table_remove_all(link->outbound);
        {
                GHashTableIter iter;
                gpointer key, value;
                g_hash_table_iter_init(&iter, remote->inbound);
                while (g_hash_table_iter_next(&iter, &key, &value))
                        g_hash_table_replace(link->outbound, g_strdup(key),
                                             GINT_TO_POINTER(GPOINTER_TO_INT(value) != 0));
        }
        link->remote_exit_offered = remote->exit_offered;
        link->remote_exit_relay_active = remote->use_as_exit_relay;
        if (!same_strings(link->remote_exit_sources, remote->exit_sources)) {
                g_ptr_array_set_size(link->remote_exit_sources, 0);
                for (guint i = 0; i < remote->exit_sources->len; i++)
                        g_ptr_array_add(link->remote_exit_sources, g_strdup(remote->exit_sources->pdata[i]));
        }
        link->remote_seq = remote->seq;
        link->last_remote_update_at = g_get_real_time() / G_USEC_PER_SEC;
        if (!commit(cell, next, error))
                return false;
        notify_link_changed(cell, name, changed);
        return true;
}

uint64_t cell_next_push_seq(const Cell *cell, const char *name) {
        const Link *link = cell_state_find_link(cell->state, name);
        uint64_t clock_ms = (uint64_t) (g_get_real_time() / 1000);
        uint64_t last = link ? link->push_seq : 0;

        /* The clock keeps seq rising across restarts even before push_seq was saved. */
        return MAX(last + 1, clock_ms);
}

void cell_record_push_seq(Cell *cell, const char *name, uint64_t seq) {
        g_autoptr(GError) error = NULL;
        const Link *current = cell_state_find_link(cell->state, name);
        CellState *next;

        if (!current || current->push_seq >= seq)
                return;
        next = cell_state_copy(cell->state);
        cell_state_edit_link(next, name)->push_seq = seq;
        if (!commit_model(cell, next, &error))
                log_link_error(G_LOG_LEVEL_WARNING, name, error->message,
                               "Link %s: failed to keep the push sequence: %s", name, error->message);
}

/* --- road-warrior peers --- */

static void notify_peer(Cell *cell, const char *name, int what /* 1 added, -1 removed, 0 changed */,
                        const char *const *properties) {
        for (guint i = 0; i < cell->listeners->len; i++) {
                ListenerEntry *e = &g_array_index(cell->listeners, ListenerEntry, i);
                if (what > 0 && e->listener.peer_added)
                        e->listener.peer_added(e->userdata, name);
                else if (what < 0 && e->listener.peer_removed)
                        e->listener.peer_removed(e->userdata, name);
                else if (what == 0 && e->listener.peer_changed)
                        e->listener.peer_changed(e->userdata, name, properties);
        }
}

static bool key_in_use(const CellState *state, const char *key) {
        if (g_strcmp0(state->cell.public_key, key) == 0 || cell_state_find_link_by_key(state, key))
                return true;
        for (guint i = 0; i < state->peers->len; i++) {
                const Peer *peer = state->peers->pdata[i];
                if (g_str_equal(peer->public_key, key))
                        return true;
        }
        return false;
}

static bool validate_peer(const Cell *cell, const char *name, const PeerOptions *options, GError **error) {
        if (!names_validate_peer_name(name, error)) {
                g_prefix_error(error, "name: ");
                return false;
        }
        if (cell_state_find_peer(cell->state, name)) {
                g_autofree char *quoted = text_quote(name, NAME_QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_CONFLICT,
                            _("This cell already has a peer named '%s'; choose another name or remove it first"), quoted);
                return false;
        }
        if (cell->state->peers->len >= CELL_STATE_MAX_PEERS) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                            _("This cell already has %d peers, the most it can; remove one first"),
                            CELL_STATE_MAX_PEERS);
                return false;
        }
        if (options->public_key) {
                WgKey key;

                if (!wg_key_from_base64(options->public_key, &key, error)) {
                        g_prefix_error(error, "public_key: ");
                        return false;
                }
                if (key_in_use(cell->state, options->public_key)) {
                        g_set_error(error, PIC_ERROR, PIC_ERROR_CONFLICT,
                                    _("public_key: this key is already used by this cell, a linked cell "
                                      "or another peer"));
                        return false;
                }
        }
        return true;
}

bool cell_add_peer_check(const Cell *cell, const char *name, const PeerOptions *options, GError **error) {
        return validate_peer(cell, name, options, error);
}

static uint32_t *taken_addresses(const CellState *state, size_t *ret_n) {
        uint32_t *taken = g_new(uint32_t, state->peers->len + 1);
        size_t n = 0;

        taken[n++] = state->cell.dns_address;
        for (guint i = 0; i < state->peers->len; i++)
                taken[n++] = ((const Peer *) state->peers->pdata[i])->address;
        *ret_n = n;
        return taken;
}

static char *peer_config(const Cell *cell, const Peer *peer, const char *private_key, const char *endpoint) {
        const CellState *state = cell->state;
        g_autofree char *address = netaddr_format_address(peer->address);
        g_autofree char *dns = netaddr_format_address(state->cell.dns_address);
        GString *allowed = g_string_new(NULL);
        GString *text = g_string_new("[Interface]\n");

        if (private_key)
                g_string_append_printf(text, "PrivateKey = %s\n", private_key);
        g_string_append_printf(text, "Address = %s/32\nDNS = %s\n\n[Peer]\nPublicKey = %s\nEndpoint = %s\n",
                               address, dns, state->cell.public_key, endpoint);
        if (peer->full_tunnel)
                g_string_append(allowed, "0.0.0.0/0");
        else {
                g_autofree char *own = netaddr_format_network(&state->cell.address);
                g_string_append(allowed, own);
                for (guint i = 0; i < state->links->len; i++) {
                        const Link *link = state->links->pdata[i];
                        g_autofree char *subnet = netaddr_format_network(&link->vpn_subnet);
                        g_string_append_printf(allowed, ", %s", subnet);
                }
        }
        g_string_append_printf(text, "AllowedIPs = %s\nPersistentKeepalive = %d\n", allowed->str, RECONCILE_KEEPALIVE);
        g_string_free(allowed, TRUE);
        return g_string_free(text, FALSE);
}

bool cell_add_peer(Cell *cell, const char *name, const PeerOptions *options, char **ret_config, GError **error) {
        g_autofree uint32_t *taken = NULL;
        g_autofree char *endpoint = NULL, *private_b64 = NULL, *config = NULL;
        CellState *next;
        Peer *peer;
        uint32_t address;
        size_t n_taken;

        if (!validate_peer(cell, name, options, error))
                return false;
        endpoint = cell_get_endpoint(cell, error);
        if (!endpoint)
                return false;
        taken = taken_addresses(cell->state, &n_taken);
        if (!netaddr_allocate(&cell->state->cell.address, taken, n_taken, &address, error))
                return false;

        peer = peer_new();
        peer->name = g_strdup(name);
        peer->address = address;
        peer->full_tunnel = options->full_tunnel;
        peer->created_at = g_get_real_time() / G_USEC_PER_SEC;
        if (options->public_key)
                peer->public_key = g_strdup(options->public_key);
        else {
                WgKey private_key, public_key;

                if (!wg_key_generate(&private_key, &public_key, error)) {
                        peer_unref(peer);
                        return false;
                }
                /* The private half goes into the config only; it is never stored. */
                private_b64 = wg_key_to_base64(&private_key);
                wg_key_wipe(&private_key);
                peer->public_key = wg_key_to_base64(&public_key);
        }
        config = peer_config(cell, peer, private_b64, endpoint);
        if (private_b64)
                memset(private_b64, 0, strlen(private_b64));

        next = cell_state_copy(cell->state);
        g_ptr_array_add(next->peers, peer);
        if (!commit(cell, next, error)) {
                memset(config, 0, strlen(config));
                return false;
        }
        {
                g_autofree char *text = netaddr_format_address(cell_state_find_peer(cell->state, name)->address);
                log_peer(G_LOG_LEVEL_MESSAGE, name, "Peer %s added at %s", name, text);
        }
        notify_peer(cell, name, 1, NULL);
        *ret_config = g_steal_pointer(&config);
        return true;
}

bool cell_remove_peer(Cell *cell, const char *name, GError **error) {
        g_autofree char *key = NULL;
        CellState *next;

        if (!cell_find_peer(cell, name, error))
                return false;
        next = cell_state_copy(cell->state);
        for (guint i = 0; i < next->peers->len; i++) {
                const Peer *peer = next->peers->pdata[i];
                if (g_str_equal(peer->name, name)) {
                        key = g_strdup(peer->public_key);
                        g_ptr_array_remove_index(next->peers, i);
                        break;
                }
        }
        if (!commit(cell, next, error))
                return false;
        g_hash_table_remove(cell->status, key);
        log_peer(G_LOG_LEVEL_MESSAGE, name, "Peer %s removed", name);
        notify_peer(cell, name, -1, NULL);
        return true;
}

bool cell_set_route_via_check(const Cell *cell, const char *name, const char *via, GError **error) {
        const Link *link;

        if (!cell_find_peer(cell, name, error))
                return false;
        if (via[0] == '\0')
                return true;
        link = cell_find_link(cell, via, error);
        if (!link)
                return false;
        if (!link->remote_exit_offered) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_NOT_OFFERED,
                            _("%s does not offer to be an internet exit for this cell; its admin can offer it "
                              "(\"Offer my internet connection\")"), via);
                return false;
        }
        /* WireGuard routes 0.0.0.0/0 to one peer only: one exit cell at a time. */
        for (guint i = 0; i < cell->state->peers->len; i++) {
                const Peer *other = cell->state->peers->pdata[i];
                if (!g_str_equal(other->name, name) && other->route_via[0] && !g_str_equal(other->route_via, via)) {
                        g_set_error(error, PIC_ERROR, PIC_ERROR_CONFLICT,
                                    _("peer %s already leaves through %s, and this cell uses one exit cell at a time; "
                                      "route %s directly first"), other->name, other->route_via, other->name);
                        return false;
                }
        }
        return true;
}

bool cell_set_route_via(Cell *cell, const char *name, const char *via, GError **error) {
        static const char *const changed[] = { "RouteVia", NULL };
        CellState *next;
        Peer *peer;

        if (!cell_set_route_via_check(cell, name, via, error))
                return false;
        if (g_str_equal(cell_state_find_peer(cell->state, name)->route_via, via))
                return true;
        next = cell_state_copy(cell->state);
        peer = cell_state_edit_peer(next, name);
        g_free(peer->route_via);
        peer->route_via = g_strdup(via);
        if (!commit(cell, next, error))
                return false;
        if (via[0])
                log_peer(G_LOG_LEVEL_MESSAGE, name, "Peer %s now leaves through %s", name, via);
        else
                log_peer(G_LOG_LEVEL_MESSAGE, name, "Peer %s now leaves through this cell", name);
        notify_peer(cell, name, 0, changed);
        return true;
}

bool cell_peer_route_via_active(const Cell *cell, const Peer *peer) {
        const Link *link;

        if (!peer->route_via[0])
                return false;
        link = cell_state_find_link(cell->state, peer->route_via);
        return link && link->exit_relay_active && cell_get_link_status(cell, link->name).connected;
}
