/* text-quote.c: the one escaping rule for values quoted in error messages. */
#include <string.h>
#include <glib.h>

#include "text-quote.h"

char *text_quote(const char *value, size_t max_bytes) {
        g_autofree char *head = NULL;
        g_autofree char *escaped = NULL;
        size_t len;

        if (!value)
                return g_strdup("");

        /* Never measured past the cut: a hostile megabyte costs no more than
         * the bytes shown. */
        len = strnlen(value, max_bytes);
        if (value[len] == '\0')
                return g_strescape(value, NULL);

        /* Cutting inside a UTF-8 sequence is harmless: every non-ASCII byte is
         * escaped on its own. */
        head = g_strndup(value, max_bytes);
        escaped = g_strescape(head, NULL);
        return g_strconcat(escaped, "...", NULL);
}
