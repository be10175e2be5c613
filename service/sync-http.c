/* sync-http.c: the peer-sync HTTP server (every limit enforced before a handler runs) and client, on libsoup 3. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "pic-error.h"
#include "sync-http.h"
#include "text-quote.h"

#define PATH_PREFIX "/api/cells/peer-sync/"

/* A client that sends one byte now and then never trips the idle timeout;
 * this caps the whole life of a connection instead. Every connection carries
 * one request, and handlers answer at once, so honest peers finish long
 * before. */
#define CONNECTION_DEADLINE (SYNC_HTTP_IDLE_TIMEOUT + 5)

/* The head of a request (request line and headers) is looked at before
 * libsoup reads it: libsoup keeps up to 64 KiB of head and then closes the
 * connection without a word, and answers a request line it cannot read with
 * an empty 400. A head that has not ended within this many bytes is answered
 * with 431 here; one that fits is measured exactly against
 * SYNC_HTTP_MAX_HEADERS once libsoup has parsed it. */
#define HEAD_PEEK_MAX (2 * SYNC_HTTP_MAX_HEADERS)

/* After a refusal the rest of what the client sent is read and dropped, up
 * to this much: closing a socket with unread data resets the connection, and
 * the client might then never see why it was refused. */
#define DRAIN_MAX SYNC_HTTP_MAX_BODY

/* Accepting is paused this long when accept() fails (out of descriptors),
 * so that a full descriptor table does not turn into a busy loop. */
#define ACCEPT_RETRY_MS 250
#define ACCEPT_BATCH 16

/* Bytes of a value from the network quoted in a message. */
#define QUOTE_MAX 80

#define CLIENT_SESSIONS_MAX 8
#define CLIENT_DEFAULT_TIMEOUT SYNC_HTTP_IDLE_TIMEOUT
#define CLIENT_READ_CHUNK 8192

/* --- shared helpers --- */

static char *error_json(const char *message) {
        g_autoptr(JsonBuilder) builder = json_builder_new();
        g_autoptr(JsonNode) root = NULL;

        json_builder_begin_object(builder);
        json_builder_set_member_name(builder, "error");
        json_builder_add_string_value(builder, message);
        json_builder_end_object(builder);
        root = json_builder_get_root(builder);
        return json_to_string(root, false);
}

G_GNUC_PRINTF(1, 2)
static char *error_jsonf(const char *format, ...) {
        g_autofree char *message = NULL;
        va_list ap;

        va_start(ap, format);
        message = g_strdup_vprintf(format, ap);
        va_end(ap);
        return error_json(message);
}

static char *format_sin(const struct sockaddr_in *sin) {
        char text[INET_ADDRSTRLEN];

        if (!inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text)))
                return g_strdup("?");
        return g_strdup(text);
}

static bool socket_address_to_sin(GSocketAddress *address, struct sockaddr_in *ret) {
        struct sockaddr_in sin = {};

        if (!address || g_socket_address_get_family(address) != G_SOCKET_FAMILY_IPV4)
                return false;
        if (!g_socket_address_to_native(address, &sin, sizeof(sin), NULL))
                return false;

        *ret = sin;
        return true;
}

/* --- server --- */

typedef struct {
        uint32_t address;             /* host byte order */
        double tokens;
        gint64 updated_usec;
        GList link;                   /* in SyncHttpServer.bucket_order, least recently seen first */
} RateBucket;

typedef struct {
        SyncHttpServer *server;
        GSocketConnection *connection; /* watched, not owned: libsoup owns it */
        GSocket *socket;               /* owned by @connection */
        struct sockaddr_in remote;
        struct sockaddr_in local;
        guint deadline_id;
        GList link;                    /* in SyncHttpServer.connections */

        /* Until the head is complete and libsoup takes the connection: */
        GSocketConnection *pending;    /* our reference */
        GSocketAddress *local_address;
        GSocketAddress *remote_address;
        GSource *head_source;
        size_t head_seen;              /* bytes of head already looked at */
} Connection;

struct SyncHttpServer {
        SoupServer *soup;
        GSocket *listener;
        GSource *accept_source;
        guint accept_retry_id;
        gint64 accept_warned_usec;
        uint16_t port;

        SyncHttpHandler handler;
        void *userdata;

        GQueue connections;            /* Connection, oldest first; at most SYNC_HTTP_MAX_CONNECTIONS */
        GHashTable *buckets;           /* address → RateBucket */
        GQueue bucket_order;
        GCancellable *cancellable;     /* cancels refusals still being written */
};

static const char *reason_phrase(unsigned status) {
        switch (status) {
        case 400:
                return "Bad Request";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 413:
                return "Content Too Large";
        case 429:
                return "Too Many Requests";
        case 431:
                return "Request Header Fields Too Large";
        case 503:
                return "Service Unavailable";
        default:
                return "Internal Server Error";
        }
}

/* A whole response for connections taken away from libsoup. */
static char *format_raw_response(unsigned status, const char *json, const char *extra_headers) {
        return g_strdup_printf("HTTP/1.1 %u %s\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: %zu\r\n"
                               "Connection: close\r\n"
                               "%s"
                               "\r\n"
                               "%s",
                               status, reason_phrase(status), strlen(json), extra_headers ?: "", json);
}

/* A token bucket per source address. The table is bounded: a flood of new
 * sources pushes out the ones seen least recently. */
static bool rate_allow(SyncHttpServer *server, uint32_t address) {
        gint64 now = g_get_monotonic_time();
        RateBucket *bucket = g_hash_table_lookup(server->buckets, GUINT_TO_POINTER(address));

        if (bucket) {
                double refill = (double) (now - bucket->updated_usec) / G_USEC_PER_SEC * SYNC_HTTP_RATE_PER_SECOND;

                bucket->tokens = MIN((double) SYNC_HTTP_RATE_BURST, bucket->tokens + refill);
                bucket->updated_usec = now;
                g_queue_unlink(&server->bucket_order, &bucket->link);
        } else {
                if (g_hash_table_size(server->buckets) >= SYNC_HTTP_MAX_TRACKED_SOURCES) {
                        GList *oldest = g_queue_pop_head_link(&server->bucket_order);
                        RateBucket *victim = oldest->data;

                        g_hash_table_remove(server->buckets, GUINT_TO_POINTER(victim->address));
                }

                bucket = g_new0(RateBucket, 1);
                bucket->address = address;
                bucket->tokens = SYNC_HTTP_RATE_BURST;
                bucket->updated_usec = now;
                bucket->link.data = bucket;
                g_hash_table_insert(server->buckets, GUINT_TO_POINTER(address), bucket);
        }
        g_queue_push_tail_link(&server->bucket_order, &bucket->link);

        if (bucket->tokens < 1.0)
                return false;
        bucket->tokens -= 1.0;
        return true;
}

static Connection *lookup_connection(SyncHttpServer *server, SoupServerMessage *msg) {
        struct sockaddr_in remote, local;

        if (!socket_address_to_sin(soup_server_message_get_remote_address(msg), &remote) ||
            !socket_address_to_sin(soup_server_message_get_local_address(msg), &local))
                return NULL;

        /* Newest first: should a closed connection's 4-tuple be reused while
         * its entry lingers, the live one wins. */
        for (GList *l = server->connections.tail; l; l = l->prev) {
                Connection *c = l->data;

                if (c->remote.sin_addr.s_addr == remote.sin_addr.s_addr &&
                    c->remote.sin_port == remote.sin_port &&
                    c->local.sin_addr.s_addr == local.sin_addr.s_addr)
                        return c;
        }
        return NULL;
}

static void connection_stop_head_watch(Connection *c) {
        if (c->head_source) {
                g_source_destroy(c->head_source);
                g_clear_pointer(&c->head_source, g_source_unref);
        }
        g_clear_object(&c->local_address);
        g_clear_object(&c->remote_address);
}

static void connection_free(Connection *c) {
        g_clear_handle_id(&c->deadline_id, g_source_remove);
        connection_stop_head_watch(c);
        /* Only when the server goes away while a head is being read: the
         * weak reference is gone by then. */
        if (c->pending) {
                g_io_stream_close(G_IO_STREAM(c->pending), NULL, NULL);
                g_clear_object(&c->pending);
        }
        g_free(c);
}

/* libsoup dropped the connection (closed, stolen and finished, or server gone). */
static void on_connection_gone(gpointer userdata, GObject *where_the_object_was) {
        Connection *c = userdata;

        g_queue_unlink(&c->server->connections, &c->link);
        connection_free(c);
}

static gboolean on_connection_deadline(gpointer userdata) {
        Connection *c = userdata;

        c->deadline_id = 0;
        /* libsoup is waiting on this socket; shutting it down (rather than
         * closing the descriptor under it) makes its next read or write fail
         * and it tears the connection down itself. */
        g_socket_shutdown(c->socket, true, true, NULL);
        return G_SOURCE_REMOVE;
}

/* --- refusals written by us, after taking the connection from libsoup --- */

typedef struct {
        GIOStream *stream;
        GSocket *socket;
        GCancellable *cancellable;
        char *response;
        size_t drained;
        guint8 buffer[4096];
} Refusal;

static void refusal_free(Refusal *r) {
        g_io_stream_close(r->stream, NULL, NULL);
        g_object_unref(r->stream);
        g_object_unref(r->socket);
        g_object_unref(r->cancellable);
        g_free(r->response);
        g_free(r);
}

static void on_refusal_drained(GObject *source, GAsyncResult *result, gpointer userdata) {
        Refusal *r = userdata;
        gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, NULL);

        if (n <= 0) {
                refusal_free(r);
                return;
        }

        r->drained += (size_t) n;
        if (r->drained >= DRAIN_MAX) {
                refusal_free(r);
                return;
        }

        g_input_stream_read_async(g_io_stream_get_input_stream(r->stream), r->buffer, sizeof(r->buffer),
                                  G_PRIORITY_DEFAULT, r->cancellable, on_refusal_drained, r);
}

static void on_refusal_written(GObject *source, GAsyncResult *result, gpointer userdata) {
        Refusal *r = userdata;

        if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, NULL, NULL)) {
                refusal_free(r);
                return;
        }

        /* The FIN tells the client the answer is complete; what it still
         * sends is read and dropped until it closes too (or the idle
         * timeout or the connection deadline strikes). */
        g_socket_shutdown(r->socket, false, true, NULL);
        g_input_stream_read_async(g_io_stream_get_input_stream(r->stream), r->buffer, sizeof(r->buffer),
                                  G_PRIORITY_DEFAULT, r->cancellable, on_refusal_drained, r);
}

/* Answers on @stream (taken over) with @status and {"error": @message}. */
static void refuse_stream(SyncHttpServer *server, Connection *c, GIOStream *stream, unsigned status,
                          const char *message, const char *extra_headers) {
        g_autofree char *json = error_json(message);
        Refusal *r;

        r = g_new0(Refusal, 1);
        r->stream = stream;
        r->socket = g_object_ref(c->socket);
        r->cancellable = g_object_ref(server->cancellable);
        r->response = format_raw_response(status, json, extra_headers);
        g_output_stream_write_all_async(g_io_stream_get_output_stream(stream), r->response, strlen(r->response),
                                        G_PRIORITY_DEFAULT, r->cancellable, on_refusal_written, r);
}

/* Answers @msg with @status and {"error": @message} without reading any
 * more of the request: libsoup would otherwise read (and keep) the whole
 * body before answering. */
static void refuse(SyncHttpServer *server, Connection *c, SoupServerMessage *msg, unsigned status,
                   const char *message, const char *extra_headers) {
        GIOStream *stream = soup_server_message_steal_connection(msg);

        if (stream)
                refuse_stream(server, c, stream, status, message, extra_headers);
}

static size_t request_header_size(SoupServerMessage *msg) {
        SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
        GUri *uri = soup_server_message_get_uri(msg);
        SoupMessageHeadersIter iter;
        const char *name, *value;
        size_t size;

        /* "METHOD path?query HTTP/1.1\r\n" */
        size = strlen(soup_server_message_get_method(msg) ?: "") + 12;
        if (uri) {
                size += strlen(g_uri_get_path(uri));
                if (g_uri_get_query(uri))
                        size += 1 + strlen(g_uri_get_query(uri));
        }

        soup_message_headers_iter_init(&iter, headers);
        while (soup_message_headers_iter_next(&iter, &name, &value))
                size += strlen(name) + strlen(value) + 4; /* ": " and CRLF */

        return size;
}

/* Every check that needs only the head of the request, before libsoup
 * starts reading the body. */
static void on_got_headers(SoupServerMessage *msg, gpointer userdata) {
        SyncHttpServer *server = userdata;
        SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
        const char *method = soup_server_message_get_method(msg);
        GUri *uri = soup_server_message_get_uri(msg);
        const char *path = uri ? g_uri_get_path(uri) : "";
        g_autofree char *message = NULL;
        g_autofree char *source = NULL;
        Connection *c;
        size_t header_size;

        c = lookup_connection(server, msg);
        if (!c) {
                /* Cannot happen: every connection is registered before
                 * libsoup sees it. Close it rather than trust it. */
                g_autoptr(GIOStream) stream = soup_server_message_steal_connection(msg);

                if (stream)
                        g_io_stream_close(stream, NULL, NULL);
                return;
        }

        if (soup_server_message_get_status(msg) != 0) {
                /* libsoup already found the request malformed. */
                refuse(server, c, msg, 400, "malformed HTTP request", NULL);
                return;
        }

        if (!rate_allow(server, ntohl(c->remote.sin_addr.s_addr))) {
                source = format_sin(&c->remote);
                message = g_strdup_printf("too many requests from %s; wait a moment", source);
                refuse(server, c, msg, 429, message, "Retry-After: 1\r\n");
                return;
        }

        header_size = request_header_size(msg);
        if (header_size > SYNC_HTTP_MAX_HEADERS) {
                message = g_strdup_printf("the request headers take %zu bytes, more than the limit of %d bytes",
                                          header_size, SYNC_HTTP_MAX_HEADERS);
                refuse(server, c, msg, 431, message, NULL);
                return;
        }

        if (!g_str_has_prefix(path, PATH_PREFIX)) {
                g_autofree char *quoted = text_quote(path, QUOTE_MAX);

                message = g_strdup_printf("there is no peer-sync endpoint at '%s'; peer-sync paths start with %s",
                                          quoted, PATH_PREFIX);
                refuse(server, c, msg, 404, message, NULL);
                return;
        }

        if (!method || strcmp(method, SOUP_METHOD_POST) != 0) {
                g_autofree char *quoted_method = text_quote(method, QUOTE_MAX);
                g_autofree char *quoted_path = text_quote(path, QUOTE_MAX);

                message = g_strdup_printf("method '%s' is not allowed on '%s'; use POST", quoted_method,
                                          quoted_path);
                refuse(server, c, msg, 405, message, "Allow: POST\r\n");
                return;
        }

        if (soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CONTENT_LENGTH &&
            soup_message_headers_get_content_length(headers) > SYNC_HTTP_MAX_BODY) {
                message = g_strdup_printf("the request body has %" G_GOFFSET_FORMAT " bytes, more than the limit of %d bytes",
                                          soup_message_headers_get_content_length(headers), SYNC_HTTP_MAX_BODY);
                refuse(server, c, msg, 413, message, NULL);
                return;
        }
}

/* A chunked body announces no length: it is cut off as soon as it grows past the limit. */
static void on_got_chunk(SoupServerMessage *msg, GBytes *chunk, gpointer userdata) {
        SyncHttpServer *server = userdata;
        SoupMessageBody *body = soup_server_message_get_request_body(msg);
        g_autofree char *message = NULL;
        Connection *c;

        if (body->length <= SYNC_HTTP_MAX_BODY)
                return;

        c = lookup_connection(server, msg);
        if (!c)
                return;

        message = g_strdup_printf("the request body is larger than the limit of %d bytes", SYNC_HTTP_MAX_BODY);
        refuse(server, c, msg, 413, message, NULL);
}

static void on_request_started(SoupServer *soup, SoupServerMessage *msg, gpointer userdata) {
        SyncHttpServer *server = userdata;

        /* One request per connection: the connection deadline stays a
         * deadline per request, and no idle connection lingers in a pool. */
        soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Connection", "close");

        g_signal_connect(msg, "got-headers", G_CALLBACK(on_got_headers), server);
        g_signal_connect(msg, "got-chunk", G_CALLBACK(on_got_chunk), server);
}

static void respond(SoupServerMessage *msg, unsigned status, char *json) {
        soup_server_message_set_status(msg, status, NULL);
        soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, json, strlen(json));
}

static bool has_header(SoupMessageHeaders *headers, const char *name) {
        return soup_message_headers_get_one(headers, name) != NULL;
}

/* The whole request is in: hand it to the handler. */
static void on_request(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                       gpointer userdata) {
        SyncHttpServer *server = userdata;
        SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
        SoupMessageBody *body = soup_server_message_get_request_body(msg);
        const char *method = soup_server_message_get_method(msg);
        g_autoptr(GBytes) flat = NULL;
        g_autofree char *copy = NULL;
        g_autofree char *json = NULL;
        SyncHttpRequest request = {};
        unsigned status = 0;
        Connection *c;
        size_t len;

        /* on_got_headers() refused all of these already; this only keeps a
         * future change there from letting them through. */
        c = lookup_connection(server, msg);
        if (!c || !method || strcmp(method, SOUP_METHOD_POST) != 0 || !g_str_has_prefix(path, PATH_PREFIX) ||
            body->length > SYNC_HTTP_MAX_BODY) {
                respond(msg, 400, error_json("request refused"));
                return;
        }

        if (body->length == 0) {
                respond(msg, 400, error_json("the request has no body; send the JSON document as the body of the POST"));
                return;
        }

        flat = soup_message_body_flatten(body);
        len = g_bytes_get_size(flat);
        copy = g_malloc(len + 1);
        memcpy(copy, g_bytes_get_data(flat, NULL), len);
        copy[len] = '\0';

        request.path = path;
        request.signature = soup_message_headers_get_one(headers, "X-Pic-Signature");
        request.has_forwarded_header = has_header(headers, "X-Forwarded-For") || has_header(headers, "Forwarded") ||
                                       has_header(headers, "X-Real-IP");
        request.remote = c->remote;
        request.local = c->local;
        request.body = copy;
        request.body_len = len;

        server->handler(&request, &status, &json, server->userdata);

        if (status < 100 || status > 599) {
                g_free(json);
                json = error_json("the request could not be handled");
                status = 500;
        }
        if (!json)
                json = g_strdup("{}");
        respond(msg, status, g_steal_pointer(&json));
}

static void refuse_socket(GSocket *socket) {
        g_autofree char *json = error_jsonf("too many peer-sync connections are open (limit %d); try again later",
                                            SYNC_HTTP_MAX_CONNECTIONS);
        g_autofree char *response = format_raw_response(503, json, "Retry-After: 5\r\n");

        /* Best effort: the answer fits in an empty send buffer, and the
         * connection goes away whether or not it was written. */
        (void) g_socket_send_with_blocking(socket, response, strlen(response), false, NULL, NULL);
        g_socket_shutdown(socket, false, true, NULL);
        g_socket_close(socket, NULL);
}

/* --- the head of a request, looked at before libsoup reads it --- */

/* Whether @data holds the blank line that ends a head. Bare LF line ends
 * count, as libsoup accepts them. */
static bool head_complete(const char *data, size_t len) {
        for (size_t i = 0; i + 1 < len; i++)
                if (data[i] == '\n' &&
                    (data[i + 1] == '\n' || (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n')))
                        return true;
        return false;
}

/* "METHOD target HTTP/1.x": anything else is not a request this server can
 * read, and is answered here with a reason rather than by libsoup without one. */
static bool request_line_valid(const char *head, size_t len) {
        const char *end = memchr(head, '\n', len);
        const char *p = head;
        size_t n;

        if (!end)
                return false;
        if (end > head && end[-1] == '\r')
                end--;

        for (n = 0; p < end && g_ascii_isupper(*p); p++)
                n++;
        if (n == 0 || n > 16 || p >= end || *p++ != ' ')
                return false;
        for (n = 0; p < end && (unsigned char) *p > ' ' && (unsigned char) *p < 0x7f; p++)
                n++;
        if (n == 0 || p >= end || *p++ != ' ')
                return false;
        return end - p == 8 && memcmp(p, "HTTP/1.", 7) == 0 && g_ascii_isdigit(p[7]);
}

/* Wakes the head watch only when more has arrived than was looked at:
 * peeking leaves the bytes queued, which would otherwise keep the socket
 * readable and the watch spinning. */
static void set_receive_low_water(GSocket *socket, size_t bytes) {
        (void) g_socket_set_option(socket, SOL_SOCKET, SO_RCVLOWAT, (gint) MIN(bytes, (size_t) G_MAXINT), NULL);
}

/* Ends the head watch; the connection goes away with the last reference. */
static void head_close(Connection *c) {
        g_autoptr(GSocketConnection) connection = g_steal_pointer(&c->pending);

        connection_stop_head_watch(c);
        g_io_stream_close(G_IO_STREAM(connection), NULL, NULL);
        /* @c is freed when @connection is released, on return. */
}

static void head_refuse(Connection *c, unsigned status, const char *message) {
        GIOStream *stream = G_IO_STREAM(g_steal_pointer(&c->pending));

        connection_stop_head_watch(c);
        set_receive_low_water(c->socket, 1);
        refuse_stream(c->server, c, stream, status, message, NULL);
}

static void head_hand_over(Connection *c) {
        g_autoptr(GSocketConnection) connection = g_steal_pointer(&c->pending);
        g_autoptr(GSocketAddress) local = g_steal_pointer(&c->local_address);
        g_autoptr(GSocketAddress) remote = g_steal_pointer(&c->remote_address);
        SyncHttpServer *server = c->server;

        connection_stop_head_watch(c);
        set_receive_low_water(c->socket, 1);
        if (!soup_server_accept_iostream(server->soup, G_IO_STREAM(connection), local, remote, NULL))
                g_io_stream_close(G_IO_STREAM(connection), NULL, NULL);
}

static gboolean on_head_readable(GSocket *socket, GIOCondition condition, gpointer userdata) {
        Connection *c = userdata;
        g_autofree char *head = g_malloc(HEAD_PEEK_MAX + 1);
        g_autofree char *message = NULL;
        ssize_t n;

        n = recv(g_socket_get_fd(socket), head, HEAD_PEEK_MAX + 1, MSG_PEEK | MSG_DONTWAIT);
        /* Woken without anything new: the idle timeout of the socket, or
         * the client closed (or the connection deadline shut the socket)
         * before its head was complete. Nothing to answer. */
        if (n <= 0 || (size_t) n <= c->head_seen) {
                head_close(c);
                return G_SOURCE_REMOVE;
        }

        if (head_complete(head, (size_t) n)) {
                if (!request_line_valid(head, (size_t) n))
                        head_refuse(c, 400, "malformed HTTP request: the first line must be 'POST <path> HTTP/1.1'");
                else
                        head_hand_over(c);
                return G_SOURCE_REMOVE;
        }

        if ((size_t) n > HEAD_PEEK_MAX) {
                message = g_strdup_printf("the request headers take more than %d bytes; the limit is %d bytes",
                                          HEAD_PEEK_MAX, SYNC_HTTP_MAX_HEADERS);
                head_refuse(c, 431, message);
                return G_SOURCE_REMOVE;
        }

        c->head_seen = (size_t) n;
        set_receive_low_water(socket, (size_t) n + 1);
        return G_SOURCE_CONTINUE;
}

static void take_socket(SyncHttpServer *server, GSocket *socket) {
        g_autoptr(GSocketAddress) remote = NULL;
        g_autoptr(GSocketAddress) local = NULL;
        g_autoptr(GSocketConnection) connection = NULL;
        struct sockaddr_in remote_sin, local_sin;
        Connection *c;

        if (server->connections.length >= SYNC_HTTP_MAX_CONNECTIONS) {
                refuse_socket(socket);
                return;
        }

        remote = g_socket_get_remote_address(socket, NULL);
        local = g_socket_get_local_address(socket, NULL);
        if (!socket_address_to_sin(remote, &remote_sin) || !socket_address_to_sin(local, &local_sin)) {
                g_socket_close(socket, NULL);
                return;
        }

        /* Bounds every wait for the peer, for libsoup and for our refusals. */
        g_socket_set_timeout(socket, SYNC_HTTP_IDLE_TIMEOUT);
        connection = g_socket_connection_factory_create_connection(socket);

        c = g_new0(Connection, 1);
        c->server = server;
        c->connection = connection;
        c->socket = socket;
        c->remote = remote_sin;
        c->local = local_sin;
        c->link.data = c;
        g_queue_push_tail_link(&server->connections, &c->link);
        g_object_weak_ref(G_OBJECT(connection), on_connection_gone, c);
        c->deadline_id = g_timeout_add_seconds(CONNECTION_DEADLINE, on_connection_deadline, c);

        /* Our own accept loop rather than soup_server_listen_socket(): the
         * limits apply before libsoup reads a byte, and a connection over
         * the cap never reaches it. libsoup gets the connection once its
         * head is complete. */
        c->pending = g_steal_pointer(&connection);
        c->local_address = g_steal_pointer(&local);
        c->remote_address = g_steal_pointer(&remote);
        c->head_source = g_socket_create_source(socket, G_IO_IN, NULL);
        g_source_set_callback(c->head_source, G_SOURCE_FUNC(on_head_readable), c, NULL);
        g_source_attach(c->head_source, g_main_context_get_thread_default());
}

static void start_accepting(SyncHttpServer *server);

static gboolean on_accept_retry(gpointer userdata) {
        SyncHttpServer *server = userdata;

        server->accept_retry_id = 0;
        start_accepting(server);
        return G_SOURCE_REMOVE;
}

static gboolean on_incoming(GSocket *listener, GIOCondition condition, gpointer userdata) {
        SyncHttpServer *server = userdata;

        for (unsigned i = 0; i < ACCEPT_BATCH; i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GSocket) socket = g_socket_accept(listener, NULL, &error);
                gint64 now;

                if (socket) {
                        take_socket(server, socket);
                        continue;
                }

                if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
                        return G_SOURCE_CONTINUE;

                now = g_get_monotonic_time();
                if (server->accept_warned_usec == 0 || now - server->accept_warned_usec > 60 * G_USEC_PER_SEC) {
                        g_warning("Failed to accept a peer-sync connection on port %u (pausing briefly): %s",
                                  server->port, error->message);
                        server->accept_warned_usec = now;
                }
                g_clear_pointer(&server->accept_source, g_source_unref);
                server->accept_retry_id = g_timeout_add(ACCEPT_RETRY_MS, on_accept_retry, server);
                return G_SOURCE_REMOVE;
        }

        return G_SOURCE_CONTINUE;
}

static void start_accepting(SyncHttpServer *server) {
        server->accept_source = g_socket_create_source(server->listener, G_IO_IN, NULL);
        g_source_set_callback(server->accept_source, G_SOURCE_FUNC(on_incoming), server, NULL);
        g_source_attach(server->accept_source, g_main_context_get_thread_default());
}

SyncHttpServer *sync_http_server_new(uint32_t address, uint16_t port, SyncHttpHandler handler, void *userdata,
                                     GError **error) {
        g_autoptr(GError) local_error = NULL;
        g_autoptr(GSocket) socket = NULL;
        g_autoptr(GSocketAddress) bind_address = NULL;
        g_autoptr(GSocketAddress) bound = NULL;
        struct sockaddr_in sin = {
                .sin_family = AF_INET,
                .sin_port = htons(port),
                .sin_addr.s_addr = htonl(address),
        };
        g_autofree char *where = NULL;
        struct sockaddr_in bound_sin;
        SyncHttpServer *server;

        g_return_val_if_fail(handler, NULL);

        {
                g_autofree char *text = format_sin(&sin);

                where = g_strdup_printf("%s:%u", text, port);
        }

        socket = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &local_error);
        if (!socket) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "Cannot create the peer-sync socket for '%s': %s",
                            where, local_error->message);
                return NULL;
        }

        /* The tunnel address may not be on an interface yet when the service
         * starts; the socket then receives as soon as it is. */
        (void) g_socket_set_option(socket, IPPROTO_IP, IP_FREEBIND, 1, NULL);

        bind_address = g_socket_address_new_from_native(&sin, sizeof(sin));
        if (!g_socket_bind(socket, bind_address, true, &local_error)) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "Cannot listen for peer-sync on '%s': %s; choose a free sync_port", where,
                            local_error->message);
                return NULL;
        }

        g_socket_set_listen_backlog(socket, SYNC_HTTP_MAX_CONNECTIONS);
        if (!g_socket_listen(socket, &local_error)) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "Cannot listen for peer-sync on '%s': %s", where,
                            local_error->message);
                return NULL;
        }
        g_socket_set_blocking(socket, false);

        bound = g_socket_get_local_address(socket, &local_error);
        if (!bound || !socket_address_to_sin(bound, &bound_sin)) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "Cannot read the peer-sync socket's address for '%s': %s",
                            where, local_error ? local_error->message : "not IPv4");
                return NULL;
        }

        server = g_new0(SyncHttpServer, 1);
        server->listener = g_steal_pointer(&socket);
        server->port = ntohs(bound_sin.sin_port);
        server->handler = handler;
        server->userdata = userdata;
        server->buckets = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        server->cancellable = g_cancellable_new();

        server->soup = soup_server_new(NULL, NULL);
        soup_server_add_handler(server->soup, NULL, on_request, server, NULL);
        g_signal_connect(server->soup, "request-started", G_CALLBACK(on_request_started), server);

        start_accepting(server);
        return server;
}

uint16_t sync_http_server_get_port(SyncHttpServer *server) {
        g_return_val_if_fail(server, 0);
        return server->port;
}

void sync_http_server_free(SyncHttpServer *server) {
        GList *link;

        if (!server)
                return;

        g_cancellable_cancel(server->cancellable);

        if (server->accept_source) {
                g_source_destroy(server->accept_source);
                g_clear_pointer(&server->accept_source, g_source_unref);
        }
        g_clear_handle_id(&server->accept_retry_id, g_source_remove);

        while ((link = g_queue_pop_head_link(&server->connections))) {
                Connection *c = link->data;

                g_object_weak_unref(G_OBJECT(c->connection), on_connection_gone, c);
                connection_free(c);
        }

        g_signal_handlers_disconnect_by_data(server->soup, server);
        soup_server_remove_handler(server->soup, NULL);
        soup_server_disconnect(server->soup);
        g_clear_object(&server->soup);

        g_socket_close(server->listener, NULL);
        g_clear_object(&server->listener);

        g_hash_table_destroy(server->buckets);
        g_clear_object(&server->cancellable);
        g_free(server);
}

/* --- client --- */

struct SyncHttpClient {
        GHashTable *sessions;          /* source address → SoupSession */
        GHashTable *requests;          /* &handle → ClientRequest */
        guint64 next_handle;
};

typedef struct {
        SyncHttpClient *client;        /* NULL once finished, cancelled, or the client is gone */
        guint64 handle;
        SyncHttpDone done;
        void *userdata;

        char *url;
        unsigned timeout_seconds;
        SoupSession *session;
        SoupMessage *message;
        GCancellable *cancellable;
        GInputStream *stream;
        GByteArray *body;
        unsigned status;
        GError *error;                 /* an early failure waiting for its idle callback */

        guint timer_id;
        guint idle_id;
        bool in_flight;                /* an async call holds a pointer to us */
        bool timed_out;
} ClientRequest;

static void request_free(ClientRequest *req) {
        g_clear_object(&req->stream);
        g_clear_object(&req->message);
        g_clear_object(&req->session);
        g_clear_object(&req->cancellable);
        g_clear_pointer(&req->body, g_byte_array_unref);
        g_clear_error(&req->error);
        g_free(req->url);
        g_free(req);
}

/* No callback will be made after this. */
static void request_detach(ClientRequest *req) {
        if (req->client)
                g_hash_table_remove(req->client->requests, &req->handle);
        req->client = NULL;
        req->done = NULL;
        g_clear_handle_id(&req->timer_id, g_source_remove);
        g_clear_handle_id(&req->idle_id, g_source_remove);
}

/* Reports the outcome (once) and frees @req. @error set means no usable answer. */
static void request_finish(ClientRequest *req, const GError *error) {
        SyncHttpDone done = req->done;
        void *userdata = req->userdata;

        request_detach(req);
        /* Whatever libsoup still does for this message (say, the rest of a
         * too-large body) is abandoned. */
        g_cancellable_cancel(req->cancellable);

        if (done) {
                if (error)
                        done(0, "", 0, error, userdata);
                else {
                        g_byte_array_append(req->body, (const guint8 *) "", 1);
                        done(req->status, (const char *) req->body->data, req->body->len - 1, NULL, userdata);
                }
        }
        request_free(req);
}

static void request_fail_transport(ClientRequest *req, const GError *cause) {
        g_autoptr(GError) error = NULL;

        if (req->timed_out)
                error = g_error_new(PIC_ERROR, PIC_ERROR_UNREACHABLE,
                                    "No answer from '%s' within %u seconds; check that the remote cell is running and reachable",
                                    req->url, req->timeout_seconds);
        else
                error = g_error_new(PIC_ERROR, PIC_ERROR_UNREACHABLE,
                                    "Could not reach '%s': %s; check that the remote cell is running and reachable",
                                    req->url, cause ? cause->message : "unknown error");
        request_finish(req, error);
}

static void request_fail_too_large(ClientRequest *req) {
        g_autoptr(GError) error = NULL;

        error = g_error_new(PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                            "The answer from '%s' is larger than the limit of %d bytes", req->url, SYNC_HTTP_MAX_BODY);
        request_finish(req, error);
}

static void on_body_read(GObject *source, GAsyncResult *result, gpointer userdata);

static void request_read_more(ClientRequest *req) {
        size_t want = MIN((size_t) CLIENT_READ_CHUNK, (size_t) SYNC_HTTP_MAX_BODY + 1 - req->body->len);

        req->in_flight = true;
        g_input_stream_read_bytes_async(req->stream, want, G_PRIORITY_DEFAULT, req->cancellable, on_body_read, req);
}

static void on_body_read(GObject *source, GAsyncResult *result, gpointer userdata) {
        ClientRequest *req = userdata;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) bytes = NULL;
        gsize size;

        bytes = g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), result, &error);
        req->in_flight = false;
        if (!req->client) {
                request_free(req);
                return;
        }
        if (!bytes) {
                request_fail_transport(req, error);
                return;
        }

        size = g_bytes_get_size(bytes);
        if (size == 0) {
                request_finish(req, NULL);
                return;
        }

        g_byte_array_append(req->body, g_bytes_get_data(bytes, NULL), size);
        if (req->body->len > SYNC_HTTP_MAX_BODY) {
                request_fail_too_large(req);
                return;
        }
        request_read_more(req);
}

static void on_sent(GObject *source, GAsyncResult *result, gpointer userdata) {
        ClientRequest *req = userdata;
        g_autoptr(GError) error = NULL;
        SoupMessageHeaders *headers;

        req->stream = soup_session_send_finish(SOUP_SESSION(source), result, &error);
        req->in_flight = false;
        if (!req->client) {
                request_free(req);
                return;
        }
        if (!req->stream) {
                request_fail_transport(req, error);
                return;
        }

        req->status = soup_message_get_status(req->message);
        headers = soup_message_get_response_headers(req->message);
        if (soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CONTENT_LENGTH &&
            soup_message_headers_get_content_length(headers) > SYNC_HTTP_MAX_BODY) {
                request_fail_too_large(req);
                return;
        }

        req->body = g_byte_array_new();
        request_read_more(req);
}

static gboolean on_request_timeout(gpointer userdata) {
        ClientRequest *req = userdata;

        req->timer_id = 0;
        req->timed_out = true;
        /* The pending libsoup call returns "cancelled", which is reported as
         * the timeout. */
        g_cancellable_cancel(req->cancellable);
        return G_SOURCE_REMOVE;
}

static gboolean on_early_failure(gpointer userdata) {
        ClientRequest *req = userdata;
        g_autoptr(GError) error = g_steal_pointer(&req->error);

        req->idle_id = 0;
        request_finish(req, error);
        return G_SOURCE_REMOVE;
}

static bool valid_host(const char *host) {
        size_t len = host ? strlen(host) : 0;

        if (len == 0 || len > 253)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!g_ascii_isalnum(host[i]) && host[i] != '.' && host[i] != '-')
                        return false;
        return true;
}

/* Printable ASCII without space, query or fragment: the path goes into the
 * request line as it is. */
static bool valid_path(const char *path) {
        if (!path || path[0] != '/')
                return false;
        for (const unsigned char *p = (const unsigned char *) path; *p; p++)
                if (*p <= ' ' || *p >= 0x7f || *p == '?' || *p == '#')
                        return false;
        return true;
}

static bool valid_header_value(const char *value) {
        for (const char *p = value; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

static SoupSession *client_session(SyncHttpClient *client, uint32_t source) {
        g_autoptr(GSocketAddress) local = NULL;
        SoupSession *session;

        session = g_hash_table_lookup(client->sessions, GUINT_TO_POINTER(source));
        if (session)
                return session;

        if (g_hash_table_size(client->sessions) >= CLIENT_SESSIONS_MAX) {
                /* Requests in flight hold their own reference. */
                GHashTableIter iter;
                gpointer key;

                g_hash_table_iter_init(&iter, client->sessions);
                if (g_hash_table_iter_next(&iter, &key, NULL))
                        g_hash_table_iter_remove(&iter);
        }

        if (source != 0) {
                struct sockaddr_in sin = {
                        .sin_family = AF_INET,
                        .sin_addr.s_addr = htonl(source),
                };

                local = g_socket_address_new_from_native(&sin, sizeof(sin));
        }

        /* No proxy: peer-sync goes straight to the peer (through the tunnel),
         * whatever the environment says. No redirects are followed either
         * (see the message flags). */
        session = g_object_new(SOUP_TYPE_SESSION,
                               "local-address", local,
                               "proxy-resolver", NULL,
                               "max-conns", 16,
                               "max-conns-per-host", 2,
                               "idle-timeout", 30,
                               "user-agent", "pic-celld",
                               NULL);
        g_hash_table_insert(client->sessions, GUINT_TO_POINTER(source), session);
        return session;
}

SyncHttpClient *sync_http_client_new(void) {
        SyncHttpClient *client = g_new0(SyncHttpClient, 1);

        client->sessions = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_object_unref);
        client->requests = g_hash_table_new(g_int64_hash, g_int64_equal);
        return client;
}

void sync_http_client_free(SyncHttpClient *client) {
        GList *requests;
        GHashTableIter iter;
        gpointer value;

        if (!client)
                return;

        /* Freeing the client cancels everything, without callbacks. */
        requests = g_hash_table_get_values(client->requests);
        for (GList *l = requests; l; l = l->next) {
                ClientRequest *req = l->data;

                request_detach(req);
                g_cancellable_cancel(req->cancellable);
                if (!req->in_flight)
                        request_free(req);
        }
        g_list_free(requests);

        g_hash_table_iter_init(&iter, client->sessions);
        while (g_hash_table_iter_next(&iter, NULL, &value))
                soup_session_abort(value);

        g_hash_table_destroy(client->sessions);
        g_hash_table_destroy(client->requests);
        g_free(client);
}

guint64 sync_http_client_post(SyncHttpClient *client, const char *host, uint16_t port, const char *path,
                              uint32_t source, const char *body, size_t body_len, const char *signature,
                              unsigned timeout_seconds, SyncHttpDone done, void *userdata) {
        g_autoptr(GUri) uri = NULL;
        g_autoptr(GBytes) bytes = NULL;
        ClientRequest *req;

        g_return_val_if_fail(client, 0);
        g_return_val_if_fail(done, 0);

        req = g_new0(ClientRequest, 1);
        req->client = client;
        req->handle = ++client->next_handle;
        req->done = done;
        req->userdata = userdata;
        req->timeout_seconds = timeout_seconds > 0 ? timeout_seconds : CLIENT_DEFAULT_TIMEOUT;
        req->cancellable = g_cancellable_new();
        g_hash_table_insert(client->requests, &req->handle, req);

        {
                g_autofree char *quoted_host = text_quote(host, QUOTE_MAX);
                g_autofree char *quoted_path = text_quote(path, QUOTE_MAX);

                req->url = g_strdup_printf("http://%s:%u%s", quoted_host, port, quoted_path);
        }

        /* Argument errors are reported like every other failure: later,
         * from the main loop, so that the caller sees one code path. */
        if (!valid_host(host))
                req->error = g_error_new(PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                         "Invalid peer-sync host in '%s': use an IPv4 address or a DNS name", req->url);
        else if (port == 0)
                req->error = g_error_new(PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                         "Invalid peer-sync port in '%s': use 1-65535", req->url);
        else if (!valid_path(path))
                req->error = g_error_new(PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                         "Invalid peer-sync path in '%s': use an absolute path without query", req->url);
        else if (signature && !valid_header_value(signature))
                req->error = g_error_new(PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                         "Invalid X-Pic-Signature for '%s': control characters are not allowed", req->url);
        else if (body_len > SYNC_HTTP_MAX_BODY)
                req->error = g_error_new(PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                                         "The request to '%s' has %zu bytes, more than the limit of %d bytes",
                                         req->url, body_len, SYNC_HTTP_MAX_BODY);
        else {
                uri = g_uri_build(G_URI_FLAGS_NONE, "http", NULL, host, port, path, NULL, NULL);
                req->message = soup_message_new_from_uri(SOUP_METHOD_POST, uri);
                if (!req->message)
                        req->error = g_error_new(PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                                 "Invalid peer-sync URL '%s'", req->url);
        }

        if (req->error) {
                req->idle_id = g_idle_add(on_early_failure, req);
                return req->handle;
        }

        bytes = g_bytes_new(body ?: "", body ? body_len : 0);
        soup_message_set_request_body_from_bytes(req->message, "application/json", bytes);
        if (signature)
                soup_message_headers_replace(soup_message_get_request_headers(req->message), "X-Pic-Signature",
                                             signature);
        soup_message_add_flags(req->message, SOUP_MESSAGE_NO_REDIRECT);

        req->session = g_object_ref(client_session(client, source));
        /* Not g_timeout_add_seconds(): its coalescing may fire up to a second early. */
        req->timer_id = g_timeout_add((guint) MIN(req->timeout_seconds, G_MAXUINT / 1000) * 1000, on_request_timeout, req);
        req->in_flight = true;
        soup_session_send_async(req->session, req->message, G_PRIORITY_DEFAULT, req->cancellable, on_sent, req);
        return req->handle;
}

void sync_http_client_cancel(SyncHttpClient *client, guint64 handle) {
        ClientRequest *req;

        g_return_if_fail(client);

        req = g_hash_table_lookup(client->requests, &handle);
        if (!req)
                return;

        request_detach(req);
        g_cancellable_cancel(req->cancellable);
        if (!req->in_flight)
                request_free(req);
}

/* --- retries --- */

guint sync_backoff_delay_ms(guint attempt, guint base_ms, guint max_ms, GRand *rand) {
        guint64 delay = base_ms;
        guint64 low, span, offset;
        guint32 r;

        /* Doubling in 64 bits from a 32-bit start stops within 33 rounds and
         * cannot overflow before the cap is applied. */
        for (guint i = 0; i < attempt && delay > 0 && delay < max_ms; i++)
                delay *= 2;
        delay = MIN(delay, (guint64) max_ms);

        low = delay / 2;
        span = delay - low;
        r = rand ? g_rand_int(rand) : g_random_int();
        offset = ((guint64) r * (span + 1)) >> 32;
        return (guint) (low + offset);
}
