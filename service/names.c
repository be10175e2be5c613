/* names.c: syntax checks for cell, peer and service names and domains, and label-wise domain collision. */
#include <string.h>

#include "i18n.h"
#include "names.h"
#include "pic-error.h"
#include "text-quote.h"

#define QUOTE_MAX 80

static bool is_lower_alnum_dash(const char *name, size_t max) {
        size_t len = strlen(name);

        if (len == 0 || len > max)
                return false;
        if (name[0] == '-' || name[len - 1] == '-')
                return false;
        for (size_t i = 0; i < len; i++)
                if (!g_ascii_islower(name[i]) && !g_ascii_isdigit(name[i]) && name[i] != '-')
                        return false;
        return true;
}

bool names_validate_cell_name(const char *name, GError **error) {
        if (name && is_lower_alnum_dash(name, CELL_NAME_MAX))
                return true;

        g_autofree char *q = text_quote(name, QUOTE_MAX);
        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                    _("cell name '%s' is invalid: use 1-%d lowercase letters, digits and '-', "
                      "not starting or ending with '-'"), q, CELL_NAME_MAX);
        return false;
}

bool names_validate_service_name(const char *name, GError **error) {
        if (name && is_lower_alnum_dash(name, SERVICE_NAME_MAX))
                return true;

        g_autofree char *q = text_quote(name, QUOTE_MAX);
        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                    _("service name '%s' is invalid: use 1-%d lowercase letters, digits and '-', "
                      "not starting or ending with '-'"), q, SERVICE_NAME_MAX);
        return false;
}

bool names_validate_peer_name(const char *name, GError **error) {
        size_t len = name ? strlen(name) : 0;
        bool ok = len > 0 && len <= PEER_NAME_MAX;

        for (size_t i = 0; ok && i < len; i++)
                ok = g_ascii_isalnum(name[i]) || strchr("_-.", name[i]);
        /* A peer's name may end up in a file name (its client config): the
         * two names that mean directories are kept out. */
        if (ok && (strcmp(name, ".") == 0 || strcmp(name, "..") == 0))
                ok = false;
        if (ok)
                return true;

        g_autofree char *q = text_quote(name, QUOTE_MAX);
        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                    _("peer name '%s' is invalid: use 1-%d letters, digits, '_', '-' and '.' "
                      "(not just '.' or '..')"), q, PEER_NAME_MAX);
        return false;
}

static bool domain_is_valid(const char *domain) {
        size_t len = strlen(domain), label = 0;

        if (len == 0 || len > DOMAIN_MAX)
                return false;

        for (size_t i = 0; i <= len; i++) {
                char c = domain[i];

                if (c == '.' || c == '\0') {
                        /* label ends: not empty (no "..", no leading or trailing
                         * dot), and not ending with '-' */
                        if (label == 0 || domain[i - 1] == '-')
                                return false;
                        label = 0;
                        continue;
                }
                if (!g_ascii_isalnum(c) && c != '-')
                        return false;
                if (c == '-' && label == 0)
                        return false;
                if (++label > 63)
                        return false;
        }
        return true;
}

bool names_validate_domain(const char *domain, GError **error) {
        if (domain && domain_is_valid(domain))
                return true;

        g_autofree char *q = text_quote(domain, QUOTE_MAX);
        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                    _("domain '%s' is invalid: use dot-separated labels of letters, digits and '-' "
                      "(1-63 characters each, not starting or ending with '-'), at most %d "
                      "characters, no trailing dot"), q, DOMAIN_MAX);
        return false;
}

bool names_domains_collide(const char *a, const char *b) {
        size_t i, j;

        if (!a || !b || !*a || !*b)
                return false;

        /* Compare from the right; when the shorter runs out, the longer must be
         * at a label boundary for the shorter to be its parent ("ella.cell" is
         * not a parent of "cella.cell"). */
        i = strlen(a);
        j = strlen(b);
        while (i > 0 && j > 0) {
                if (g_ascii_tolower(a[i - 1]) != g_ascii_tolower(b[j - 1]))
                        return false;
                i--;
                j--;
        }

        if (i == 0 && j == 0)
                return true;
        if (i == 0)
                return b[j - 1] == '.';
        return a[i - 1] == '.';
}
