/* log.h: log lines that carry journal fields. Under systemd GLib's writer
 * sends them to the journal as fields, so `journalctl -u pic-celld
 * CELL_LINK=cellb` shows one link's story; elsewhere they print as usual. */
#pragma once

#include <glib.h>

#define log_link(level, link, ...) \
        g_log_structured(G_LOG_DOMAIN, (level), "CELL_LINK", (link), "MESSAGE", __VA_ARGS__)

#define log_peer(level, peer, ...) \
        g_log_structured(G_LOG_DOMAIN, (level), "CELL_PEER", (peer), "MESSAGE", __VA_ARGS__)

#define log_link_error(level, link, error, ...)                                                   \
        g_log_structured(G_LOG_DOMAIN, (level), "CELL_LINK", (link), "CELL_ERROR", (error), \
                         "MESSAGE", __VA_ARGS__)
