/* text-quote.h: untrusted text made fit to quote in an error message. */
#pragma once

#include <stddef.h>

/* A newly allocated copy of @value for a message: escaped like g_strescape()
 * (control and non-ASCII bytes as octal, so D-Bus and JSON get plain ASCII)
 * and cut after @max_bytes input bytes, "..." marking the cut. NULL reads as
 * "". The caller adds the quote marks. */
char *text_quote(const char *value, size_t max_bytes);
