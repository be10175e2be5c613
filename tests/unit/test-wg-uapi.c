/* test-wg-uapi.c: the UAPI text protocol, and the userspace back-end driving a real wireguard-go. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>

#include "pic-error.h"
#include "unit-main.h"
#include "wg.h"

/* A real answer of wireguard-go 0.0.20220316 to get=1, after a handshake:
 * the peers come in map order, and an IPv6 allowed IP the model leaves out. */
static const char captured_get[] =
        "private_key=00aaa6394f0913b614965cf5c1e9692fc4dfe9d32fe1fc3f0da8999ed8b65855\n"
        "listen_port=51820\n"
        "public_key=54bf2696e48d006c32b4c97d871e8cb786d28515c9337fb7541c3993cf5ab52e\n"
        "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
        "protocol_version=1\n"
        "last_handshake_time_sec=0\n"
        "last_handshake_time_nsec=0\n"
        "tx_bytes=0\n"
        "rx_bytes=0\n"
        "persistent_keepalive_interval=0\n"
        "allowed_ip=10.23.7.5/32\n"
        "allowed_ip=10.23.7.6/32\n"
        "public_key=3dca58634aba2a822c7d4d428729e0380e765e144987d3fd8c90b46fea493973\n"
        "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
        "protocol_version=1\n"
        "endpoint=192.168.50.2:51821\n"
        "last_handshake_time_sec=1796414992\n"
        "last_handshake_time_nsec=258813086\n"
        "tx_bytes=436\n"
        "rx_bytes=348\n"
        "persistent_keepalive_interval=25\n"
        "allowed_ip=10.23.8.0/24\n"
        "allowed_ip=fd00::/64\n"
        "errno=0\n"
        "\n";

#define KEY_A "54bf2696e48d006c32b4c97d871e8cb786d28515c9337fb7541c3993cf5ab52e"
#define KEY_B "3dca58634aba2a822c7d4d428729e0380e765e144987d3fd8c90b46fea493973"

static WgKey key_n(uint8_t n) {
        WgKey key;

        memset(key.bytes, n, sizeof(key.bytes));
        return key;
}

static WgKey key_hex(const char *hex) {
        WgKey key;

        ck_assert(wg_key_from_hex(hex, &key, NULL));
        return key;
}

static void add_ip(WgPeer *peer, const char *text) {
        Ipv4Prefix p;

        ck_assert(netaddr_parse_prefix(text, true, &p, NULL));
        wg_peer_add_allowed_ip(peer, &p);
}

static struct sockaddr_in endpoint(const char *address, uint16_t port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

        ck_assert_int_eq(inet_pton(AF_INET, address, &sa.sin_addr), 1);
        return sa;
}

static void assert_prefix(const WgPeer *peer, guint i, const char *text) {
        g_autofree char *have = NULL;

        ck_assert_uint_lt(i, peer->allowed_ips->len);
        have = netaddr_format_prefix(&g_array_index(peer->allowed_ips, Ipv4Prefix, i));
        ck_assert_str_eq(have, text);
}

/* --- format --- */

START_TEST(test_format_set) {
        g_autoptr(WgDevice) change = wg_device_new("wg0");
        g_autofree char *text = NULL;
        WgKey k;
        WgPeer *peer;

        change->flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_REPLACE_PEERS;
        change->private_key = key_n(0x11);
        change->listen_port = 51820;
        k = key_n(0xaa);
        wg_device_add_peer(change, &k)->flags = WG_PEER_REMOVE_ME;
        k = key_n(0xbb);
        peer = wg_device_add_peer(change, &k);
        peer->flags = WG_PEER_REPLACE_ALLOWED_IPS | WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE;
        peer->endpoint = endpoint("192.0.2.10", 51821);
        peer->persistent_keepalive = 25;
        add_ip(peer, "10.23.7.1/24");
        add_ip(peer, "0.0.0.0/0");
        k = key_n(0xcc);
        add_ip(wg_device_add_peer(change, &k), "10.5.0.7/32");

        text = wg_uapi_format_set(change);
        ck_assert_str_eq(text,
                         "set=1\n"
                         "private_key=1111111111111111111111111111111111111111111111111111111111111111\n"
                         "listen_port=51820\n"
                         "replace_peers=true\n"
                         "public_key=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                         "remove=true\n"
                         "public_key=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
                         "endpoint=192.0.2.10:51821\n"
                         "persistent_keepalive_interval=25\n"
                         "replace_allowed_ips=true\n"
                         "allowed_ip=10.23.7.0/24\n"
                         "allowed_ip=0.0.0.0/0\n"
                         "public_key=cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\n"
                         "allowed_ip=10.5.0.7/32\n"
                         "\n");
}
END_TEST

START_TEST(test_format_set_empty) {
        g_autoptr(WgDevice) change = wg_device_new("wg0");
        g_autofree char *text = wg_uapi_format_set(change);

        ck_assert_str_eq(text, "set=1\n\n");
}
END_TEST

/* --- parse --- */

START_TEST(test_parse_captured) {
        g_autoptr(GError) error = NULL;
        g_autoptr(WgDevice) device = NULL;
        WgKey a = key_hex(KEY_A), b = key_hex(KEY_B);
        WgKey pub = key_hex("bf8c7cd5d47d08474f009e07f585be4653bfe63b69968b5338c50acfa0f59719");
        WgKey priv = key_hex("00aaa6394f0913b614965cf5c1e9692fc4dfe9d32fe1fc3f0da8999ed8b65855");
        const WgPeer *peer;

        device = wg_uapi_parse_get("wg0", captured_get, strlen(captured_get), &error);
        ck_assert_msg(device != NULL, "%s", error ? error->message : "");
        ck_assert_str_eq(device->name, "wg0");
        ck_assert_uint_eq(device->flags, WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT);
        ck_assert_mem_eq(device->private_key.bytes, priv.bytes, WG_KEY_LEN);
        /* Derived, as `wg show` prints it. */
        ck_assert_mem_eq(device->public_key.bytes, pub.bytes, WG_KEY_LEN);
        ck_assert_uint_eq(device->listen_port, 51820);
        ck_assert_uint_eq(device->peers->len, 2);

        peer = wg_device_find_peer(device, &a);
        ck_assert_ptr_nonnull(peer);
        ck_assert_uint_eq(peer->flags, WG_PEER_HAS_KEEPALIVE);
        ck_assert_uint_eq(peer->persistent_keepalive, 0);
        ck_assert_int_eq(peer->last_handshake, 0);
        ck_assert_uint_eq(peer->allowed_ips->len, 2);
        assert_prefix(peer, 0, "10.23.7.5/32");
        assert_prefix(peer, 1, "10.23.7.6/32");

        peer = wg_device_find_peer(device, &b);
        ck_assert_ptr_nonnull(peer);
        ck_assert_uint_eq(peer->flags, WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE);
        ck_assert_uint_eq(peer->endpoint.sin_family, AF_INET);
        ck_assert_uint_eq(ntohl(peer->endpoint.sin_addr.s_addr), 0xc0a83202);
        ck_assert_uint_eq(ntohs(peer->endpoint.sin_port), 51821);
        ck_assert_int_eq(peer->last_handshake, 1796414992);
        ck_assert_uint_eq(peer->tx_bytes, 436);
        ck_assert_uint_eq(peer->rx_bytes, 348);
        ck_assert_uint_eq(peer->persistent_keepalive, 25);
        /* fd00::/64 is left out: the model is IPv4. */
        ck_assert_uint_eq(peer->allowed_ips->len, 1);
        assert_prefix(peer, 0, "10.23.8.0/24");
}
END_TEST

START_TEST(test_parse_fresh_device) {
        g_autoptr(GError) error = NULL;
        g_autoptr(WgDevice) device = wg_uapi_parse_get("wg0", "errno=0\n\n", 9, &error);

        ck_assert_ptr_nonnull(device);
        ck_assert_uint_eq(device->flags, 0);
        ck_assert_uint_eq(device->peers->len, 0);
        ck_assert(wg_key_is_zero(&device->public_key));
}
END_TEST

START_TEST(test_parse_ipv6_endpoint_and_fwmark) {
        static const char text[] =
                "fwmark=51820\n"
                "public_key=" KEY_A "\n"
                "endpoint=[2001:db8::1]:51820\n"
                "allowed_ip=10.1.0.0/24\n"
                "public_key=" KEY_B "\n"
                "endpoint=[fe80::1%eth0]:4000\n"
                "errno=0\n\n";
        g_autoptr(GError) error = NULL;
        g_autoptr(WgDevice) device = wg_uapi_parse_get("wg0", text, strlen(text), &error);

        ck_assert_msg(device != NULL, "%s", error ? error->message : "");
        ck_assert_uint_eq(device->peers->len, 2);
        /* Reachable over IPv6, which the model cannot hold: no endpoint rather than an error. */
        ck_assert_uint_eq(((WgPeer *) device->peers->pdata[0])->flags, 0);
        ck_assert_uint_eq(((WgPeer *) device->peers->pdata[1])->flags, 0);
}
END_TEST

/* The answer wireguard-go would give to get=1 after this set=1: the same
 * lines without the request's verbs. */
static char *set_to_get(const char *set) {
        g_auto(GStrv) lines = g_strsplit(set, "\n", -1);
        GString *out = g_string_new(NULL);

        for (char **l = lines; *l; l++) {
                if (!**l || g_str_equal(*l, "set=1") || g_str_equal(*l, "replace_peers=true") ||
                    g_str_equal(*l, "replace_allowed_ips=true"))
                        continue;
                g_string_append_printf(out, "%s\n", *l);
        }
        g_string_append(out, "errno=0\n\n");
        return g_string_free(out, FALSE);
}

START_TEST(test_round_trip) {
        g_autoptr(WgDevice) device = wg_device_new("wg7");
        g_autoptr(WgDevice) parsed = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *set = NULL;
        g_autofree char *get = NULL;
        WgKey priv, pub;
        WgPeer *peer;

        ck_assert(wg_key_generate(&priv, &pub, NULL));
        device->flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT;
        device->private_key = priv;
        device->listen_port = 65535;
        for (unsigned i = 0; i < 50; i++) {
                WgKey k = key_n((uint8_t) (i + 1));

                peer = wg_device_add_peer(device, &k);
                if (i % 2) {
                        peer->flags |= WG_PEER_HAS_ENDPOINT;
                        peer->endpoint = endpoint("203.0.113.200", (uint16_t) (1 + i));
                }
                if (i % 3) {
                        peer->flags |= WG_PEER_HAS_KEEPALIVE;
                        peer->persistent_keepalive = (uint16_t) (i * 1000);
                }
                for (unsigned j = 0; j < i; j++) {
                        Ipv4Prefix p = { .address = 0x0a000000 | i << 16 | j << 8, .prefixlen = 24 };

                        wg_peer_add_allowed_ip(peer, &p);
                }
        }

        set = wg_uapi_format_set(device);
        get = set_to_get(set);
        parsed = wg_uapi_parse_get("wg7", get, strlen(get), &error);
        ck_assert_msg(parsed != NULL, "%s", error ? error->message : "");
        ck_assert_mem_eq(parsed->public_key.bytes, pub.bytes, WG_KEY_LEN);
        /* Nothing differs either way. */
        ck_assert_ptr_null(wg_device_diff(parsed, device));
        ck_assert_uint_eq(parsed->peers->len, device->peers->len);
        for (guint i = 0; i < parsed->peers->len; i++) {
                const WgPeer *a = parsed->peers->pdata[i], *b = device->peers->pdata[i];

                ck_assert_uint_eq(a->flags, b->flags);
                ck_assert_uint_eq(a->allowed_ips->len, b->allowed_ips->len);
                if (a->allowed_ips->len > 0)
                        ck_assert_mem_eq(a->allowed_ips->data, b->allowed_ips->data,
                                         a->allowed_ips->len * sizeof(Ipv4Prefix));
        }
}
END_TEST

typedef struct {
        const char *name;
        const char *text;
        const char *message;  /* a part of the error message, the quoted line */
} BadCase;

static const BadCase bad_answers[] = {
        { "no errno", "listen_port=51820\n", "cut short" },
        { "no blank line", "errno=0\n", "cut short" },
        { "mid-line", "errno=0", "line 1 \"errno=0\": the answer ends in the middle" },
        { "port range", "listen_port=70000\nerrno=0\n\n", "line 1 \"listen_port=70000\": the port" },
        { "port zero-padded", "listen_port=0123\nerrno=0\n\n", "\"listen_port=0123\"" },
        { "port signed", "listen_port=+1\nerrno=0\n\n", "\"listen_port=+1\"" },
        { "port CR", "listen_port=1\r\nerrno=0\n\n", "\"listen_port=1\\x0d\"" },
        { "short key", "private_key=abcd\nerrno=0\n\n", "\"private_key=abcd\": a private key must be 64 hex" },
        { "key not hex",
          "public_key=zz" KEY_A "\nerrno=0\n\n", "a public key must be 64 hex digits" },
        { "unknown key", "bogus=1\nerrno=0\n\n", "line 1 \"bogus=1\": unknown key 'bogus'" },
        /* The key was quoted raw, so a stray byte made the message invalid UTF-8 (fuzz). */
        { "unknown key bytes", "\x8crivate_key=1\nerrno=0\n\n", "unknown key '\\x8crivate_key'" },
        { "unknown peer key", "public_key=" KEY_A "\nfoo\x01=1\nerrno=0\n\n", "unknown key 'foo\\x01'" },
        { "no equals", "hello\nerrno=0\n\n", "line 1 \"hello\": expected key=value" },
        { "peer key first", "endpoint=192.0.2.1:5\nerrno=0\n\n", "came before any public_key=" },
        { "device key late", "public_key=" KEY_A "\nlisten_port=1\nerrno=0\n\n",
          "line 2 \"listen_port=1\": 'listen_port' is a setting of the device but came after the first peer" },
        { "endpoint no port", "public_key=" KEY_A "\nendpoint=192.0.2.1\nerrno=0\n\n", "\"endpoint=192.0.2.1\"" },
        { "endpoint port 0", "public_key=" KEY_A "\nendpoint=192.0.2.1:0\nerrno=0\n\n", "\"endpoint=192.0.2.1:0\"" },
        { "endpoint octet", "public_key=" KEY_A "\nendpoint=192.0.2.256:1\nerrno=0\n\n", "an endpoint must be" },
        { "endpoint bad v6", "public_key=" KEY_A "\nendpoint=[zz::1]:1\nerrno=0\n\n", "\"endpoint=[zz::1]:1\"" },
        { "endpoint name", "public_key=" KEY_A "\nendpoint=example.org:1\nerrno=0\n\n", "\"endpoint=example.org:1\"" },
        { "allowed ip mask", "public_key=" KEY_A "\nallowed_ip=10.0.0.0/33\nerrno=0\n\n", "\"allowed_ip=10.0.0.0/33\"" },
        { "allowed ip bare", "public_key=" KEY_A "\nallowed_ip=10.0.0.1\nerrno=0\n\n", "an allowed IP must be" },
        { "allowed v6 mask", "public_key=" KEY_A "\nallowed_ip=fd00::/129\nerrno=0\n\n", "\"allowed_ip=fd00::/129\"" },
        { "nsec range", "public_key=" KEY_A "\nlast_handshake_time_nsec=1000000000\nerrno=0\n\n", "nanoseconds" },
        { "bytes overflow", "public_key=" KEY_A "\nrx_bytes=18446744073709551616\nerrno=0\n\n",
          "\"rx_bytes=18446744073709551616\": a byte count" },
        { "bytes negative", "public_key=" KEY_A "\ntx_bytes=-1\nerrno=0\n\n", "\"tx_bytes=-1\"" },
        { "keepalive range", "public_key=" KEY_A "\npersistent_keepalive_interval=65536\nerrno=0\n\n",
          "keepalive interval" },
        { "protocol 2", "public_key=" KEY_A "\nprotocol_version=2\nerrno=0\n\n", "only protocol version 1" },
        { "same peer twice", "public_key=" KEY_A "\npublic_key=" KEY_A "\nerrno=0\n\n",
          "line 2 \"public_key=" KEY_A "\": the same peer is listed twice" },
        { "after errno", "errno=0\nlisten_port=1\n\n", "line 2 \"listen_port=1\": nothing but a blank line" },
        { "blank before errno", "listen_port=1\n\nerrno=0\n\n", "line 2 \"\": blank line before errno=" },
        { "errno text", "errno=abc\n\n", "\"errno=abc\"" },
        { "refused", "errno=-22\n\n", "refused to report its state: errno=-22 (Invalid argument)" },
};

START_TEST(test_parse_bad) {
        const BadCase *c = &bad_answers[_i];
        g_autoptr(GError) error = NULL;
        WgDevice *device = wg_uapi_parse_get("wg0", c->text, strlen(c->text), &error);

        ck_assert_msg(device == NULL, "case %s: accepted", c->name);
        ck_assert_msg(g_error_matches(error, PIC_ERROR, PIC_ERROR_FAILED), "case %s: wrong error", c->name);
        ck_assert_msg(strstr(error->message, c->message), "case %s: message \"%s\" lacks \"%s\"", c->name,
                      error->message, c->message);
        ck_assert_msg(strstr(error->message, "wg0"), "case %s: message names no interface", c->name);
        ck_assert_msg(g_utf8_validate(error->message, -1, NULL), "case %s: message is not UTF-8", c->name);
}
END_TEST

START_TEST(test_parse_nul) {
        static const char text[] = "listen_port=1\0x\nerrno=0\n\n";
        g_autoptr(GError) error = NULL;

        ck_assert_ptr_null(wg_uapi_parse_get("wg0", text, sizeof(text) - 1, &error));
        ck_assert_ptr_nonnull(strstr(error->message, "\"listen_port=1\\x00x\": the line contains a NUL byte"));
}
END_TEST

START_TEST(test_parse_long_line_quoted_short) {
        g_autofree char *value = g_strnfill(5000, 'a');
        g_autofree char *text = g_strdup_printf("bogus=%s\nerrno=0\n\n", value);
        g_autoptr(GError) error = NULL;

        ck_assert_ptr_null(wg_uapi_parse_get("wg0", text, strlen(text), &error));
        ck_assert_ptr_nonnull(strstr(error->message, "\"bogus=aaaa"));
        ck_assert_ptr_nonnull(strstr(error->message, "...\""));
        ck_assert_uint_lt(strlen(error->message), 300);
}
END_TEST

START_TEST(test_parse_too_large) {
        size_t len = (4u << 20) + 1;
        g_autofree char *text = g_malloc(len);
        g_autoptr(GError) error = NULL;

        memset(text, 'a', len);
        ck_assert_ptr_null(wg_uapi_parse_get("wg0", text, len, &error));
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED));
        ck_assert_ptr_nonnull(strstr(error->message, "4 MiB"));
}
END_TEST

typedef struct {
        const char *text;
        bool ok;
        const char *message;
} ErrnoCase;

static const ErrnoCase errno_cases[] = {
        { "errno=0\n\n", true, NULL },
        { "errno=-22\n\n", false, "refused the change: errno=-22 (Invalid argument)" },
        { "errno=-1\n\n", false, "errno=-1 (Operation not permitted)" },
        { "errno=0\n", false, "not \"errno=N\": \"errno=0\\n\"" },
        { "errno=\n\n", false, "\"errno=\\n\\n\"" },
        { "errno=x\n\n", false, "invalid errno: \"errno=x\\n\\n\"" },
        { "errno=-0\n\n", false, "invalid errno" },
        { "errno=-2147483648\n\n", false, "invalid errno" },
        { "errno=0\n\nmore", false, "not \"errno=N\"" },
        { "errno=0\nerrno=0\n\n", false, "not \"errno=N\"" },
        { "listen_port=1\n\n", false, "not \"errno=N\": \"listen_port=1\\n\\n\"" },
        { "", false, "not \"errno=N\"" },
};

START_TEST(test_parse_errno) {
        const ErrnoCase *c = &errno_cases[_i];
        g_autoptr(GError) error = NULL;
        bool ok = wg_uapi_parse_errno(c->text, strlen(c->text), &error);

        ck_assert_msg(ok == c->ok, "case %d: %s", _i, error ? error->message : "accepted");
        if (!c->ok) {
                ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_FAILED));
                ck_assert_msg(strstr(error->message, c->message), "case %d: \"%s\" lacks \"%s\"", _i,
                              error->message, c->message);
        }
}
END_TEST

/* --- the back-end, without a process --- */

static unsigned criticals;

static GLogWriterOutput count_criticals(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                        gpointer userdata) {
        if (level & G_LOG_LEVEL_CRITICAL) {
                criticals++;
                return G_LOG_WRITER_HANDLED;
        }
        return g_log_writer_default(level, fields, n_fields, userdata);
}

START_TEST(test_backend_kind_and_bad_name) {
        g_autoptr(WgBackend) backend = wg_backend_new_userspace("wg0", "wireguard-go");

        ck_assert_str_eq(wg_backend_kind(backend), "userspace");
        /* Refused as a programming error: the configuration was validated before. */
        g_log_set_writer_func(count_criticals, NULL, NULL);
        ck_assert_ptr_null(wg_backend_new_userspace("../x", "wireguard-go"));
        ck_assert_ptr_null(wg_backend_new_userspace("a-name-too-long-for-linux", "wireguard-go"));
        ck_assert_ptr_null(wg_backend_new_userspace("", "wireguard-go"));
        ck_assert_uint_eq(criticals, 3);
}
END_TEST

START_TEST(test_backend_not_running) {
        g_autoptr(WgBackend) backend = wg_backend_new_userspace("picnone9", "wireguard-go");
        g_autoptr(WgDevice) device = NULL;
        g_autoptr(GError) error = NULL;

        ck_assert(!wg_backend_get(backend, &device, &error));
        ck_assert_ptr_null(device);
        ck_assert_ptr_nonnull(strstr(error->message, "The userspace WireGuard picnone9 is not running"));
        /* Nothing to change is no call at all. */
        ck_assert(wg_backend_set(backend, NULL, NULL));
}
END_TEST

START_TEST(test_backend_command_missing) {
        g_autoptr(WgBackend) backend = wg_backend_new_userspace("picnone9", "/nonexistent/wireguard-go");
        g_autoptr(GError) error = NULL;

        ck_assert(!wg_backend_ensure_device(backend, &error));
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_FAILED));
        ck_assert_ptr_nonnull(strstr(error->message, "\"/nonexistent/wireguard-go -f picnone9\""));
        ck_assert_ptr_nonnull(strstr(error->message, "UserspaceCommand="));
}
END_TEST

START_TEST(test_backend_command_exits) {
        g_autoptr(WgBackend) backend = wg_backend_new_userspace("picnone9", "false");
        g_autoptr(GError) error = NULL;
        gint64 start = g_get_monotonic_time();

        ck_assert(!wg_backend_ensure_device(backend, &error));
        ck_assert_ptr_nonnull(strstr(error->message, "\"false -f picnone9\" exited"));
        ck_assert_ptr_nonnull(strstr(error->message, "/run/wireguard/picnone9.sock"));
        /* Noticed at once, not after the start-up timeout. */
        ck_assert_int_lt(g_get_monotonic_time() - start, 2 * G_USEC_PER_SEC);
}
END_TEST

/* --- the back-end with a real wireguard-go --- */

#define IFNAME "wgt0"
#define SOCKET_PATH "/run/wireguard/" IFNAME ".sock"

/* Its own network and mount namespaces (Check runs each test in a fork),
 * with a private /run: the host's interfaces and sockets stay untouched. */
static bool enter_lab(void) {
        g_autofree char *program = g_find_program_in_path("wireguard-go");

        if (geteuid() != 0) {
                fprintf(stderr, "# skipped: the wireguard-go tests need root\n");
                return false;
        }
        if (!program) {
                fprintf(stderr, "# skipped: wireguard-go is not installed\n");
                return false;
        }
        if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
                /* EINVAL: threads share our mounts, as with CK_FORK=no after an earlier test. */
                ck_assert_msg(errno == EPERM || errno == EINVAL, "unshare: %s", g_strerror(errno));
                fprintf(stderr, "# skipped: cannot create namespaces here (%s); run with Check's fork mode as root\n",
                        g_strerror(errno));
                return false;
        }
        /* wireguard-go logs to the stdout it inherits, where the parent of this
         * fork speaks TAP. */
        fflush(stdout);
        ck_assert_int_eq(dup2(STDERR_FILENO, STDOUT_FILENO), STDOUT_FILENO);
        ck_assert_msg(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "mount: %s", g_strerror(errno));
        ck_assert_msg(mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") == 0,
                      "mount tmpfs: %s", g_strerror(errno));
        return true;
}

/* The process that listens on @path, or 0 when nothing does. */
static pid_t socket_owner(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct ucred cred = { 0 };
        socklen_t len = sizeof(cred);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                close(fd);
                return 0;
        }
        ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len), 0);
        close(fd);
        return cred.pid;
}

static bool interface_gone_within(const char *ifname, int ms) {
        for (int i = 0; i < ms / 10; i++) {
                if (if_nametoindex(ifname) == 0)
                        return true;
                g_usleep(10000);
        }
        return if_nametoindex(ifname) == 0;
}

static void set_up(const char *ifname) {
        struct ifreq ifr = { 0 };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        g_strlcpy(ifr.ifr_name, ifname, sizeof(ifr.ifr_name));
        ck_assert_int_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
        ifr.ifr_flags |= IFF_UP;
        ck_assert_int_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
        close(fd);
}

static WgDevice *desired_device(const WgKey *private_key) {
        WgDevice *device = wg_device_new(IFNAME);
        WgKey k;
        WgPeer *peer;

        device->flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT;
        device->private_key = *private_key;
        device->listen_port = 51820;

        k = key_n(0xa1);
        peer = wg_device_add_peer(device, &k);
        peer->flags = WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE;
        peer->endpoint = endpoint("192.0.2.10", 51820);
        peer->persistent_keepalive = 25;
        add_ip(peer, "10.23.7.0/24");

        k = key_n(0xb2);
        peer = wg_device_add_peer(device, &k);
        add_ip(peer, "10.5.0.7/32");
        return device;
}

/* What the reconciler does: read, diff, apply the difference, and check
 * that a second read shows nothing left to do. */
static void apply(WgBackend *backend, const WgDevice *desired) {
        g_autoptr(WgDevice) current = NULL;
        g_autoptr(WgDevice) change = NULL;
        g_autoptr(WgDevice) after = NULL;
        g_autoptr(WgDevice) rest = NULL;
        g_autoptr(GError) error = NULL;

        ck_assert_msg(wg_backend_get(backend, &current, &error), "%s", error ? error->message : "");
        change = wg_device_diff(current, desired);
        ck_assert_ptr_nonnull(change);
        ck_assert_msg(wg_backend_set(backend, change, &error), "%s", error ? error->message : "");
        ck_assert_msg(wg_backend_get(backend, &after, &error), "%s", error ? error->message : "");
        rest = wg_device_diff(after, desired);
        ck_assert_msg(rest == NULL, "the device differs from the model after set");
}

START_TEST(test_real_lifecycle) {
        g_autoptr(WgBackend) backend = NULL;
        g_autoptr(WgDevice) desired = NULL;
        g_autoptr(WgDevice) current = NULL;
        g_autoptr(GError) error = NULL;
        WgKey priv, pub, k;
        const WgPeer *peer;
        WgPeer *added;
        gint64 start, took;
        pid_t pid;

        if (!enter_lab())
                return;

        backend = wg_backend_new_userspace(IFNAME, "wireguard-go");
        start = g_get_monotonic_time();
        ck_assert_msg(wg_backend_ensure_device(backend, &error), "%s", error ? error->message : "");
        took = g_get_monotonic_time() - start;
        fprintf(stderr, "# ensure_device started wireguard-go in %" G_GINT64_FORMAT " ms\n", took / 1000);
        ck_assert_uint_gt(if_nametoindex(IFNAME), 0);
        pid = socket_owner(SOCKET_PATH);
        ck_assert_int_gt(pid, 0);

        /* Idempotent: the same process. */
        ck_assert(wg_backend_ensure_device(backend, &error));
        ck_assert_int_eq(socket_owner(SOCKET_PATH), pid);

        ck_assert(wg_key_generate(&priv, &pub, NULL));
        desired = desired_device(&priv);
        apply(backend, desired);

        ck_assert(wg_backend_get(backend, &current, &error));
        ck_assert_uint_eq(current->flags, WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT);
        ck_assert_mem_eq(current->public_key.bytes, pub.bytes, WG_KEY_LEN);
        ck_assert_uint_eq(current->listen_port, 51820);
        ck_assert_uint_eq(current->peers->len, 2);
        k = key_n(0xa1);
        peer = wg_device_find_peer(current, &k);
        ck_assert_ptr_nonnull(peer);
        ck_assert_uint_eq(ntohs(peer->endpoint.sin_port), 51820);
        ck_assert_uint_eq(peer->persistent_keepalive, 25);
        assert_prefix(peer, 0, "10.23.7.0/24");
        g_clear_pointer(&current, wg_device_free);

        /* A change: one peer goes, one gets another network, one comes. */
        g_ptr_array_remove_index(desired->peers, 0);
        add_ip(desired->peers->pdata[0], "10.5.0.8/32");
        k = key_n(0xc3);
        added = wg_device_add_peer(desired, &k);
        added->flags = WG_PEER_HAS_ENDPOINT;
        added->endpoint = endpoint("198.51.100.7", 40000);
        add_ip(added, "10.44.0.0/16");
        add_ip(added, "0.0.0.0/0");
        desired->listen_port = 51900;
        apply(backend, desired);

        ck_assert(wg_backend_get(backend, &current, &error));
        ck_assert_uint_eq(current->listen_port, 51900);
        ck_assert_uint_eq(current->peers->len, 2);
        k = key_n(0xa1);
        ck_assert_ptr_null(wg_device_find_peer(current, &k));
        k = key_n(0xb2);
        ck_assert_uint_eq(wg_device_find_peer(current, &k)->allowed_ips->len, 2);

        /* Up, as the reconciler leaves it: wireguard-go binds its port only then,
         * and refuses one that is taken, which must come back with its errno. */
        set_up(IFNAME);
        {
                g_autoptr(WgDevice) taken = wg_device_new(IFNAME);
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(51999) };
                int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

                ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
                taken->flags = WG_DEVICE_HAS_LISTEN_PORT;
                taken->listen_port = 51999;
                ck_assert(!wg_backend_set(backend, taken, &error));
                ck_assert_msg(strstr(error->message, "Failed to configure " IFNAME ": The userspace WireGuard "
                                     "refused the change: errno=-98 (Address already in use)"),
                              "%s", error->message);
                g_clear_error(&error);
                close(fd);
        }
        desired->listen_port = 51901;
        apply(backend, desired);

        start = g_get_monotonic_time();
        wg_backend_remove_device(backend);
        fprintf(stderr, "# remove_device took %" G_GINT64_FORMAT " ms\n",
                (g_get_monotonic_time() - start) / 1000);
        ck_assert_int_eq(socket_owner(SOCKET_PATH), 0);
        ck_assert(interface_gone_within(IFNAME, 2000));
        ck_assert_int_eq(kill(pid, 0), -1);
        g_clear_error(&error);
        ck_assert(!wg_backend_get(backend, &current, &error));

        /* And back. */
        ck_assert(wg_backend_ensure_device(backend, &error));
        ck_assert_int_gt(socket_owner(SOCKET_PATH), 0);
        wg_backend_remove_device(backend);
}
END_TEST

typedef struct {
        GMainLoop *loop;
        unsigned lost;
        gint64 at;
} LostState;

static void on_lost(void *userdata) {
        LostState *st = userdata;

        st->lost++;
        st->at = g_get_monotonic_time();
        g_main_loop_quit(st->loop);
}

static gboolean on_timeout(gpointer userdata) {
        g_main_loop_quit(userdata);
        return G_SOURCE_REMOVE;
}

/* Runs the main loop until the lost callback or @seconds. */
static void wait_lost(LostState *st, unsigned seconds) {
        guint timeout = g_timeout_add_seconds(seconds, on_timeout, st->loop);

        g_main_loop_run(st->loop);
        if (st->lost)
                g_source_remove(timeout);
}

START_TEST(test_real_restart_after_kill) {
        g_autoptr(WgBackend) backend = NULL;
        g_autoptr(WgDevice) desired = NULL;
        g_autoptr(WgDevice) current = NULL;
        g_autoptr(GMainLoop) loop = NULL;
        g_autoptr(GError) error = NULL;
        LostState st = { 0 };
        WgKey priv, pub;
        pid_t first, second, third;
        gint64 killed;

        if (!enter_lab())
                return;

        loop = g_main_loop_new(NULL, FALSE);
        st.loop = loop;
        backend = wg_backend_new_userspace(IFNAME, "wireguard-go");
        wg_backend_set_lost_callback(backend, on_lost, &st);
        ck_assert_msg(wg_backend_ensure_device(backend, &error), "%s", error ? error->message : "");
        ck_assert(wg_key_generate(&priv, &pub, NULL));
        desired = desired_device(&priv);
        apply(backend, desired);

        first = socket_owner(SOCKET_PATH);
        ck_assert_int_gt(first, 0);
        killed = g_get_monotonic_time();
        ck_assert_int_eq(kill(first, SIGKILL), 0);
        wait_lost(&st, 10);
        ck_assert_uint_eq(st.lost, 1);
        fprintf(stderr, "# restarted and reported lost %" G_GINT64_FORMAT " ms after kill -9\n",
                (st.at - killed) / 1000);

        second = socket_owner(SOCKET_PATH);
        ck_assert_int_gt(second, 0);
        ck_assert_int_ne(second, first);
        ck_assert_uint_gt(if_nametoindex(IFNAME), 0);

        /* A fresh process knows nothing; the owner configures it again. */
        ck_assert(wg_backend_get(backend, &current, &error));
        ck_assert_uint_eq(current->flags & WG_DEVICE_HAS_PRIVATE_KEY, 0);
        ck_assert_uint_eq(current->peers->len, 0);
        ck_assert(wg_backend_ensure_device(backend, &error));
        apply(backend, desired);

        /* Again, sooner than the 60 s that reset the backoff: it doubles. */
        killed = g_get_monotonic_time();
        ck_assert_int_eq(kill(second, SIGKILL), 0);
        wait_lost(&st, 10);
        ck_assert_uint_eq(st.lost, 2);
        ck_assert_int_ge(st.at - killed, 200 * 1000);
        third = socket_owner(SOCKET_PATH);
        ck_assert_int_gt(third, 0);
        ck_assert_int_ne(third, second);

        wg_backend_remove_device(backend);
        ck_assert_int_eq(socket_owner(SOCKET_PATH), 0);
        ck_assert(interface_gone_within(IFNAME, 2000));

        /* Once removed, nothing comes back. */
        g_timeout_add(500, on_timeout, loop);
        g_main_loop_run(loop);
        ck_assert_uint_eq(st.lost, 2);
        ck_assert_int_eq(socket_owner(SOCKET_PATH), 0);
}
END_TEST

/* A wireguard-go as a service killed with -9 leaves it behind. */
static GSubprocess *start_left_behind(GError **error) {
        g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);

        g_subprocess_launcher_setenv(launcher, "WG_PROCESS_FOREGROUND", "1", TRUE);
        return g_subprocess_launcher_spawn(launcher, error, "wireguard-go", "-f", IFNAME, NULL);
}

START_TEST(test_real_adopt) {
        g_autoptr(WgBackend) backend = NULL;
        g_autoptr(WgBackend) again = NULL;
        g_autoptr(GSubprocess) left = NULL;
        g_autoptr(WgDevice) desired = NULL;
        g_autoptr(GMainLoop) loop = NULL;
        g_autoptr(GError) error = NULL;
        LostState st = { 0 };
        WgKey priv, pub;
        pid_t pid, restarted;

        if (!enter_lab())
                return;

        left = start_left_behind(&error);
        ck_assert_ptr_nonnull(left);
        pid = (pid_t) g_ascii_strtoll(g_subprocess_get_identifier(left), NULL, 10);
        for (int i = 0; i < 500 && socket_owner(SOCKET_PATH) != pid; i++)
                g_usleep(10000);
        ck_assert_int_eq(socket_owner(SOCKET_PATH), pid);

        loop = g_main_loop_new(NULL, FALSE);
        st.loop = loop;
        backend = wg_backend_new_userspace(IFNAME, "wireguard-go");
        wg_backend_set_lost_callback(backend, on_lost, &st);
        ck_assert_msg(wg_backend_ensure_device(backend, &error), "%s", error ? error->message : "");
        /* Adopted, not replaced. */
        ck_assert_int_eq(socket_owner(SOCKET_PATH), pid);
        ck_assert(wg_key_generate(&priv, &pub, NULL));
        desired = desired_device(&priv);
        apply(backend, desired);

        /* A second service instance finds it configured: nothing to do. */
        again = wg_backend_new_userspace(IFNAME, "wireguard-go");
        ck_assert(wg_backend_ensure_device(again, &error));
        {
                g_autoptr(WgDevice) current = NULL;

                ck_assert(wg_backend_get(again, &current, &error));
                ck_assert_ptr_null(wg_device_diff(current, desired));
        }
        g_clear_pointer(&again, wg_backend_free);
        ck_assert_int_eq(socket_owner(SOCKET_PATH), pid);

        /* Its death is noticed although it is not our child. */
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        wait_lost(&st, 10);
        ck_assert_uint_eq(st.lost, 1);
        restarted = socket_owner(SOCKET_PATH);
        ck_assert_int_gt(restarted, 0);
        ck_assert_int_ne(restarted, pid);
        apply(backend, desired);

        wg_backend_remove_device(backend);
        ck_assert_int_eq(socket_owner(SOCKET_PATH), 0);
        ck_assert(interface_gone_within(IFNAME, 2000));
}
END_TEST

START_TEST(test_real_remove_adopted) {
        g_autoptr(WgBackend) backend = NULL;
        g_autoptr(GSubprocess) left = NULL;
        g_autoptr(GError) error = NULL;
        pid_t pid;

        if (!enter_lab())
                return;

        left = start_left_behind(&error);
        ck_assert_ptr_nonnull(left);
        pid = (pid_t) g_ascii_strtoll(g_subprocess_get_identifier(left), NULL, 10);
        for (int i = 0; i < 500 && socket_owner(SOCKET_PATH) != pid; i++)
                g_usleep(10000);

        backend = wg_backend_new_userspace(IFNAME, "wireguard-go");
        ck_assert(wg_backend_ensure_device(backend, &error));
        wg_backend_remove_device(backend);
        ck_assert(g_subprocess_wait(left, NULL, NULL));
        ck_assert(g_subprocess_get_if_exited(left) || g_subprocess_get_if_signaled(left));
        ck_assert_int_eq(socket_owner(SOCKET_PATH), 0);
        ck_assert(interface_gone_within(IFNAME, 2000));
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("wg-uapi");
        TCase *tc = tcase_create("format");

        tcase_add_test(tc, test_format_set);
        tcase_add_test(tc, test_format_set_empty);
        suite_add_tcase(s, tc);

        tc = tcase_create("parse");
        tcase_add_test(tc, test_parse_captured);
        tcase_add_test(tc, test_parse_fresh_device);
        tcase_add_test(tc, test_parse_ipv6_endpoint_and_fwmark);
        tcase_add_test(tc, test_round_trip);
        tcase_add_loop_test(tc, test_parse_bad, 0, G_N_ELEMENTS(bad_answers));
        tcase_add_test(tc, test_parse_nul);
        tcase_add_test(tc, test_parse_long_line_quoted_short);
        tcase_add_test(tc, test_parse_too_large);
        tcase_add_loop_test(tc, test_parse_errno, 0, G_N_ELEMENTS(errno_cases));
        suite_add_tcase(s, tc);

        tc = tcase_create("backend");
        tcase_add_test(tc, test_backend_kind_and_bad_name);
        tcase_add_test(tc, test_backend_not_running);
        tcase_add_test(tc, test_backend_command_missing);
        tcase_add_test(tc, test_backend_command_exits);
        suite_add_tcase(s, tc);

        tc = tcase_create("wireguard-go");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_real_lifecycle);
        tcase_add_test(tc, test_real_restart_after_kill);
        tcase_add_test(tc, test_real_adopt);
        tcase_add_test(tc, test_real_remove_adopted);
        suite_add_tcase(s, tc);
        return s;
}
