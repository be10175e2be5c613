/* test-sync-http.c: unit tests for the peer-sync HTTP server limits, the client and the retry backoff. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#include "pic-error.h"
#include "sync-http.h"
#include "unit-main.h"

#define A(a, b, c, d) (((uint32_t) (a) << 24) | ((uint32_t) (b) << 16) | ((uint32_t) (c) << 8) | (uint32_t) (d))
#define LOCALHOST A(127, 0, 0, 1)
#define SYNC_PATH "/api/cells/peer-sync/accept-invite"

/* --- main loop helpers --- */

static gboolean on_flag_timeout(gpointer userdata) {
        *(bool *) userdata = true;
        return G_SOURCE_REMOVE;
}

/* Runs the default main context until *@flag is set or @timeout_ms pass. */
static bool spin_until(const bool *flag, unsigned timeout_ms) {
        bool expired = false;
        guint id = g_timeout_add(timeout_ms, on_flag_timeout, &expired);

        while (!*flag && !expired)
                g_main_context_iteration(NULL, true);
        if (!expired)
                g_source_remove(id);
        return *flag;
}

static void spin_for(unsigned ms) {
        bool never = false;

        spin_until(&never, ms);
}

/* --- the server under test --- */

typedef struct {
        SyncHttpServer *server;
        uint16_t port;
        SyncHttpClient *client;

        unsigned calls;
        char *path;
        char *signature;
        char *body;
        size_t body_len;
        bool forwarded;
        struct sockaddr_in remote;
        struct sockaddr_in local;

        unsigned answer_status;
        const char *answer;            /* NULL: answer without a body */
        size_t answer_size;            /* > 0: answer with a JSON string of this many bytes */
} Fixture;

static Fixture fx;

static void handler(const SyncHttpRequest *request, unsigned *ret_status, char **ret_json_body, void *userdata) {
        Fixture *f = userdata;

        f->calls++;
        g_free(f->path);
        g_free(f->signature);
        g_free(f->body);
        f->path = g_strdup(request->path);
        f->signature = g_strdup(request->signature);
        f->body = g_memdup2(request->body, request->body_len + 1);
        f->body_len = request->body_len;
        f->forwarded = request->has_forwarded_header;
        f->remote = request->remote;
        f->local = request->local;

        *ret_status = f->answer_status;
        if (f->answer_size > 0) {
                char *json = g_malloc(f->answer_size + 1);

                memset(json, 'x', f->answer_size);
                json[0] = '"';
                json[f->answer_size - 1] = '"';
                json[f->answer_size] = '\0';
                *ret_json_body = json;
        } else
                *ret_json_body = g_strdup(f->answer);
}

static void setup(void) {
        g_autoptr(GError) error = NULL;

        memset(&fx, 0, sizeof(fx));
        fx.answer_status = 200;
        fx.answer = "{\"status\":\"linked\"}";
        fx.server = sync_http_server_new(LOCALHOST, 0, handler, &fx, &error);
        ck_assert_msg(fx.server, "server: %s", error ? error->message : "?");
        fx.port = sync_http_server_get_port(fx.server);
        ck_assert_uint_ne(fx.port, 0);
        fx.client = sync_http_client_new();
}

static void teardown(void) {
        sync_http_client_free(fx.client);
        sync_http_server_free(fx.server);
        /* Let cancelled operations and closing connections finish. */
        spin_for(100);
        g_free(fx.path);
        g_free(fx.signature);
        g_free(fx.body);
}

/* --- client helpers --- */

typedef struct {
        bool called;
        unsigned count;
        unsigned status;
        char *body;
        size_t body_len;
        GError *error;
} PostResult;

static void post_result_clear(PostResult *r) {
        g_free(r->body);
        g_clear_error(&r->error);
        memset(r, 0, sizeof(*r));
}

static void on_done(unsigned status, const char *body, size_t body_len, const GError *error, void *userdata) {
        PostResult *r = userdata;

        r->count++;
        r->called = true;
        r->status = status;
        g_free(r->body);
        r->body = g_memdup2(body, body_len + 1);
        r->body_len = body_len;
        g_clear_error(&r->error);
        if (error)
                r->error = g_error_copy(error);
        ck_assert_int_eq(body[body_len], '\0');
}

static void post_and_wait(PostResult *r, uint16_t port, const char *path, uint32_t source, const char *body,
                          const char *signature, unsigned timeout) {
        post_result_clear(r);
        sync_http_client_post(fx.client, "127.0.0.1", port, path, source, body, body ? strlen(body) : 0, signature,
                              timeout, on_done, r);
        ck_assert_msg(spin_until(&r->called, (timeout + 3) * 1000), "no callback");
}

/* --- raw sockets in a thread, while the main loop serves --- */

typedef struct {
        GThreadFunc func;
        gpointer data;
        gint done;
} Job;

static gpointer job_main(gpointer userdata) {
        Job *job = userdata;

        job->func(job->data);
        g_atomic_int_set(&job->done, 1);
        g_main_context_wakeup(NULL);
        return NULL;
}

static gboolean on_tick(gpointer userdata) {
        return G_SOURCE_CONTINUE;
}

static void run_jobs(Job *jobs, size_t n, unsigned timeout_ms) {
        GThread *threads[8];
        gint64 end = g_get_monotonic_time() + (gint64) timeout_ms * 1000;
        guint tick = g_timeout_add(20, on_tick, NULL);

        ck_assert_uint_le(n, G_N_ELEMENTS(threads));
        for (size_t i = 0; i < n; i++)
                threads[i] = g_thread_new("raw", job_main, &jobs[i]);

        for (;;) {
                bool all = true;

                for (size_t i = 0; i < n; i++)
                        if (!g_atomic_int_get(&jobs[i].done))
                                all = false;
                if (all)
                        break;
                ck_assert_msg(g_get_monotonic_time() < end, "raw client thread did not finish");
                g_main_context_iteration(NULL, true);
        }

        for (size_t i = 0; i < n; i++)
                g_thread_join(threads[i]);
        g_source_remove(tick);
}

static void run_job(GThreadFunc func, gpointer data, unsigned timeout_ms) {
        Job job = { .func = func, .data = data };

        run_jobs(&job, 1, timeout_ms);
}

static GSocket *raw_connect(uint16_t port, uint32_t source) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GSocket) socket = NULL;
        g_autoptr(GInetAddress) inet = g_inet_address_new_from_string("127.0.0.1");
        g_autoptr(GSocketAddress) address = g_inet_socket_address_new(inet, port);

        socket = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
        g_assert_nonnull(socket);
        g_socket_set_timeout(socket, 30);
        if (source != 0) {
                struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(source) };
                g_autoptr(GSocketAddress) local = g_socket_address_new_from_native(&sin, sizeof(sin));

                g_assert_true(g_socket_bind(socket, local, true, &error));
        }
        if (!g_socket_connect(socket, address, NULL, &error))
                return NULL;
        return g_steal_pointer(&socket);
}

typedef struct {
        uint16_t port;
        uint32_t source;
        const char *request;
        size_t request_len;
        unsigned byte_interval_ms;     /* > 0: send one byte at a time */
        bool wait_before_send;

        GString *response;
        bool connected;
        bool closed;                   /* EOF or error seen */
        double closed_after;           /* seconds from connect */
} Raw;

static void raw_init(Raw *raw, uint16_t port, const char *request) {
        memset(raw, 0, sizeof(*raw));
        raw->port = port;
        raw->request = request;
        raw->request_len = request ? strlen(request) : 0;
        raw->response = g_string_new(NULL);
}

static void raw_clear(Raw *raw) {
        g_string_free(raw->response, true);
}

/* Reads until the server closes; true when it did. */
static bool raw_read_to_end(GSocket *socket, GString *response) {
        char buffer[4096];

        for (;;) {
                gssize n = g_socket_receive(socket, buffer, sizeof(buffer), NULL, NULL);

                if (n <= 0)
                        return true;
                g_string_append_len(response, buffer, n);
        }
}

static gpointer raw_run(gpointer userdata) {
        Raw *raw = userdata;
        g_autoptr(GSocket) socket = raw_connect(raw->port, raw->source);
        gint64 start = g_get_monotonic_time();

        if (!socket)
                return NULL;
        raw->connected = true;

        if (raw->byte_interval_ms > 0) {
                for (size_t i = 0; i < raw->request_len; i++) {
                        char buffer[4096];
                        gssize n;

                        if (g_socket_send(socket, raw->request + i, 1, NULL, NULL) != 1)
                                break;
                        if (!g_socket_condition_timed_wait(socket, G_IO_IN, (gint64) raw->byte_interval_ms * 1000, NULL,
                                                           NULL))
                                continue;
                        n = g_socket_receive(socket, buffer, sizeof(buffer), NULL, NULL);
                        if (n <= 0)
                                break;
                        g_string_append_len(raw->response, buffer, n);
                }
        } else if (raw->request_len > 0) {
                size_t sent = 0;

                while (sent < raw->request_len) {
                        gssize n = g_socket_send(socket, raw->request + sent, raw->request_len - sent, NULL, NULL);

                        if (n <= 0)
                                break;
                        sent += (size_t) n;
                }
        }

        raw->closed = raw_read_to_end(socket, raw->response);
        raw->closed_after = (double) (g_get_monotonic_time() - start) / G_USEC_PER_SEC;
        return NULL;
}

static unsigned raw_status(const Raw *raw) {
        if (!g_str_has_prefix(raw->response->str, "HTTP/1.1 "))
                return 0;
        return (unsigned) atoi(raw->response->str + 9);
}

static const char *raw_body(const Raw *raw) {
        const char *p = strstr(raw->response->str, "\r\n\r\n");

        return p ? p + 4 : "";
}

static void run_raw(Raw *raw, unsigned timeout_ms) {
        run_job(raw_run, raw, timeout_ms);
        ck_assert(raw->connected);
}

/* --- round trips --- */

START_TEST(test_round_trip) {
        PostResult r = {};

        post_and_wait(&r, fx.port, SYNC_PATH, 0, "{\"a\":1}", "sha256=abc", 5);
        ck_assert_ptr_null(r.error);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "{\"status\":\"linked\"}");
        ck_assert_uint_eq(r.body_len, strlen("{\"status\":\"linked\"}"));

        ck_assert_uint_eq(fx.calls, 1);
        ck_assert_str_eq(fx.path, SYNC_PATH);
        ck_assert_str_eq(fx.signature, "sha256=abc");
        ck_assert_str_eq(fx.body, "{\"a\":1}");
        ck_assert_uint_eq(fx.body_len, 7);
        ck_assert(!fx.forwarded);
        ck_assert_uint_eq(ntohl(fx.remote.sin_addr.s_addr), LOCALHOST);
        ck_assert_uint_ne(ntohs(fx.remote.sin_port), 0);
        ck_assert_uint_ne(ntohs(fx.remote.sin_port), fx.port);
        ck_assert_uint_eq(ntohl(fx.local.sin_addr.s_addr), LOCALHOST);
        ck_assert_uint_eq(ntohs(fx.local.sin_port), fx.port);

        /* exactly once */
        spin_for(100);
        ck_assert_uint_eq(r.count, 1);

        /* without a signature the handler sees NULL */
        post_and_wait(&r, fx.port, SYNC_PATH, 0, "{}", NULL, 5);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_ptr_null(fx.signature);
        ck_assert_uint_eq(fx.calls, 2);
        post_result_clear(&r);
}
END_TEST

START_TEST(test_source_address) {
        PostResult r = {};

        /* Any 127/8 address is local, so the client can speak from another one. */
        post_and_wait(&r, fx.port, SYNC_PATH, A(127, 0, 0, 2), "{}", NULL, 5);
        ck_assert_ptr_null(r.error);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_uint_eq(ntohl(fx.remote.sin_addr.s_addr), A(127, 0, 0, 2));
        ck_assert_uint_eq(ntohl(fx.local.sin_addr.s_addr), LOCALHOST);
        post_result_clear(&r);
}
END_TEST

static const struct {
        unsigned status;
        const char *answer;
        const char *expected;
} answers[] = {
        { 200, "{\"status\":\"already-linked\"}", "{\"status\":\"already-linked\"}" },
        { 401, "{\"error\":\"unknown pairing\"}", "{\"error\":\"unknown pairing\"}" },
        { 409, "{\"error\":\"subnet overlaps\"}", "{\"error\":\"subnet overlaps\"}" },
        { 200, NULL, "{}" },
        { 0, NULL, "{\"error\":\"the request could not be handled\"}" },
};

START_TEST(test_handler_answers) {
        PostResult r = {};

        fx.answer_status = answers[_i].status;
        fx.answer = answers[_i].answer;
        post_and_wait(&r, fx.port, SYNC_PATH, 0, "{}", NULL, 5);
        ck_assert_ptr_null(r.error);
        ck_assert_uint_eq(r.status, answers[_i].status ?: 500);
        ck_assert_str_eq(r.body, answers[_i].expected);
        post_result_clear(&r);
}
END_TEST

/* --- refusals before the handler --- */

static const struct {
        const char *request;
        unsigned status;
        const char *body_contains;
        const char *header_contains;
} refusals[] = {
        { "GET " SYNC_PATH " HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method 'GET' is not allowed on '" SYNC_PATH "'; use POST",
          "\r\nAllow: POST\r\n" },
        { "PUT " SYNC_PATH " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 405, "method 'PUT'", NULL },
        { "POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 404,
          "there is no peer-sync endpoint at '/other'", NULL },
        { "POST /api/cells/peer-syncx HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 404,
          "'/api/cells/peer-syncx'", NULL },
        { "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 404, "there is no peer-sync endpoint at '/'", NULL },
        { "POST " SYNC_PATH " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400, "the request has no body", NULL },
        { "POST " SYNC_PATH " HTTP/1.1\r\nHost: x\r\n\r\n", 400, "the request has no body", NULL },
        /* the body is never sent: the answer must come after the headers alone */
        { "POST " SYNC_PATH " HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n", 413,
          "the request body has 10000000 bytes, more than the limit of 65536 bytes", NULL },
        { "POST " SYNC_PATH " HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n", 413, "65537 bytes", NULL },
};

START_TEST(test_refusals) {
        Raw raw;

        raw_init(&raw, fx.port, refusals[_i].request);
        run_raw(&raw, 5000);
        ck_assert_msg(raw_status(&raw) == refusals[_i].status, "expected %u, got: %s", refusals[_i].status,
                      raw.response->str);
        ck_assert(raw.closed);
        ck_assert_ptr_nonnull(strstr(raw.response->str, "\r\nContent-Type: application/json\r\n"));
        ck_assert_msg(strstr(raw_body(&raw), refusals[_i].body_contains), "body: %s", raw_body(&raw));
        ck_assert(g_str_has_prefix(raw_body(&raw), "{\"error\":\""));
        if (refusals[_i].header_contains)
                ck_assert_ptr_nonnull(strstr(raw.response->str, refusals[_i].header_contains));
        ck_assert_uint_eq(fx.calls, 0);
        raw_clear(&raw);
}
END_TEST

START_TEST(test_chunked_body_too_large) {
        g_autoptr(GString) request = g_string_new("POST " SYNC_PATH " HTTP/1.1\r\nHost: x\r\n"
                                                  "Transfer-Encoding: chunked\r\n\r\n");
        g_autofree char *chunk = g_strnfill(8000, 'a');
        Raw raw;

        /* 72000 bytes announced nowhere, and no final chunk */
        for (unsigned i = 0; i < 9; i++)
                g_string_append_printf(request, "%x\r\n%s\r\n", 8000, chunk);

        raw_init(&raw, fx.port, request->str);
        run_raw(&raw, 5000);
        ck_assert_msg(raw_status(&raw) == 413, "got: %.200s", raw.response->str);
        ck_assert_ptr_nonnull(strstr(raw_body(&raw), "larger than the limit of 65536 bytes"));
        ck_assert_uint_eq(fx.calls, 0);
        raw_clear(&raw);
}
END_TEST

START_TEST(test_chunked_body_fits) {
        const char *request = "POST " SYNC_PATH " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        Raw raw;

        raw_init(&raw, fx.port, request);
        run_raw(&raw, 5000);
        ck_assert_msg(raw_status(&raw) == 200, "got: %s", raw.response->str);
        ck_assert_uint_eq(fx.calls, 1);
        ck_assert_str_eq(fx.body, "{\"a\":1}");
        raw_clear(&raw);
}
END_TEST

START_TEST(test_body_at_limit) {
        g_autofree char *body = g_malloc(SYNC_HTTP_MAX_BODY + 2);
        PostResult r = {};

        memset(body, ' ', SYNC_HTTP_MAX_BODY + 1);
        body[0] = '{';
        body[SYNC_HTTP_MAX_BODY - 1] = '}';
        body[SYNC_HTTP_MAX_BODY] = '\0';

        post_and_wait(&r, fx.port, SYNC_PATH, 0, body, NULL, 5);
        ck_assert_ptr_null(r.error);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_uint_eq(fx.body_len, SYNC_HTTP_MAX_BODY);

        /* one byte more is refused by the client before anything is sent */
        body[SYNC_HTTP_MAX_BODY] = ' ';
        body[SYNC_HTTP_MAX_BODY + 1] = '\0';
        post_and_wait(&r, fx.port, SYNC_PATH, 0, body, NULL, 5);
        ck_assert_uint_eq(r.status, 0);
        ck_assert(g_error_matches(r.error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED));
        ck_assert_ptr_nonnull(strstr(r.error->message, "65537 bytes"));
        ck_assert_uint_eq(fx.calls, 1);
        post_result_clear(&r);
}
END_TEST

START_TEST(test_headers_too_large) {
        g_autofree char *pad = g_strnfill(SYNC_HTTP_MAX_HEADERS, 'p');
        g_autofree char *request = g_strdup_printf("POST " SYNC_PATH " HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n"
                                                   "Content-Length: 2\r\n\r\n{}",
                                                   pad);
        Raw raw;

        raw_init(&raw, fx.port, request);
        run_raw(&raw, 5000);
        ck_assert_msg(raw_status(&raw) == 431, "got: %.200s", raw.response->str);
        ck_assert_ptr_nonnull(strstr(raw_body(&raw), "more than the limit of 8192 bytes"));
        ck_assert_uint_eq(fx.calls, 0);
        raw_clear(&raw);
}
END_TEST

START_TEST(test_headers_huge) {
        g_autofree char *pad = g_strnfill(200 * 1024, 'p');
        g_autofree char *request = g_strdup_printf("POST " SYNC_PATH " HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n"
                                                   "Content-Length: 2\r\n\r\n{}",
                                                   pad);
        Raw raw;

        /* Past what libsoup buffers, the connection is simply closed (or 431). */
        raw_init(&raw, fx.port, request);
        run_raw(&raw, 5000);
        ck_assert(raw.closed);
        ck_assert_msg(raw_status(&raw) == 0 || raw_status(&raw) == 431, "got: %.200s", raw.response->str);
        ck_assert_uint_eq(fx.calls, 0);
        raw_clear(&raw);
}
END_TEST

/* --- forwarded headers are noticed, never believed --- */

static const struct {
        const char *header;
        bool forwarded;
} forwarded_headers[] = {
        { "X-Forwarded-For: 10.23.7.5\r\n", true },
        { "Forwarded: for=10.23.7.5\r\n", true },
        { "X-Real-IP: 10.23.7.5\r\n", true },
        { "x-forwarded-for: 10.23.7.5\r\n", true },
        { "X-Other: 10.23.7.5\r\n", false },
};

START_TEST(test_forwarded_header) {
        g_autofree char *request = g_strdup_printf("POST " SYNC_PATH " HTTP/1.1\r\nHost: x\r\n%s"
                                                   "Content-Length: 2\r\n\r\n{}",
                                                   forwarded_headers[_i].header);
        Raw raw;

        raw_init(&raw, fx.port, request);
        run_raw(&raw, 5000);
        ck_assert_msg(raw_status(&raw) == 200, "got: %s", raw.response->str);
        ck_assert_uint_eq(fx.calls, 1);
        ck_assert(fx.forwarded == forwarded_headers[_i].forwarded);
        ck_assert_uint_eq(ntohl(fx.remote.sin_addr.s_addr), LOCALHOST);
        raw_clear(&raw);
}
END_TEST

/* --- rate limit --- */

/* Sends from @source until refused; returns how many were answered 200.
 * The bucket refills while this runs, so the caller gets the time taken. */
static unsigned exhaust_source(PostResult *r, uint32_t source, double *ret_seconds) {
        gint64 start = g_get_monotonic_time();
        unsigned accepted = 0;

        for (unsigned i = 0; i < 2 * SYNC_HTTP_RATE_BURST; i++) {
                post_and_wait(r, fx.port, SYNC_PATH, source, "{}", NULL, 5);
                ck_assert_ptr_null(r->error);
                if (r->status != 200)
                        break;
                accepted++;
        }
        *ret_seconds = (double) (g_get_monotonic_time() - start) / G_USEC_PER_SEC;
        return accepted;
}

START_TEST(test_rate_limit) {
        PostResult r = {};
        uint32_t source = A(127, 0, 0, 3);
        unsigned accepted;
        double seconds;

        accepted = exhaust_source(&r, source, &seconds);
        /* the whole burst, plus at most what trickled in meanwhile */
        ck_assert_uint_ge(accepted, SYNC_HTTP_RATE_BURST);
        ck_assert_msg(accepted <= SYNC_HTTP_RATE_BURST + (unsigned) (seconds * SYNC_HTTP_RATE_PER_SECOND),
                      "%u accepted in %.2f s", accepted, seconds);
        ck_assert_uint_eq(r.status, 429);
        ck_assert_str_eq(r.body, "{\"error\":\"too many requests from 127.0.0.3; wait a moment\"}");
        ck_assert_uint_eq(fx.calls, accepted);

        /* another source has its own bucket */
        post_and_wait(&r, fx.port, SYNC_PATH, A(127, 0, 0, 4), "{}", NULL, 5);
        ck_assert_uint_eq(r.status, 200);

        /* the bucket refills: one more after half a second (two if the
         * refused one left almost a whole token) */
        spin_for(1000 / SYNC_HTTP_RATE_PER_SECOND + 100);
        accepted = exhaust_source(&r, source, &seconds);
        ck_assert_uint_ge(accepted, 1);
        ck_assert_msg(accepted <= 2 + (unsigned) (seconds * SYNC_HTTP_RATE_PER_SECOND), "%u accepted", accepted);
        ck_assert_uint_eq(r.status, 429);
        post_result_clear(&r);
}
END_TEST

typedef struct {
        uint16_t port;
        unsigned n_sources;
        unsigned answered;
} SourceFlood;

static gpointer flood_run(gpointer userdata) {
        SourceFlood *flood = userdata;
        const char *request = "POST " SYNC_PATH " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";

        for (unsigned i = 0; i < flood->n_sources; i++) {
                g_autoptr(GSocket) socket = raw_connect(flood->port, A(127, 1, i >> 8, i & 0xff));
                g_autoptr(GString) response = g_string_new(NULL);

                if (!socket)
                        continue;
                if (g_socket_send(socket, request, strlen(request), NULL, NULL) != (gssize) strlen(request))
                        continue;
                raw_read_to_end(socket, response);
                if (g_str_has_prefix(response->str, "HTTP/1.1 200"))
                        flood->answered++;
        }
        return NULL;
}

START_TEST(test_rate_table_bounded) {
        SourceFlood flood = { .port = fx.port, .n_sources = SYNC_HTTP_MAX_TRACKED_SOURCES };
        PostResult r = {};
        uint32_t source = A(127, 0, 0, 3);
        double seconds;

        exhaust_source(&r, source, &seconds);
        ck_assert_uint_eq(r.status, 429);

        /* as many new sources as the table holds push the oldest out */
        run_job(flood_run, &flood, 20000);
        ck_assert_uint_eq(flood.answered, SYNC_HTTP_MAX_TRACKED_SOURCES);

        post_and_wait(&r, fx.port, SYNC_PATH, source, "{}", NULL, 5);
        ck_assert_uint_eq(r.status, 200);
        post_result_clear(&r);
}
END_TEST

/* --- connections --- */

typedef struct {
        uint16_t port;
        GString *refused;              /* what the connection over the cap received */
        bool refused_closed;
        unsigned after_status;
} CapRun;

static gpointer cap_run(gpointer userdata) {
        CapRun *run = userdata;
        GSocket *held[SYNC_HTTP_MAX_CONNECTIONS];
        const char *request = "POST " SYNC_PATH " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
        g_autoptr(GSocket) extra = NULL;
        g_autoptr(GSocket) after = NULL;
        g_autoptr(GString) response = g_string_new(NULL);

        for (unsigned i = 0; i < SYNC_HTTP_MAX_CONNECTIONS; i++) {
                held[i] = raw_connect(run->port, 0);
                g_assert_nonnull(held[i]);
        }
        g_usleep(300 * 1000);

        extra = raw_connect(run->port, 0);
        g_assert_nonnull(extra);
        g_socket_set_timeout(extra, 3);
        run->refused_closed = raw_read_to_end(extra, run->refused);

        for (unsigned i = 0; i < SYNC_HTTP_MAX_CONNECTIONS; i++) {
                g_socket_close(held[i], NULL);
                g_object_unref(held[i]);
        }
        g_usleep(300 * 1000);

        after = raw_connect(run->port, 0);
        g_assert_nonnull(after);
        g_socket_send(after, request, strlen(request), NULL, NULL);
        raw_read_to_end(after, response);
        if (g_str_has_prefix(response->str, "HTTP/1.1 "))
                run->after_status = (unsigned) atoi(response->str + 9);
        return NULL;
}

START_TEST(test_connection_cap) {
        CapRun run = { .port = fx.port, .refused = g_string_new(NULL) };

        run_job(cap_run, &run, 10000);
        ck_assert(run.refused_closed);
        ck_assert_msg(g_str_has_prefix(run.refused->str, "HTTP/1.1 503 "), "got: %s", run.refused->str);
        ck_assert_ptr_nonnull(strstr(run.refused->str, "too many peer-sync connections are open (limit 64)"));
        /* closed connections free their slots */
        ck_assert_uint_eq(run.after_status, 200);
        ck_assert_uint_eq(fx.calls, 1);
        g_string_free(run.refused, true);
}
END_TEST

START_TEST(test_slow_and_silent_clients) {
        Raw raws[2];
        Job jobs[2];

        /* one byte per second of a request that would never end */
        raw_init(&raws[0], fx.port, "POST " SYNC_PATH " HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        raws[0].byte_interval_ms = 1000;
        /* nothing at all */
        raw_init(&raws[1], fx.port, NULL);

        for (unsigned i = 0; i < 2; i++)
                jobs[i] = (Job) { .func = raw_run, .data = &raws[i] };
        run_jobs(jobs, 2, (SYNC_HTTP_IDLE_TIMEOUT + 12) * 1000);

        ck_assert(raws[0].connected && raws[1].connected);
        ck_assert(raws[0].closed && raws[1].closed);
        /* the silent one hits the idle timeout */
        ck_assert_msg(raws[1].closed_after >= SYNC_HTTP_IDLE_TIMEOUT - 1 &&
                      raws[1].closed_after <= SYNC_HTTP_IDLE_TIMEOUT + 3,
                      "silent client closed after %.1f s", raws[1].closed_after);
        /* the trickling one makes progress, so only the whole-request deadline stops it */
        ck_assert_msg(raws[0].closed_after > SYNC_HTTP_IDLE_TIMEOUT + 1 &&
                      raws[0].closed_after <= SYNC_HTTP_IDLE_TIMEOUT + 8,
                      "slow client closed after %.1f s", raws[0].closed_after);
        ck_assert_uint_eq(fx.calls, 0);
        raw_clear(&raws[0]);
        raw_clear(&raws[1]);
}
END_TEST

START_TEST(test_free_with_open_connections) {
        g_autoptr(GSocket) socket = NULL;
        g_autoptr(GString) response = g_string_new(NULL);
        const char *partial = "POST " SYNC_PATH " HTTP/1.1\r\nHost: x\r\n";
        const char *refused = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        g_autoptr(GSocket) refused_socket = NULL;

        /* blocking connects to a listening socket complete in the kernel */
        socket = raw_connect(fx.port, 0);
        refused_socket = raw_connect(fx.port, 0);
        ck_assert_ptr_nonnull(socket);
        ck_assert_ptr_nonnull(refused_socket);
        g_socket_send(socket, partial, strlen(partial), NULL, NULL);
        g_socket_send(refused_socket, refused, strlen(refused), NULL, NULL);
        spin_for(200);

        sync_http_server_free(fx.server);
        fx.server = NULL;
        spin_for(100);

        g_socket_set_timeout(socket, 3);
        ck_assert(raw_read_to_end(socket, response));
        ck_assert_uint_eq(response->len, 0);
}
END_TEST

START_TEST(test_bind_conflict) {
        g_autoptr(GError) error = NULL;
        g_autoptr(SyncHttpServer) second = NULL;
        g_autofree char *where = g_strdup_printf("'127.0.0.1:%u'", fx.port);

        second = sync_http_server_new(LOCALHOST, fx.port, handler, &fx, &error);
        ck_assert_ptr_null(second);
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_FAILED));
        ck_assert_msg(strstr(error->message, where), "message: %s", error->message);
}
END_TEST

/* --- client --- */

/* A socket that listens and never answers: the kernel completes the
 * handshake, nobody reads. */
static GSocket *silent_listener(uint16_t *ret_port) {
        g_autoptr(GSocket) socket = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
        g_autoptr(GInetAddress) inet = g_inet_address_new_from_string("127.0.0.1");
        g_autoptr(GSocketAddress) address = g_inet_socket_address_new(inet, 0);
        g_autoptr(GSocketAddress) bound = NULL;

        ck_assert(g_socket_bind(socket, address, true, NULL));
        ck_assert(g_socket_listen(socket, NULL));
        bound = g_socket_get_local_address(socket, NULL);
        *ret_port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
        return g_steal_pointer(&socket);
}

START_TEST(test_client_timeout) {
        uint16_t port;
        g_autoptr(GSocket) listener = silent_listener(&port);
        g_autofree char *url = g_strdup_printf("'http://127.0.0.1:%u" SYNC_PATH "'", port);
        PostResult r = {};
        gint64 start = g_get_monotonic_time();
        double elapsed;

        post_and_wait(&r, port, SYNC_PATH, 0, "{}", NULL, 1);
        elapsed = (double) (g_get_monotonic_time() - start) / G_USEC_PER_SEC;
        ck_assert_uint_eq(r.status, 0);
        ck_assert(g_error_matches(r.error, PIC_ERROR, PIC_ERROR_UNREACHABLE));
        ck_assert_msg(strstr(r.error->message, "within 1 seconds"), "message: %s", r.error->message);
        ck_assert_msg(strstr(r.error->message, url), "message: %s", r.error->message);
        ck_assert_msg(elapsed >= 0.9 && elapsed < 2.5, "timed out after %.1f s", elapsed);

        spin_for(100);
        ck_assert_uint_eq(r.count, 1);
        post_result_clear(&r);
}
END_TEST

START_TEST(test_client_unreachable) {
        uint16_t port;
        PostResult r = {};

        /* a port that was just free */
        {
                g_autoptr(GSocket) listener = silent_listener(&port);

                g_socket_close(listener, NULL);
        }

        post_and_wait(&r, port, SYNC_PATH, 0, "{}", NULL, 5);
        ck_assert_uint_eq(r.status, 0);
        ck_assert(g_error_matches(r.error, PIC_ERROR, PIC_ERROR_UNREACHABLE));
        ck_assert_msg(strstr(r.error->message, "Could not reach 'http://127.0.0.1:"), "message: %s", r.error->message);
        post_result_clear(&r);
}
END_TEST

static const struct {
        size_t size;
        bool ok;
} answer_sizes[] = {
        { SYNC_HTTP_MAX_BODY, true },
        { SYNC_HTTP_MAX_BODY + 1, false },
        { 4 * SYNC_HTTP_MAX_BODY, false },
};

START_TEST(test_client_answer_size) {
        PostResult r = {};

        fx.answer_size = answer_sizes[_i].size;
        post_and_wait(&r, fx.port, SYNC_PATH, 0, "{}", NULL, 5);
        if (answer_sizes[_i].ok) {
                ck_assert_ptr_null(r.error);
                ck_assert_uint_eq(r.status, 200);
                ck_assert_uint_eq(r.body_len, answer_sizes[_i].size);
        } else {
                ck_assert_uint_eq(r.status, 0);
                ck_assert(g_error_matches(r.error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED));
                ck_assert_ptr_nonnull(strstr(r.error->message, "larger than the limit of 65536 bytes"));
        }
        post_result_clear(&r);
}
END_TEST

typedef struct {
        GSocket *listener;
        size_t size;
} StreamingServer;

/* Answers one request with a body that only the end of the connection delimits. */
static gpointer streaming_server_run(gpointer userdata) {
        StreamingServer *s = userdata;
        g_autoptr(GSocket) socket = g_socket_accept(s->listener, NULL, NULL);
        const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
        g_autofree char *body = g_strnfill(s->size, ' ');
        char buffer[4096];

        g_assert_nonnull(socket);
        g_socket_set_timeout(socket, 5);
        (void) g_socket_receive(socket, buffer, sizeof(buffer), NULL, NULL);
        g_socket_send(socket, head, strlen(head), NULL, NULL);
        for (size_t sent = 0; sent < s->size;) {
                gssize n = g_socket_send(socket, body + sent, s->size - sent, NULL, NULL);

                if (n <= 0)
                        break;
                sent += (size_t) n;
        }
        g_socket_close(socket, NULL);
        return NULL;
}

START_TEST(test_client_answer_size_streamed) {
        StreamingServer s = { .size = 3 * SYNC_HTTP_MAX_BODY };
        uint16_t port;
        PostResult r = {};
        GThread *thread;

        s.listener = silent_listener(&port);
        thread = g_thread_new("streaming", streaming_server_run, &s);

        sync_http_client_post(fx.client, "127.0.0.1", port, SYNC_PATH, 0, "{}", 2, NULL, 5, on_done, &r);
        ck_assert(spin_until(&r.called, 8000));
        g_thread_join(thread);
        g_object_unref(s.listener);

        ck_assert_uint_eq(r.status, 0);
        ck_assert(g_error_matches(r.error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED));
        post_result_clear(&r);
}
END_TEST

START_TEST(test_client_cancel) {
        uint16_t port;
        g_autoptr(GSocket) listener = silent_listener(&port);
        PostResult r = {};
        PostResult other = {};
        guint64 handle, handle2;

        /* at once */
        handle = sync_http_client_post(fx.client, "127.0.0.1", port, SYNC_PATH, 0, "{}", 2, NULL, 1, on_done, &r);
        ck_assert_uint_ne(handle, 0);
        sync_http_client_cancel(fx.client, handle);

        /* while waiting for the answer; a second request goes on */
        handle = sync_http_client_post(fx.client, "127.0.0.1", port, SYNC_PATH, 0, "{}", 2, NULL, 1, on_done, &r);
        handle2 = sync_http_client_post(fx.client, "127.0.0.1", fx.port, SYNC_PATH, 0, "{}", 2, NULL, 5, on_done,
                                        &other);
        ck_assert_uint_ne(handle, handle2);
        spin_for(200);
        sync_http_client_cancel(fx.client, handle);
        /* twice, and an unknown handle: nothing happens */
        sync_http_client_cancel(fx.client, handle);
        sync_http_client_cancel(fx.client, 987654);

        /* past the 1 s timeout: a cancelled request never calls back */
        spin_for(1200);
        ck_assert(!r.called);
        ck_assert_uint_eq(other.count, 1);
        ck_assert_uint_eq(other.status, 200);

        /* an early (argument) failure can be cancelled too */
        handle = sync_http_client_post(fx.client, "bad host", port, SYNC_PATH, 0, "{}", 2, NULL, 1, on_done, &r);
        sync_http_client_cancel(fx.client, handle);
        spin_for(100);
        ck_assert(!r.called);

        /* freeing the client cancels what is pending */
        sync_http_client_post(fx.client, "127.0.0.1", port, SYNC_PATH, 0, "{}", 2, NULL, 1, on_done, &r);
        spin_for(100);
        sync_http_client_free(fx.client);
        fx.client = NULL;
        spin_for(300);
        ck_assert(!r.called);
        post_result_clear(&other);
}
END_TEST

static const struct {
        const char *host;
        const char *path;
        const char *signature;
        const char *message_contains;
} bad_posts[] = {
        { "bad host", SYNC_PATH, NULL, "Invalid peer-sync host in 'http://bad host:" },
        { "", SYNC_PATH, NULL, "Invalid peer-sync host" },
        { "a/b", SYNC_PATH, NULL, "Invalid peer-sync host in 'http://a/b:" },
        { "127.0.0.1", "api", NULL, "Invalid peer-sync path in 'http://127.0.0.1:1api'" },
        { "127.0.0.1", "/a b", NULL, "Invalid peer-sync path" },
        { "127.0.0.1", "/a?b=1", NULL, "Invalid peer-sync path" },
        { "127.0.0.1", "/caf\xc3\xa9", NULL, "Invalid peer-sync path in 'http://127.0.0.1:1/caf\\303\\251'" },
        { "127.0.0.1", NULL, NULL, "Invalid peer-sync path in 'http://127.0.0.1:1'" },
        { "127.0.0.1", "/a\r\nX-Evil: 1", NULL, "Invalid peer-sync path in 'http://127.0.0.1:1/a\\r\\nX-Evil: 1'" },
        { "127.0.0.1", SYNC_PATH, "sha256=a\r\nX-Evil: 1", "Invalid X-Pic-Signature" },
};

START_TEST(test_client_bad_arguments) {
        PostResult r = {};

        sync_http_client_post(fx.client, bad_posts[_i].host, 1, bad_posts[_i].path, 0, "{}", 2,
                              bad_posts[_i].signature, 5, on_done, &r);
        /* reported from the main loop, never from inside the call */
        ck_assert(!r.called);
        ck_assert(spin_until(&r.called, 1000));
        ck_assert_uint_eq(r.status, 0);
        ck_assert(g_error_matches(r.error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT));
        ck_assert_msg(strstr(r.error->message, bad_posts[_i].message_contains), "message: %s", r.error->message);
        post_result_clear(&r);
}
END_TEST

/* --- backoff --- */

static guint64 expected_cap(guint attempt, guint base_ms, guint max_ms) {
        guint64 delay = base_ms;

        for (guint i = 0; i < attempt && delay > 0 && delay < max_ms; i++)
                delay *= 2;
        return MIN(delay, (guint64) max_ms);
}

static const struct {
        guint attempt;
        guint base_ms;
        guint max_ms;
} backoff_cases[] = {
        { 0, 1000, 60000 },
        { 1, 1000, 60000 },
        { 5, 1000, 60000 },
        { 6, 1000, 60000 },
        { 7, 1000, 60000 },
        { 40, 1000, 60000 },
        { G_MAXUINT, 1000, 60000 },
        { G_MAXUINT, G_MAXUINT, G_MAXUINT },
        { 31, 2, G_MAXUINT },
        { 3, 5000, 1000 },             /* a cap below the base wins */
        { 0, 1, 10 },
};

START_TEST(test_backoff_bounds) {
        g_autoptr(GRand) rand = g_rand_new_with_seed(42 + _i);
        guint attempt = backoff_cases[_i].attempt;
        guint base = backoff_cases[_i].base_ms;
        guint max = backoff_cases[_i].max_ms;
        guint64 cap = expected_cap(attempt, base, max);
        guint lowest = G_MAXUINT, highest = 0;

        for (unsigned n = 0; n < 2000; n++) {
                guint d = sync_backoff_delay_ms(attempt, base, max, rand);

                ck_assert_uint_ge(d, cap / 2);
                ck_assert_uint_le(d, cap);
                ck_assert_uint_le(d, max);
                lowest = MIN(lowest, d);
                highest = MAX(highest, d);
        }

        /* the jitter covers its range: both ends are approached */
        if (cap >= 100) {
                ck_assert_uint_le(lowest, cap / 2 + cap / 20);
                ck_assert_uint_ge(highest, cap - cap / 20);
        }
}
END_TEST

START_TEST(test_backoff_monotone_cap) {
        g_autoptr(GRand) rand = g_rand_new_with_seed(7);
        guint previous_high = 0;

        for (guint attempt = 0; attempt < 64; attempt++) {
                guint64 cap = expected_cap(attempt, 500, 300000);
                guint high = 0;

                for (unsigned n = 0; n < 200; n++)
                        high = MAX(high, sync_backoff_delay_ms(attempt, 500, 300000, rand));
                ck_assert_uint_le(high, cap);
                ck_assert_uint_ge(high, previous_high / 2);
                ck_assert_uint_ge(cap, previous_high);
                previous_high = high;
        }
        /* attempt 0 is about the base; late attempts sit at the cap */
        ck_assert_uint_le(sync_backoff_delay_ms(0, 500, 300000, rand), 500);
        ck_assert_uint_ge(sync_backoff_delay_ms(100, 500, 300000, rand), 150000);
}
END_TEST

START_TEST(test_backoff_edges) {
        g_autoptr(GRand) a = g_rand_new_with_seed(1);
        g_autoptr(GRand) b = NULL;

        ck_assert_uint_eq(sync_backoff_delay_ms(0, 0, 1000, a), 0);
        ck_assert_uint_eq(sync_backoff_delay_ms(G_MAXUINT, 0, G_MAXUINT, a), 0);
        ck_assert_uint_eq(sync_backoff_delay_ms(5, 1000, 0, a), 0);
        /* a NULL generator uses GLib's */
        ck_assert_uint_le(sync_backoff_delay_ms(3, 100, 10000, NULL), 800);
        ck_assert_uint_ge(sync_backoff_delay_ms(3, 100, 10000, NULL), 400);
        /* the same seed gives the same sequence */
        g_rand_set_seed(a, 1);
        b = g_rand_new_with_seed(1);
        for (guint i = 0; i < 20; i++)
                ck_assert_uint_eq(sync_backoff_delay_ms(i, 100, 100000, a), sync_backoff_delay_ms(i, 100, 100000, b));
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("sync-http");
        TCase *tc;

        tc = tcase_create("server");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_source_address);
        tcase_add_loop_test(tc, test_handler_answers, 0, G_N_ELEMENTS(answers));
        tcase_add_loop_test(tc, test_refusals, 0, G_N_ELEMENTS(refusals));
        tcase_add_test(tc, test_chunked_body_too_large);
        tcase_add_test(tc, test_chunked_body_fits);
        tcase_add_test(tc, test_body_at_limit);
        tcase_add_test(tc, test_headers_too_large);
        tcase_add_test(tc, test_headers_huge);
        tcase_add_loop_test(tc, test_forwarded_header, 0, G_N_ELEMENTS(forwarded_headers));
        tcase_add_test(tc, test_rate_limit);
        tcase_add_test(tc, test_rate_table_bounded);
        tcase_add_test(tc, test_connection_cap);
        tcase_add_test(tc, test_free_with_open_connections);
        tcase_add_test(tc, test_bind_conflict);
        suite_add_tcase(s, tc);

        tc = tcase_create("deadlines");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, SYNC_HTTP_IDLE_TIMEOUT + 20);
        tcase_add_test(tc, test_slow_and_silent_clients);
        suite_add_tcase(s, tc);

        tc = tcase_create("client");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_client_timeout);
        tcase_add_test(tc, test_client_unreachable);
        tcase_add_loop_test(tc, test_client_answer_size, 0, G_N_ELEMENTS(answer_sizes));
        tcase_add_test(tc, test_client_answer_size_streamed);
        tcase_add_test(tc, test_client_cancel);
        tcase_add_loop_test(tc, test_client_bad_arguments, 0, G_N_ELEMENTS(bad_posts));
        suite_add_tcase(s, tc);

        tc = tcase_create("backoff");
        tcase_add_loop_test(tc, test_backoff_bounds, 0, G_N_ELEMENTS(backoff_cases));
        tcase_add_test(tc, test_backoff_monotone_cap);
        tcase_add_test(tc, test_backoff_edges);
        suite_add_tcase(s, tc);

        return s;
}
