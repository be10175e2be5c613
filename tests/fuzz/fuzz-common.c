/* fuzz-common.c: logging and checking shared by the libFuzzer harnesses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "pic-error.h"

/* A parser must never log: a warning or critical (a failed g_return_if_fail,
 * a json-glib complaint) is a bug and must stop the run; the rest is noise. */
static GLogWriterOutput fuzz_log_writer(GLogLevelFlags level, const GLogField *fields, size_t n_fields,
                                        gpointer userdata) {
        if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
                g_log_writer_standard_streams(level, fields, n_fields, userdata);
                abort();
        }
        return G_LOG_WRITER_HANDLED;
}

static void fuzz_legacy_log(const char *domain, GLogLevelFlags level, const char *message, gpointer userdata) {
        if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
                fprintf(stderr, "%s: %s\n", domain ? domain : "", message);
                abort();
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        g_log_set_writer_func(fuzz_log_writer, NULL, NULL);
        g_log_set_default_handler(fuzz_legacy_log, NULL);
        return 0;
}

char *fuzz_strndup(const uint8_t *data, size_t size) {
        const uint8_t *nul = memchr(data, '\0', size);

        return g_strndup((const char *) data, nul ? (size_t) (nul - data) : size);
}

void fuzz_fail(const char *file, int line, const char *what) {
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
        abort();
}

void fuzz_check_error(const GError *error, int code) {
        FUZZ_CHECK(error);
        FUZZ_CHECK(error->domain == PIC_ERROR);
        if (code >= 0)
                FUZZ_CHECK(error->code == code);
        FUZZ_CHECK(error->message && error->message[0]);
        FUZZ_CHECK(g_utf8_validate(error->message, -1, NULL));
}
