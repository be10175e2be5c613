/* peersync-parse.h: the bodies of peer-sync requests (DESIGN §5-6) read from
 * untrusted text into plain structs, without state or I/O, so that every byte
 * a remote cell can send is covered by unit tests and a fuzz harness.
 *
 * Reading goes in steps because the handler must authenticate in between:
 * first the text (peersync_body_parse), then the identity the caller claims
 * (peersync_body_get_string), then the fields. Every error is
 * PIC_ERROR_INVALID_ARGUMENT (the invite inside a body: PIC_ERROR_INVALID_INVITE)
 * with a message fit to send back as the 400 answer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "invite.h"
#include "pairing.h"

#define PEERSYNC_BODY_MAX_DEPTH 16      /* json-glib recurses once per level */
#define PEERSYNC_MAX_EXIT_SOURCES 1024
#define PEERSYNC_ANSWER_ERROR_MAX 512   /* bytes of a remote's error kept for LastPushError */

/* One request body: UTF-8 text without NUL bytes, nested at most
 * PEERSYNC_BODY_MAX_DEPTH deep, holding one JSON object. */
typedef struct PeerSyncBody PeerSyncBody;

PeerSyncBody *peersync_body_parse(const char *text, size_t len, GError **error);
void peersync_body_free(PeerSyncBody *body);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PeerSyncBody, peersync_body_free)
/* The string member @name, or NULL when it is missing or not a string: how
 * the caller names itself, read before anything else is judged. */
const char *peersync_body_get_string(const PeerSyncBody *body, const char *name);

/* accept-invite: {"invite": {...}, "pairing_id", "ts", "nonce"}. The envelope
 * is checked before the signature; the nonce and the invite only after it,
 * so that a stranger learns nothing and a signed request with a bad invite
 * still uses up its nonce. */
typedef struct {
        char *pairing_id;
        int64_t ts;
        char *nonce;                /* as sent: replays are recognised by this text */
        JsonObject *invite_object;  /* judged by peersync_accept_get_invite() */
} PeerSyncAccept;

PeerSyncAccept *peersync_accept_from_body(const PeerSyncBody *body, GError **error);
void peersync_accept_free(PeerSyncAccept *accept);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PeerSyncAccept, peersync_accept_free)
/* The nonce must be base64url of PAIRING_NONCE_BYTES bytes. */
bool peersync_accept_check_nonce(const PeerSyncAccept *accept, GError **error);
/* The sender's invite (sent without "pairing"), validated like an imported one. */
Invite *peersync_accept_get_invite(const PeerSyncAccept *accept, GError **error);

/* permissions: {"from_cell", "from_public_key", "seq", "inbound": {service:
 * bool}, "exit_offered", "use_as_exit_relay", "exit_sources": [CIDR...]}. */
typedef struct {
        char *from_cell;            /* NULL when absent: only ever shown */
        char *from_public_key;      /* NULL when absent: then authentication fails */
        uint64_t seq;               /* > 0 */
        GHashTable *inbound;        /* service name -> gboolean (GINT_TO_POINTER) */
        bool exit_offered;
        bool use_as_exit_relay;
        GPtrArray *exit_sources;    /* of char*, as sent (the core checks them); never NULL */
} PeerSyncPermissions;

PeerSyncPermissions *peersync_permissions_from_body(const PeerSyncBody *body, GError **error);
void peersync_permissions_free(PeerSyncPermissions *permissions);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PeerSyncPermissions, peersync_permissions_free)

/* unlink: {"from_cell", "from_public_key"}. */
typedef struct {
        char *from_cell;            /* NULL when absent: only ever shown */
        char *from_public_key;
} PeerSyncUnlink;

PeerSyncUnlink *peersync_unlink_from_body(const PeerSyncBody *body, GError **error);
void peersync_unlink_free(PeerSyncUnlink *unlink);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PeerSyncUnlink, peersync_unlink_free)

/* update: the sender's new invite, without "pairing"; its "public_key" is the
 * identity the sender claims. */
Invite *peersync_update_from_body(const PeerSyncBody *body, GError **error);

/* The "error" of a remote's answer ({"error": "..."}), made fit for a D-Bus
 * string and a log line: valid UTF-8, control characters as spaces, at most
 * PEERSYNC_ANSWER_ERROR_MAX bytes. NULL when the answer holds none. */
char *peersync_answer_get_error(const char *text, size_t len);
