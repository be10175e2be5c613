/* names.h: syntax of the names the cell deals in (cell, peer and service
 * names, domains) and label-wise domain comparison. */
#pragma once

#include <stdbool.h>
#include <glib.h>

#define CELL_NAME_MAX 32
#define PEER_NAME_MAX 64
#define SERVICE_NAME_MAX 32
#define DOMAIN_MAX 253

/* [a-z0-9-]{1,32}, not starting or ending with '-'. */
bool names_validate_cell_name(const char *name, GError **error);
/* Letters, digits, '_', '-', '.', 1..64 characters. */
bool names_validate_peer_name(const char *name, GError **error);
/* [a-z0-9-]{1,32}, not starting or ending with '-' (like cell names). */
bool names_validate_service_name(const char *name, GError **error);
/* RFC 1035: labels of letters, digits and '-', 1..63 characters each, not
 * starting or ending with '-'; at most 253 characters; no trailing dot. */
bool names_validate_domain(const char *domain, GError **error);

/* True when @a equals @b or one is a parent domain of the other, compared label
 * by label and case-insensitively: "cell" and "x.cella.cell" collide with
 * "cella.cell", "ella.cell" does not. */
bool names_domains_collide(const char *a, const char *b);
