/* peersync.h: the peer-sync face (DESIGN §5-6): the HTTP server other cells
 * call (accept-invite from the LAN; update, unlink and permissions through the
 * tunnel) and the pushes this cell makes to them, retried with backoff. It
 * learns of changes through the core's listener, whoever made them. */
#pragma once

#include <glib.h>

#include "cell.h"
#include "daemon-config.h"

#define PEERSYNC_PATH_PREFIX "/api/cells/peer-sync/"
#define PEERSYNC_PUSH_TIMEOUT 5          /* seconds for one push */
#define PEERSYNC_RETRY_BASE_MS 1000
#define PEERSYNC_RETRY_MAX_MS 60000
#define PEERSYNC_NONCE_MEMORY 4096

typedef struct PeerSync PeerSync;

/* Listens on the sync port and resumes every push still owed (pairing not
 * yet confirmed, pending pushes). */
PeerSync *peersync_new(Cell *cell, const DaemonConfig *config, GError **error);
void peersync_free(PeerSync *peersync);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PeerSync, peersync_free)
