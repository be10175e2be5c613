/* json-text.h: a strict check of JSON text (RFC 8259) before json-glib reads
 * it. json-glib 1.6 is lenient and fragile with hostile text: it recurses once
 * per nesting level, takes single quotes, comments, hex numbers, raw control
 * characters and escapes JSON has not (some decoded to bytes that are not
 * UTF-8), takes an object or array after another value as the document, and
 * leaks memory on several of these. Text from outside passes here first. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define JSON_TEXT_MAX_DEPTH 64   /* the largest @max_depth json_text_check() takes */

typedef enum {
        JSON_TEXT_OK,
        JSON_TEXT_TOO_DEEP,
        JSON_TEXT_INVALID,
} JsonTextStatus;

/* Checks that @text is UTF-8 holding exactly one JSON value (white space
 * around it allowed), nested at most @max_depth deep, whose strings decode to
 * UTF-8 without NUL ("\u0000" and half surrogate pairs are refused). On
 * failure *ret_offset is the byte where the text went wrong and *ret_problem
 * a phrase saying how, e.g. "a string holds an invalid escape". */
JsonTextStatus json_text_check(const char *text, size_t len, unsigned max_depth, size_t *ret_offset,
                               const char **ret_problem);
