/* peersync.c: what cells say to each other. Requests are authenticated as
 * DESIGN §5-6 says — pairing by HMAC over the raw body with the invite's
 * secret, tunnel calls by WireGuard's source address plus the claimed public
 * key — and never by a header. Pushes keep only the latest state per link and
 * retry with exponential backoff and jitter until they land. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <json-glib/json-glib.h>

#include "log.h"
#include "netaddr.h"
#include "pairing.h"
#include "peersync.h"
#include "peersync-parse.h"
#include "pic-error.h"
#include "sync-http.h"

#define PATH_ACCEPT PEERSYNC_PATH_PREFIX "accept-invite"
#define PATH_UPDATE PEERSYNC_PATH_PREFIX "update"
#define PATH_UNLINK PEERSYNC_PATH_PREFIX "unlink"
#define PATH_PERMISSIONS PEERSYNC_PATH_PREFIX "permissions"

typedef enum {
        PUSH_ACCEPT = 1u << 0,  /* LAN: pair with the cell whose invite we imported */
        PUSH_UPDATE = 1u << 1,  /* tunnel: our invite changed (healing) */
        PUSH_PERMISSIONS = 1u << 2, /* tunnel: what we share, our exit offer and use */
} PushKind;

typedef struct PeerSync PeerSync;

/* What we still owe one linked cell. */
typedef struct {
        PeerSync *ps;
        char *name;
        unsigned pending;   /* PushKind bits */
        unsigned attempt;
        guint timer;
        guint64 in_flight;  /* sync_http_client handle, 0 if none */
        unsigned in_flight_kind;
        uint64_t in_flight_seq;
        guint64 generation;     /* bumped by every push(): what changed since */
        guint64 sent_generation;/* the generation the push under way was built from */
} Outbox;

struct PeerSync {
        Cell *cell;
        const DaemonConfig *config;
        SyncHttpServer *server;
        SyncHttpClient *client;
        NonceCache *nonces;
        GRand *rand;
        GHashTable *outboxes;   /* link name -> Outbox* */
        GPtrArray *farewells;   /* of Farewell*: unlink notices under way */
};

static void outbox_schedule(Outbox *box, guint delay_ms);

static void outbox_free(Outbox *box) {
        if (box->timer)
                g_source_remove(box->timer);
        if (box->in_flight)
                sync_http_client_cancel(box->ps->client, box->in_flight);
        g_free(box->name);
        g_free(box);
}

static int64_t now_seconds(void) {
        return g_get_real_time() / G_USEC_PER_SEC;
}

/* {"<key>": "<value>"}: every answer we send has this shape. */
static char *json_member(const char *key, const char *value) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, key);
        json_builder_add_string_value(b, value);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        return json_to_string(root, FALSE);
}

static char *json_error(const char *message) {
        return json_member("error", message);
}

static char *json_status(const char *status) {
        return json_member("status", status);
}

static void reply_error(unsigned *ret_status, char **ret_body, unsigned status, const char *message) {
        *ret_status = status;
        *ret_body = json_error(message);
}

static unsigned status_for_error(const GError *e) {
        if (e->domain != PIC_ERROR)
                return 500;
        switch (e->code) {
        case PIC_ERROR_INVALID_ARGUMENT:
        case PIC_ERROR_INVALID_INVITE:
                return 400;
        case PIC_ERROR_NOT_AUTHORIZED:
                return 401;
        case PIC_ERROR_CONFLICT:
        case PIC_ERROR_LIMIT_EXCEEDED:
                return 409;
        case PIC_ERROR_NOT_FOUND:
                return 404;
        default:
                return 500;
        }
}

/* Parses the request's body; on failure fills a 400 answer. */
static PeerSyncBody *parse_body(const SyncHttpRequest *req, unsigned *ret_status, char **ret_body) {
        g_autoptr(GError) e = NULL;
        PeerSyncBody *body = peersync_body_parse(req->body, req->body_len, &e);

        if (!body)
                reply_error(ret_status, ret_body, 400, e->message);
        return body;
}

/* --- the server --- */

static void handle_accept_invite(PeerSync *ps, const SyncHttpRequest *req, unsigned *ret_status, char **ret_body) {
        g_autoptr(PeerSyncBody) body = NULL;
        g_autoptr(PeerSyncAccept) accept = NULL;
        g_autoptr(GError) e = NULL;
        g_autoptr(Invite) invite = NULL;
        const IssuedInvite *issued;
        CellPairResult result;
        int64_t now = now_seconds();

        body = parse_body(req, ret_status, ret_body);
        if (!body)
                return;
        accept = peersync_accept_from_body(body, &e);
        if (!accept) {
                reply_error(ret_status, ret_body, 400, e->message);
                return;
        }

        issued = cell_state_find_invite(cell_get_state(ps->cell), accept->pairing_id);
        if (!issued || !req->signature ||
            !pairing_verify(issued->secret, req->body, req->body_len, req->signature)) {
                reply_error(ret_status, ret_body, 401, "unknown pairing id or bad signature");
                return;
        }
        if (!issued->used_by && issued->expires <= now) {
                reply_error(ret_status, ret_body, 401, "this invite has expired; ask for a new invite");
                return;
        }
        if (!pairing_timestamp_fresh(accept->ts, now)) {
                g_autofree char *msg = g_strdup_printf(
                        "the request's time (%" G_GINT64_FORMAT ") is more than %d s from ours (%" G_GINT64_FORMAT
                        "); check both cells' clocks", accept->ts, PAIRING_MAX_SKEW, now);
                reply_error(ret_status, ret_body, 401, msg);
                return;
        }
        if (!peersync_accept_check_nonce(accept, &e)) {
                reply_error(ret_status, ret_body, 400, e->message);
                return;
        }
        if (!nonce_cache_check_and_add(ps->nonces, accept->nonce, now)) {
                reply_error(ret_status, ret_body, 401, "this request was seen before (replayed nonce)");
                return;
        }

        invite = peersync_accept_get_invite(accept, &e);
        if (!invite) {
                reply_error(ret_status, ret_body, 400, e->message);
                return;
        }
        if (!cell_accept_paired_invite(ps->cell, accept->pairing_id, invite, &result, &e)) {
                log_link_error(G_LOG_LEVEL_MESSAGE, invite->cell_name, e->message, "Refused pairing from %s: %s",
                               invite->cell_name, e->message);
                reply_error(ret_status, ret_body, status_for_error(e), e->message);
                return;
        }
        log_link(G_LOG_LEVEL_MESSAGE, invite->cell_name, "Paired with %s (%s)", invite->cell_name,
                 result == CELL_PAIR_LINKED ? "new link" : "already linked");
        *ret_status = 200;
        *ret_body = json_status(result == CELL_PAIR_LINKED ? "linked" : "already-linked");
}

/* The linked cell a tunnel request comes from: its source address must lie in
 * that cell's subnet (WireGuard vouches for it) and @claimed_key must be that
 * cell's key. On failure fills a 403 answer. */
static const Link *authenticate_tunnel(PeerSync *ps, const SyncHttpRequest *req, const char *claimed_key,
                                       unsigned *ret_status, char **ret_body) {
        const CellState *state = cell_get_state(ps->cell);
        uint32_t source = ntohl(req->remote.sin_addr.s_addr);
        uint32_t local = ntohl(req->local.sin_addr.s_addr);

        if (req->has_forwarded_header) {
                reply_error(ret_status, ret_body, 403, "forwarding headers are not accepted on the tunnel protocol");
                return NULL;
        }
        if (local != state->cell.address.address) {
                reply_error(ret_status, ret_body, 403, "this request is only served on the tunnel address");
                return NULL;
        }
        for (guint i = 0; i < state->links->len; i++) {
                const Link *link = state->links->pdata[i];

                if (!netaddr_contains(&link->vpn_subnet, source))
                        continue;
                if (!claimed_key || !g_str_equal(claimed_key, link->public_key))
                        break;
                return link;
        }
        reply_error(ret_status, ret_body, 403, "not a linked cell");
        return NULL;
}

static void handle_unlink(PeerSync *ps, const SyncHttpRequest *req, unsigned *ret_status, char **ret_body) {
        g_autoptr(PeerSyncBody) body = NULL;
        g_autoptr(PeerSyncUnlink) unlink = NULL;
        g_autoptr(GError) e = NULL;
        g_autofree char *name = NULL;
        const Link *link;

        body = parse_body(req, ret_status, ret_body);
        if (!body)
                return;
        link = authenticate_tunnel(ps, req, peersync_body_get_string(body, "from_public_key"), ret_status, ret_body);
        if (!link)
                return;
        name = g_strdup(link->name);
        unlink = peersync_unlink_from_body(body, &e);
        if (!unlink) {
                reply_error(ret_status, ret_body, 400, e->message);
                return;
        }
        if (!cell_apply_remote_unlink(ps->cell, name, &e)) {
                reply_error(ret_status, ret_body, status_for_error(e), e->message);
                return;
        }
        log_link(G_LOG_LEVEL_MESSAGE, name, "%s removed its link to us; removed ours too", name);
        *ret_status = 200;
        *ret_body = json_status("unlinked");
}

static void handle_update(PeerSync *ps, const SyncHttpRequest *req, unsigned *ret_status, char **ret_body) {
        g_autoptr(PeerSyncBody) body = NULL;
        g_autoptr(GError) e = NULL;
        g_autoptr(Invite) invite = NULL;
        g_autofree char *name = NULL;
        const Link *link;

        body = parse_body(req, ret_status, ret_body);
        if (!body)
                return;
        link = authenticate_tunnel(ps, req, peersync_body_get_string(body, "public_key"), ret_status, ret_body);
        if (!link)
                return;
        name = g_strdup(link->name);
        invite = peersync_update_from_body(body, &e);
        if (!invite) {
                reply_error(ret_status, ret_body, 400, e->message);
                return;
        }
        if (!cell_apply_remote_update(ps->cell, name, invite, &e)) {
                reply_error(ret_status, ret_body, status_for_error(e), e->message);
                return;
        }
        log_link(G_LOG_LEVEL_MESSAGE, name, "%s changed its settings; link updated", name);
        *ret_status = 200;
        *ret_body = json_status("updated");
}

static void handle_permissions(PeerSync *ps, const SyncHttpRequest *req, unsigned *ret_status, char **ret_body) {
        g_autoptr(PeerSyncBody) body = NULL;
        g_autoptr(PeerSyncPermissions) permissions = NULL;
        g_autoptr(GError) e = NULL;
        g_autofree char *name = NULL;
        RemotePermissions remote = { 0 };
        const Link *link;
        bool stale;

        body = parse_body(req, ret_status, ret_body);
        if (!body)
                return;
        link = authenticate_tunnel(ps, req, peersync_body_get_string(body, "from_public_key"), ret_status, ret_body);
        if (!link)
                return;
        name = g_strdup(link->name);
        permissions = peersync_permissions_from_body(body, &e);
        if (!permissions) {
                reply_error(ret_status, ret_body, 400, e->message);
                return;
        }

        remote.seq = permissions->seq;
        remote.inbound = permissions->inbound;
        remote.exit_offered = permissions->exit_offered;
        remote.use_as_exit_relay = permissions->use_as_exit_relay;
        remote.exit_sources = permissions->exit_sources;
        if (!cell_apply_remote_permissions(ps->cell, name, &remote, &stale, &e)) {
                reply_error(ret_status, ret_body, status_for_error(e), e->message);
                return;
        }
        if (stale)
                log_link(G_LOG_LEVEL_MESSAGE, name,
                         "Ignored a permissions push from %s with an old seq %" G_GUINT64_FORMAT, name,
                         permissions->seq);
        *ret_status = 200;
        *ret_body = json_status(stale ? "stale" : "ok");
}

static void on_request(const SyncHttpRequest *req, unsigned *ret_status, char **ret_body, void *userdata) {
        PeerSync *ps = userdata;

        if (g_str_equal(req->path, PATH_ACCEPT))
                handle_accept_invite(ps, req, ret_status, ret_body);
        else if (g_str_equal(req->path, PATH_UNLINK))
                handle_unlink(ps, req, ret_status, ret_body);
        else if (g_str_equal(req->path, PATH_UPDATE))
                handle_update(ps, req, ret_status, ret_body);
        else if (g_str_equal(req->path, PATH_PERMISSIONS))
                handle_permissions(ps, req, ret_status, ret_body);
        else
                reply_error(ret_status, ret_body, 404, "no such peer-sync endpoint");
}

/* --- pushes --- */

static Outbox *outbox_get(PeerSync *ps, const char *name) {
        Outbox *box = g_hash_table_lookup(ps->outboxes, name);

        if (!box) {
                box = g_new0(Outbox, 1);
                box->ps = ps;
                box->name = g_strdup(name);
                g_hash_table_insert(ps->outboxes, box->name, box);
        }
        return box;
}

static void push(Outbox *box, unsigned kinds) {
        box->pending |= kinds;
        box->generation++;
        box->attempt = 0;
        if (!box->in_flight)
                outbox_schedule(box, 0);
}

/* The message of an error answer, or a description of the failure. */
static char *describe_failure(const Link *link, unsigned status, const char *body, size_t len, const GError *error) {
        g_autofree char *message = NULL;

        if (status == 0)
                return g_strdup_printf("%s could not be reached: %s", link->name,
                                       error ? error->message : "no answer");
        /* The remote's words end up in LastPushError: only a bounded, valid string. */
        message = peersync_answer_get_error(body, len);
        if (message)
                return g_strdup_printf("%s answered %u: %s", link->name, status, message);
        return g_strdup_printf("%s answered %u", link->name, status);
}

static void on_push_done(unsigned status, const char *body, size_t len, const GError *error, void *userdata) {
        Outbox *box = userdata;
        PeerSync *ps = box->ps;
        const Link *link = cell_state_find_link(cell_get_state(ps->cell), box->name);
        unsigned kind = box->in_flight_kind;
        g_autoptr(GError) e = NULL;
        g_autofree char *failure = NULL;

        box->in_flight = 0;
        box->in_flight_kind = 0;
        if (!link)
                return;

        if (status == 200) {
                /* A change made while this push was under way is not in its
                 * body: keep it pending and send again. */
                bool newer = box->generation != box->sent_generation;

                if (!newer)
                        box->pending &= ~kind;
                box->attempt = 0;
                if (kind == PUSH_ACCEPT) {
                        log_link(G_LOG_LEVEL_MESSAGE, link->name, "%s confirmed the link", link->name);
                        if (!cell_confirm_link(ps->cell, box->name, &e))
                                log_link_error(G_LOG_LEVEL_WARNING, box->name, e->message, "Link %s: %s", box->name,
                                               e->message);
                        /* Now the tunnel exists: tell them what we share. */
                        box->pending |= PUSH_PERMISSIONS;
                } else {
                        if (kind == PUSH_PERMISSIONS)
                                cell_record_push_seq(ps->cell, box->name, box->in_flight_seq);
                        if (!newer)
                                cell_record_push(ps->cell, box->name, PUSH_STATE_OK, NULL);
                }
                if (box->pending)
                        outbox_schedule(box, 0);
                return;
        }

        failure = describe_failure(link, status, body, len, error);
        log_link_error(G_LOG_LEVEL_MESSAGE, link->name, failure, "Push to %s failed: %s", link->name, failure);
        /* No answer: it will come. An answer that refuses: shown as failed,
         * still retried slowly, since the other admin may fix their side. */
        cell_record_push(ps->cell, box->name, status == 0 ? PUSH_STATE_PENDING : PUSH_STATE_FAILED, failure);
        outbox_schedule(box, sync_backoff_delay_ms(box->attempt++, PEERSYNC_RETRY_BASE_MS, PEERSYNC_RETRY_MAX_MS,
                                                   ps->rand));
}

static bool send_accept(Outbox *box, const Link *link) {
        PeerSync *ps = box->ps;
        g_autoptr(GError) e = NULL;
        g_autoptr(Invite) own = NULL;
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *nonce = NULL, *body = NULL, *signature = NULL, *host = NULL;
        uint16_t port;

        if (link->pairing_expires <= now_seconds()) {
                g_autofree char *msg = g_strdup_printf(
                        "the invite of %s expired before %s could be reached; ask %s for a new invite",
                        link->name, link->name, link->name);
                box->pending &= ~PUSH_ACCEPT;
                cell_record_push(ps->cell, box->name, PUSH_STATE_FAILED, msg);
                return false;
        }
        own = cell_build_invite(ps->cell, &e);
        nonce = own ? pairing_nonce_generate(&e) : NULL;
        if (!nonce || !netaddr_parse_endpoint(link->endpoint, &host, &port, &e)) {
                cell_record_push(ps->cell, box->name, PUSH_STATE_FAILED, e->message);
                return false;
        }

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "invite");
        json_builder_add_value(b, json_node_init_object(json_node_alloc(), invite_to_json_object(own, false)));
        json_builder_set_member_name(b, "pairing_id");
        json_builder_add_string_value(b, link->pairing_id);
        json_builder_set_member_name(b, "ts");
        json_builder_add_int_value(b, now_seconds());
        json_builder_set_member_name(b, "nonce");
        json_builder_add_string_value(b, nonce);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        body = json_to_string(root, FALSE);
        signature = pairing_sign(link->pairing_secret, body, strlen(body), &e);
        if (!signature) {
                cell_record_push(ps->cell, box->name, PUSH_STATE_FAILED, e->message);
                return false;
        }
        box->in_flight_kind = PUSH_ACCEPT;
        box->in_flight = sync_http_client_post(ps->client, host, link->sync_port, PATH_ACCEPT, 0, body, strlen(body),
                                               signature, PEERSYNC_PUSH_TIMEOUT, on_push_done, box);
        return true;
}

static void send_tunnel(Outbox *box, const Link *link, unsigned kind, const char *path, const char *body) {
        PeerSync *ps = box->ps;
        g_autofree char *host = netaddr_format_address(link->tunnel_address);

        box->in_flight_kind = kind;
        box->in_flight = sync_http_client_post(ps->client, host, link->sync_port, path,
                                               cell_get_state(ps->cell)->cell.address.address, body, strlen(body),
                                               NULL, PEERSYNC_PUSH_TIMEOUT, on_push_done, box);
}

static void send_update(Outbox *box, const Link *link) {
        g_autoptr(GError) e = NULL;
        g_autoptr(Invite) own = cell_build_invite(box->ps->cell, &e);
        g_autofree char *body = NULL;

        if (!own) {
                box->pending &= ~PUSH_UPDATE;
                cell_record_push(box->ps->cell, box->name, PUSH_STATE_FAILED, e->message);
                return;
        }
        body = invite_to_json(own, false);
        send_tunnel(box, link, PUSH_UPDATE, PATH_UPDATE, body);
}

/* Our exit sources towards @link: the peers that route through it (issue of
 * the exit relay; empty until peers can route). */
static void add_exit_sources(PeerSync *ps, const Link *link, JsonBuilder *b) {
        const CellState *state = cell_get_state(ps->cell);

        json_builder_begin_array(b);
        for (guint i = 0; i < state->peers->len; i++) {
                const Peer *peer = state->peers->pdata[i];
                if (peer->route_via && g_str_equal(peer->route_via, link->name)) {
                        g_autofree char *a = netaddr_format_address(peer->address);
                        g_autofree char *cidr = g_strdup_printf("%s/32", a);
                        json_builder_add_string_value(b, cidr);
                }
        }
        json_builder_end_array(b);
}

static void send_permissions(Outbox *box, const Link *link) {
        PeerSync *ps = box->ps;
        const CellState *state = cell_get_state(ps->cell);
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *body = NULL;
        uint64_t seq = cell_next_push_seq(ps->cell, link->name);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "from_cell");
        json_builder_add_string_value(b, state->cell.name);
        json_builder_set_member_name(b, "from_public_key");
        json_builder_add_string_value(b, state->cell.public_key);
        json_builder_set_member_name(b, "seq");
        json_builder_add_int_value(b, (gint64) seq);
        json_builder_set_member_name(b, "inbound");
        json_builder_begin_object(b);
        for (guint i = 0; i < state->services->len; i++) {
                const Service *svc = state->services->pdata[i];
                json_builder_set_member_name(b, svc->name);
                json_builder_add_boolean_value(b, GPOINTER_TO_INT(g_hash_table_lookup(link->inbound, svc->name)));
        }
        json_builder_end_object(b);
        json_builder_set_member_name(b, "exit_offered");
        json_builder_add_boolean_value(b, link->exit_offered);
        json_builder_set_member_name(b, "use_as_exit_relay");
        json_builder_add_boolean_value(b, link->exit_relay_active);
        json_builder_set_member_name(b, "exit_sources");
        add_exit_sources(ps, link, b);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        body = json_to_string(root, FALSE);
        box->in_flight_seq = seq;
        send_tunnel(box, link, PUSH_PERMISSIONS, PATH_PERMISSIONS, body);
}

static gboolean on_outbox_timer(gpointer userdata) {
        Outbox *box = userdata;
        const Link *link = cell_state_find_link(cell_get_state(box->ps->cell), box->name);

        box->timer = 0;
        if (!link || box->in_flight)
                return G_SOURCE_REMOVE;
        box->sent_generation = box->generation;
        if (box->pending & PUSH_ACCEPT) {
                if (!link->pairing_secret || link->paired)
                        box->pending &= ~PUSH_ACCEPT;
                else {
                        send_accept(box, link);
                        return G_SOURCE_REMOVE;
                }
        }
        /* Tunnel pushes wait for pairing: the remote has no tunnel to us before. */
        if (!link->paired)
                return G_SOURCE_REMOVE;
        if (box->pending & PUSH_UPDATE)
                send_update(box, link);
        else if (box->pending & PUSH_PERMISSIONS)
                send_permissions(box, link);
        return G_SOURCE_REMOVE;
}

static void outbox_schedule(Outbox *box, guint delay_ms) {
        if (box->timer)
                g_source_remove(box->timer);
        box->timer = delay_ms == 0 ? g_idle_add(on_outbox_timer, box) : g_timeout_add(delay_ms, on_outbox_timer, box);
}

/* --- farewells --- */

typedef struct {
        PeerSync *ps;
        char *name;
} Farewell;

static void farewell_free(Farewell *f) {
        g_free(f->name);
        g_free(f);
}

static void on_farewell_done(unsigned status, const char *body, size_t len, const GError *error, void *userdata) {
        Farewell *f = userdata;

        if (status == 200)
                log_link(G_LOG_LEVEL_MESSAGE, f->name, "Told %s that the link is removed", f->name);
        else
                log_link_error(G_LOG_LEVEL_MESSAGE, f->name, error ? error->message : "refused",
                               "Could not tell %s that the link is removed (best effort): %s", f->name,
                               error ? error->message : "refused");
        cell_departure_done(f->ps->cell, f->name);
        g_ptr_array_remove(f->ps->farewells, f);
}

static void send_farewell(PeerSync *ps, const Link *link) {
        const CellIdentity *id = &cell_get_state(ps->cell)->cell;
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *body = NULL, *host = netaddr_format_address(link->tunnel_address);
        Farewell *f = g_new0(Farewell, 1);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "from_cell");
        json_builder_add_string_value(b, id->name);
        json_builder_set_member_name(b, "from_public_key");
        json_builder_add_string_value(b, id->public_key);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        body = json_to_string(root, FALSE);

        f->ps = ps;
        f->name = g_strdup(link->name);
        g_ptr_array_add(ps->farewells, f);
        sync_http_client_post(ps->client, host, link->sync_port, PATH_UNLINK, id->address.address, body,
                              strlen(body), NULL, PEERSYNC_PUSH_TIMEOUT, on_farewell_done, f);
}

/* --- what the core tells us --- */

static void on_link_added(void *userdata, const char *name) {
        PeerSync *ps = userdata;
        const Link *link = cell_state_find_link(cell_get_state(ps->cell), name);

        if (!link)
                return;
        if (link->pairing_secret && !link->paired)
                push(outbox_get(ps, name), PUSH_ACCEPT);
        else
                push(outbox_get(ps, name), PUSH_PERMISSIONS);
}

static void on_link_changed(void *userdata, const char *name, const char *const *properties) {
        static const char *const mirrored[] = { "Inbound", "ExitOffered", "ExitRelayActive", NULL };
        PeerSync *ps = userdata;

        for (const char *const *p = properties; *p; p++)
                if (g_strv_contains(mirrored, *p)) {
                        push(outbox_get(ps, name), PUSH_PERMISSIONS);
                        return;
                }
}

static void on_link_removed(void *userdata, const char *name) {
        PeerSync *ps = userdata;
        const Link *departing = cell_get_departing(ps->cell, name);

        g_hash_table_remove(ps->outboxes, name);
        if (departing && departing->paired)
                send_farewell(ps, departing);
        else if (departing)
                cell_departure_done(ps->cell, name);
        /* Without a departing link to tell, the remote removed us: its tunnel
         * closes by itself once our answer is out. */
}

static void on_cell_changed(void *userdata, const char *const *properties) {
        static const char *const healing[] = { "Endpoint", "Address", "DnsAddress", "Domain", NULL };
        PeerSync *ps = userdata;
        const CellState *state = cell_get_state(ps->cell);
        bool heal = false;

        for (const char *const *p = properties; *p && !heal; p++)
                heal = g_strv_contains(healing, *p);
        if (!heal)
                return;
        for (guint i = 0; i < state->links->len; i++) {
                const Link *link = state->links->pdata[i];
                push(outbox_get(ps, link->name), PUSH_UPDATE);
        }
}

PeerSync *peersync_new(Cell *cell, const DaemonConfig *config, GError **error) {
        static const CellListener listener = {
                .cell_changed = on_cell_changed,
                .link_added = on_link_added,
                .link_removed = on_link_removed,
                .link_changed = on_link_changed,
        };
        g_autoptr(PeerSync) ps = g_new0(PeerSync, 1);
        const CellState *state = cell_get_state(cell);

        ps->cell = cell;
        ps->config = config;
        ps->nonces = nonce_cache_new(PEERSYNC_NONCE_MEMORY);
        ps->rand = g_rand_new();
        ps->outboxes = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) outbox_free);
        ps->client = sync_http_client_new();
        ps->farewells = g_ptr_array_new_with_free_func((GDestroyNotify) farewell_free);
        /* One listener on every address: accept-invite arrives on whatever address
         * the invite's endpoint names (possibly NATed); the tunnel endpoints
         * check that the request came in on our tunnel address. */
        ps->server = sync_http_server_new(0, config->sync_port, on_request, ps, error);
        if (!ps->server)
                return NULL;
        cell_add_listener(cell, &listener, ps);

        /* Resume what a previous run still owed. */
        for (guint i = 0; i < state->links->len; i++) {
                const Link *link = state->links->pdata[i];
                if (link->pairing_secret && !link->paired)
                        push(outbox_get(ps, link->name), PUSH_ACCEPT);
                else if (link->push_state != PUSH_STATE_OK)
                        push(outbox_get(ps, link->name), PUSH_PERMISSIONS);
        }
        return g_steal_pointer(&ps);
}

void peersync_free(PeerSync *ps) {
        if (!ps)
                return;
        if (ps->outboxes)
                g_hash_table_destroy(ps->outboxes);
        sync_http_server_free(ps->server);
        /* Freeing the client drops what is under way without calling back. */
        sync_http_client_free(ps->client);
        if (ps->farewells)
                g_ptr_array_unref(ps->farewells);
        nonce_cache_free(ps->nonces);
        if (ps->rand)
                g_rand_free(ps->rand);
        g_free(ps);
}
