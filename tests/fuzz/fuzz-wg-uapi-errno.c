/* fuzz-wg-uapi-errno.c: libFuzzer harness for wg_uapi_parse_errno(), the
 * reader of a userspace WireGuard's answer to "set=1". */
#include <string.h>

#include "fuzz-common.h"
#include "pic-error.h"
#include "wg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GError) error = NULL;

        if (wg_uapi_parse_errno((const char *) data, size, &error)) {
                /* Only a zero is success. */
                FUZZ_CHECK(size >= strlen("errno=0\n\n") && memcmp(data, "errno=", strlen("errno=")) == 0);
                for (size_t i = strlen("errno="); i < size - 2; i++)
                        FUZZ_CHECK(data[i] == '0');
                FUZZ_CHECK(data[size - 2] == '\n' && data[size - 1] == '\n');
        } else
                fuzz_check_error(error, PIC_ERROR_FAILED);
        return 0;
}
