/* pic-format.c: the words and numbers the app shows for times, traffic, keys and link states. */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "pic-format.h"

char *pic_format_relative_time(guint64 then, gint64 now) {
        gint64 delta;

        if (then == 0)
                /* Translators: when something last happened, and it never did. */
                return g_strdup(_("never"));

        delta = now - (gint64) MIN(then, (guint64) G_MAXINT64);
        /* A clock a little ahead of ours is still "just now". */
        if (delta < 60)
                return g_strdup(_("just now"));
        if (delta < 3600) {
                int n = (int) (delta / 60);
                return g_strdup_printf(ngettext("%d minute ago", "%d minutes ago", n), n);
        }
        if (delta < 86400) {
                int n = (int) (delta / 3600);
                return g_strdup_printf(ngettext("%d hour ago", "%d hours ago", n), n);
        }
        int n = (int) MIN(delta / 86400, G_MAXINT);
        return g_strdup_printf(ngettext("%d day ago", "%d days ago", n), n);
}

char *pic_format_handshake(guint64 then, gint64 now) {
        g_autofree char *when = NULL;

        if (then == 0)
                /* Translators: no WireGuard handshake has happened with this cell or device. */
                return g_strdup(_("no handshake yet"));

        when = pic_format_relative_time(then, now);
        /* Translators: %s is a time such as "2 minutes ago". */
        return g_strdup_printf(_("last handshake %s"), when);
}

char *pic_format_traffic(guint64 rx, guint64 tx) {
        g_autofree char *rx_text = g_format_size(rx);
        g_autofree char *tx_text = g_format_size(tx);

        /* Translators: amounts of data, e.g. "1.2 MB received, 3.4 kB sent". */
        return g_strdup_printf(_("%s received, %s sent"), rx_text, tx_text);
}

char *pic_format_expiry(gint64 expires, gint64 now) {
        gint64 left = expires - now;

        if (left <= 0)
                /* Translators: said of an invite whose lifetime is over. */
                return g_strdup(_("expired"));
        if (left < 3600) {
                int n = (int) MAX(left / 60, 1);
                return g_strdup_printf(ngettext("expires in %d minute", "expires in %d minutes", n), n);
        }
        if (left < 2 * 86400) {
                int n = (int) (left / 3600);
                return g_strdup_printf(ngettext("expires in %d hour", "expires in %d hours", n), n);
        }
        int n = (int) MIN(left / 86400, G_MAXINT);
        return g_strdup_printf(ngettext("expires in %d day", "expires in %d days", n), n);
}

char *pic_format_fingerprint(const char *public_key) {
        g_autofree guchar *raw = NULL;
        g_autoptr(GChecksum) sum = NULL;
        guint8 digest[32];
        gsize raw_len = 0, digest_len = sizeof(digest);

        if (!public_key || strlen(public_key) != 44 || public_key[43] != '=')
                return NULL;
        for (const char *p = public_key; *p; p++)
                if (!g_ascii_isalnum(*p) && !strchr("+/=", *p))
                        return NULL;

        raw = g_base64_decode(public_key, &raw_len);
        if (raw_len != 32)
                return NULL;

        sum = g_checksum_new(G_CHECKSUM_SHA256);
        g_checksum_update(sum, raw, raw_len);
        g_checksum_get_digest(sum, digest, &digest_len);

        return g_strdup_printf("%02x%02x %02x%02x %02x%02x",
                               digest[0], digest[1], digest[2], digest[3], digest[4], digest[5]);
}

char *pic_format_ports(GVariant *ports) {
        g_autoptr(GString) out = g_string_new(NULL);
        GVariantIter iter;
        const char *proto;
        guint16 port;

        if (!ports || !g_variant_is_of_type(ports, G_VARIANT_TYPE("a(sq)")))
                return g_strdup("");

        g_variant_iter_init(&iter, ports);
        while (g_variant_iter_next(&iter, "(&sq)", &proto, &port)) {
                if (out->len > 0)
                        g_string_append(out, ", ");
                g_string_append_printf(out, "%s %u", proto, (unsigned) port);
        }
        return g_string_free(g_steal_pointer(&out), FALSE);
}

PicLinkStatus pic_link_status(gboolean paired, gboolean connected) {
        if (connected)
                return PIC_LINK_STATUS_CONNECTED;
        if (!paired)
                return PIC_LINK_STATUS_WAITING;
        return PIC_LINK_STATUS_NOT_CONNECTED;
}

const char *pic_link_status_to_string(PicLinkStatus status) {
        switch (status) {
        case PIC_LINK_STATUS_CONNECTED:
                return "connected";
        case PIC_LINK_STATUS_WAITING:
                return "waiting";
        case PIC_LINK_STATUS_NOT_CONNECTED:
        default:
                return "not-connected";
        }
}

const char *pic_link_status_to_label(PicLinkStatus status) {
        switch (status) {
        case PIC_LINK_STATUS_CONNECTED:
                /* Translators: state of a link or device: a handshake happened recently. */
                return _("Connected");
        case PIC_LINK_STATUS_WAITING:
                /* Translators: state of a link: the other cell has not confirmed it yet. */
                return _("Waiting for the Other Cell");
        case PIC_LINK_STATUS_NOT_CONNECTED:
        default:
                /* Translators: state of a link or device: no recent handshake. */
                return _("Not Connected");
        }
}
