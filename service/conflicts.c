/* conflicts.c: refuses links and identity changes whose subnet, domain, name or key would collide with another cell's. */
#include <string.h>

#include "conflicts.h"
#include "i18n.h"
#include "names.h"
#include "netaddr.h"
#include "pic-error.h"

static bool conflict(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);

static bool conflict(GError **error, const char *format, ...) {
        g_autofree char *message = NULL;
        va_list ap;

        va_start(ap, format);
        message = g_strdup_vprintf(format, ap);
        va_end(ap);

        g_set_error_literal(error, PIC_ERROR, PIC_ERROR_CONFLICT, message);
        return false;
}

static bool strings_equal(const char *a, const char *b) {
        return a && b && *a && strcmp(a, b) == 0;
}

/* Names are lowercase once validated; comparing without case keeps a
 * hand-edited state file from sneaking a duplicate past the check. */
static bool names_equal(const char *a, const char *b) {
        return a && b && *a && g_ascii_strcasecmp(a, b) == 0;
}

/* How @a relates to @b, given that they collide: equal labels have equal
 * lengths, and a parent is the shorter of the two. Each relation has whole
 * sentences of its own, which translate better than a phrase put into one. */
typedef enum {
        DOMAIN_SAME,
        DOMAIN_PARENT,
        DOMAIN_SUBDOMAIN,
} DomainRelation;

static DomainRelation domain_relation(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);

        if (la == lb)
                return DOMAIN_SAME;
        return la < lb ? DOMAIN_PARENT : DOMAIN_SUBDOMAIN;
}

static bool link_is_excluded(const Link *link, const char *exclude_link) {
        return exclude_link && link->name && strcmp(link->name, exclude_link) == 0;
}

static bool check_invite_against_self(const CellState *state, const Invite *invite, GError **error) {
        const CellIdentity *self = &state->cell;
        const char *name = invite->cell_name;

        if (strings_equal(invite->public_key, self->public_key))
                return conflict(error,
                                _("%s's public key is this cell's own key: an invite created by "
                                  "this cell cannot be imported into it"), name);

        if (names_equal(name, self->name))
                return conflict(error,
                                /* Translators: "Configure …" and "RemoveLink" are D-Bus methods: keep them. */
                                _("%s's name is this cell's name too: rename one of the two cells "
                                  "(Configure Name)"), name);

        if (netaddr_overlaps(&invite->vpn_subnet, &self->address)) {
                g_autofree char *theirs = netaddr_format_network(&invite->vpn_subnet);
                g_autofree char *ours = netaddr_format_network(&self->address);

                return conflict(error,
                                _("%s's subnet %s overlaps this cell's subnet %s: change the address "
                                  "of one of the two cells (Configure Address)"), name, theirs, ours);
        }

        if (names_domains_collide(invite->domain, self->domain)) {
                DomainRelation relation = domain_relation(invite->domain, self->domain);

                return conflict(error,
                                relation == DOMAIN_SAME ?
                                _("%s's domain '%s' is the same as this cell's domain '%s': give one "
                                  "of the two cells another domain (Configure Domain)") :
                                relation == DOMAIN_PARENT ?
                                _("%s's domain '%s' is a parent domain of this cell's domain '%s': "
                                  "give one of the two cells another domain (Configure Domain)") :
                                _("%s's domain '%s' is a subdomain of this cell's domain '%s': give "
                                  "one of the two cells another domain (Configure Domain)"),
                                name, invite->domain, self->domain);
        }

        return true;
}

static bool check_invite_against_link(const Link *link, const Invite *invite, GError **error) {
        const char *name = invite->cell_name;

        if (strings_equal(invite->public_key, link->public_key))
                return conflict(error,
                                _("%s's public key belongs to linked cell %s: that cell is already "
                                  "linked; remove the link (RemoveLink) before linking it again"),
                                name, link->name);

        if (names_equal(name, link->name))
                return conflict(error,
                                _("%s is the name of a cell already linked under another key: remove "
                                  "that link (RemoveLink) or rename one of the two cells (Configure Name)"),
                                name);

        if (netaddr_overlaps(&invite->vpn_subnet, &link->vpn_subnet)) {
                g_autofree char *theirs = netaddr_format_network(&invite->vpn_subnet);
                g_autofree char *linked = netaddr_format_network(&link->vpn_subnet);

                return conflict(error,
                                _("%s's subnet %s overlaps the subnet of linked cell %s (%s): change "
                                  "the address of one of the two cells (Configure Address)"),
                                name, theirs, link->name, linked);
        }

        if (names_domains_collide(invite->domain, link->domain)) {
                DomainRelation relation = domain_relation(invite->domain, link->domain);

                return conflict(error,
                                relation == DOMAIN_SAME ?
                                _("%s's domain '%s' is the same as the domain of linked cell %s "
                                  "('%s'): give one of the two cells another domain (Configure Domain)") :
                                relation == DOMAIN_PARENT ?
                                _("%s's domain '%s' is a parent domain of the domain of linked cell %s "
                                  "('%s'): give one of the two cells another domain (Configure Domain)") :
                                _("%s's domain '%s' is a subdomain of the domain of linked cell %s "
                                  "('%s'): give one of the two cells another domain (Configure Domain)"),
                                name, invite->domain, link->name, link->domain);
        }

        return true;
}

bool conflicts_check_invite(const CellState *state, const Invite *invite,
                            const char *exclude_link, GError **error) {
        g_return_val_if_fail(state, false);
        g_return_val_if_fail(invite, false);

        if (!check_invite_against_self(state, invite, error))
                return false;

        for (guint i = 0; state->links && i < state->links->len; i++) {
                const Link *link = g_ptr_array_index(state->links, i);

                if (link_is_excluded(link, exclude_link))
                        continue;
                if (!check_invite_against_link(link, invite, error))
                        return false;
        }

        return true;
}

/* A NULL @address or @domain is left unchecked: Configure may change one
 * without the other. */
bool conflicts_check_identity(const CellState *state, const Ipv4Prefix *address,
                              const char *domain, GError **error) {
        g_return_val_if_fail(state, false);

        for (guint i = 0; state->links && i < state->links->len; i++) {
                const Link *link = g_ptr_array_index(state->links, i);

                if (address && netaddr_overlaps(address, &link->vpn_subnet)) {
                        g_autofree char *ours = netaddr_format_network(address);
                        g_autofree char *linked = netaddr_format_network(&link->vpn_subnet);

                        return conflict(error,
                                        _("This cell's new subnet %s overlaps the subnet of linked "
                                          "cell %s (%s): choose an address outside it"),
                                        ours, link->name, linked);
                }

                if (domain && names_domains_collide(domain, link->domain)) {
                        DomainRelation relation = domain_relation(domain, link->domain);

                        return conflict(error,
                                        relation == DOMAIN_SAME ?
                                        _("This cell's new domain '%s' is the same as the domain of "
                                          "linked cell %s ('%s'): choose another domain") :
                                        relation == DOMAIN_PARENT ?
                                        _("This cell's new domain '%s' is a parent domain of the domain "
                                          "of linked cell %s ('%s'): choose another domain") :
                                        _("This cell's new domain '%s' is a subdomain of the domain of "
                                          "linked cell %s ('%s'): choose another domain"),
                                        domain, link->name, link->domain);
                }
        }

        return true;
}
