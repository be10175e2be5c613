/* fuzz-names.c: libFuzzer harness for the name and domain validators and the
 * label-wise domain comparison. The input is two texts split at the first
 * newline. */
#include <string.h>

#include "fuzz-common.h"
#include "names.h"
#include "pic-error.h"

typedef bool (*Validator)(const char *name, GError **error);

static bool check_validator(Validator validate, const char *name, size_t max) {
        g_autoptr(GError) error = NULL;

        if (!validate(name, &error)) {
                fuzz_check_error(error, PIC_ERROR_INVALID_ARGUMENT);
                return false;
        }
        FUZZ_CHECK(error == NULL);
        FUZZ_CHECK(name[0] && strlen(name) <= max);
        /* What passes must be safe in a D-Bus string and a path element. */
        FUZZ_CHECK(g_str_is_ascii(name));
        FUZZ_CHECK(!strchr(name, '/'));
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autofree char *text = fuzz_strndup(data, size);
        g_autofree char *upper = NULL;
        char *a = text, *b = strchr(text, '\n');
        bool a_domain;

        if (b)
                *b++ = '\0';
        else
                b = a;

        if (check_validator(names_validate_cell_name, a, CELL_NAME_MAX))
                FUZZ_CHECK(names_validate_domain(a, NULL));
        check_validator(names_validate_service_name, a, SERVICE_NAME_MAX);
        if (check_validator(names_validate_peer_name, a, PEER_NAME_MAX))
                FUZZ_CHECK(!g_str_equal(a, ".") && !g_str_equal(a, ".."));
        a_domain = check_validator(names_validate_domain, a, DOMAIN_MAX);
        check_validator(names_validate_domain, b, DOMAIN_MAX);

        FUZZ_CHECK(names_domains_collide(a, b) == names_domains_collide(b, a));
        upper = g_ascii_strup(a, -1);
        if (a_domain) {
                g_autofree char *child = g_strconcat("x.", a, NULL);

                FUZZ_CHECK(names_domains_collide(a, a));
                FUZZ_CHECK(names_domains_collide(a, upper));
                FUZZ_CHECK(names_domains_collide(a, child));
        }
        return 0;
}
