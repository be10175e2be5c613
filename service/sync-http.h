/* sync-http.h: the HTTP mechanics of peer-sync (libsoup 3, in the daemon's
 * GLib main loop): a server that enforces every limit before a request
 * reaches its handler, and a client for one POST with a deadline. What the
 * requests mean is decided by the handler (peersync.c), not here. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#define SYNC_HTTP_MAX_BODY (64 * 1024)      /* 413 above */
#define SYNC_HTTP_MAX_HEADERS (8 * 1024)    /* all request headers together; 431 above */
#define SYNC_HTTP_MAX_CONNECTIONS 64        /* open at once; more are closed at once */
#define SYNC_HTTP_IDLE_TIMEOUT 10           /* seconds without progress */
#define SYNC_HTTP_RATE_BURST 20             /* requests per source address ... */
#define SYNC_HTTP_RATE_PER_SECOND 2         /* ... refilled at this rate; 429 above */
#define SYNC_HTTP_MAX_TRACKED_SOURCES 1024  /* rate-limit entries kept */

typedef struct SyncHttpServer SyncHttpServer;

typedef struct {
        const char *path;            /* e.g. "/api/cells/peer-sync/accept-invite" */
        const char *signature;       /* the X-Pic-Signature header, or NULL */
        bool has_forwarded_header;   /* X-Forwarded-For / Forwarded / X-Real-IP present */
        struct sockaddr_in remote;   /* the TCP peer: the only source address we trust */
        struct sockaddr_in local;    /* the address the request came in on */
        const char *body;            /* NUL-terminated copy; may contain NULs before len */
        size_t body_len;
} SyncHttpRequest;

/* The handler answers with an HTTP status and a JSON body (taken over). It
 * runs in the main loop and must not block. */
typedef void (*SyncHttpHandler)(const SyncHttpRequest *request, unsigned *ret_status, char **ret_json_body,
                                void *userdata);

/* Listens on @address:@port (address 0 = all IPv4 addresses). Only POST to
 * paths starting with "/api/cells/peer-sync/" reach @handler; anything else is
 * 404/405 with a JSON error body. */
SyncHttpServer *sync_http_server_new(uint32_t address, uint16_t port, SyncHttpHandler handler, void *userdata,
                                     GError **error);
void sync_http_server_free(SyncHttpServer *server);
/* The port actually listened on (useful when 0 was asked for). */
uint16_t sync_http_server_get_port(SyncHttpServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SyncHttpServer, sync_http_server_free)

/* --- client --- */

typedef struct SyncHttpClient SyncHttpClient;

/* @status is 0 when no HTTP answer came (then @error says why); otherwise the
 * answer's status and body (NUL-terminated, may be empty). */
typedef void (*SyncHttpDone)(unsigned status, const char *body, size_t body_len, const GError *error,
                             void *userdata);

SyncHttpClient *sync_http_client_new(void);
void sync_http_client_free(SyncHttpClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SyncHttpClient, sync_http_client_free)

/* POSTs @body (application/json) to http://@host:@port@path, with the
 * X-Pic-Signature header when @signature is not NULL, giving up after
 * @timeout_seconds. When @source is not 0 the connection is made from that
 * local address (the tunnel address, so the remote sees our cell's source).
 * Returns a handle for sync_http_client_cancel(); @done is called exactly
 * once unless cancelled. Answers larger than SYNC_HTTP_MAX_BODY are an error. */
guint64 sync_http_client_post(SyncHttpClient *client, const char *host, uint16_t port, const char *path,
                              uint32_t source, const char *body, size_t body_len, const char *signature,
                              unsigned timeout_seconds, SyncHttpDone done, void *userdata);
void sync_http_client_cancel(SyncHttpClient *client, guint64 handle);

/* --- retries --- */

/* Exponential backoff with jitter: attempt 0 → about @base_ms, doubling up to
 * @max_ms, each delay drawn uniformly from [delay/2, delay]. */
guint sync_backoff_delay_ms(guint attempt, guint base_ms, guint max_ms, GRand *rand);
