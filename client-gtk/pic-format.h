/* pic-format.h: the words and numbers the app shows for times, traffic, keys and link states. */
#pragma once

#include <glib.h>

typedef enum {
        PIC_LINK_STATUS_CONNECTED,
        PIC_LINK_STATUS_NOT_CONNECTED,
        PIC_LINK_STATUS_WAITING,        /* the other cell has not confirmed the link yet */
} PicLinkStatus;

/* "just now", "2 minutes ago", …; "never" for 0. @now is Unix seconds. */
char *pic_format_relative_time(guint64 then, gint64 now);
/* "last handshake 2 minutes ago" or "no handshake yet". */
char *pic_format_handshake(guint64 then, gint64 now);
/* "1.2 MB received, 3.4 kB sent". */
char *pic_format_traffic(guint64 rx, guint64 tx);
/* "expires in 23 hours", "expired". */
char *pic_format_expiry(gint64 expires, gint64 now);
/* A short fingerprint of a base64 WireGuard key to compare by voice,
 * "3f2a 91c0 7be4" (the first 6 bytes of SHA-256 of the key bytes); NULL when
 * @public_key is not base64 of 32 bytes. */
char *pic_format_fingerprint(const char *public_key);
/* "tcp 445, udp 53" from an a(sq) value. */
char *pic_format_ports(GVariant *ports);

PicLinkStatus pic_link_status(gboolean paired, gboolean connected);
/* "connected", "not connected", "waiting" – stable names for CSS and tests. */
const char *pic_link_status_to_string(PicLinkStatus status);
/* The translated label, "Connected", "Not Connected", "Waiting for the Other Cell". */
const char *pic_link_status_to_label(PicLinkStatus status);
