/* fuzz-common.h: what every libFuzzer harness shares: strict GLib logging and
 * checks that stay on in builds without assert(). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of @data, cut at its first NUL: for the parsers that
 * take C strings, as the D-Bus and file layers hand them over. */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* Aborts, so that libFuzzer keeps the input, when @condition is false. */
#define FUZZ_CHECK(condition)                                                             \
        do {                                                                              \
                if (!(condition))                                                         \
                        fuzz_fail(__FILE__, __LINE__, #condition);                        \
        } while (0)

G_NORETURN void fuzz_fail(const char *file, int line, const char *what);

/* An error a parser returned must be in our domain, with a message. */
void fuzz_check_error(const GError *error, int code);
