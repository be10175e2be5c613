/* conflicts.h: whether a cell described by an invite may be linked (DESIGN §5):
 * its subnet, domain, name and key must not collide with ours or with any
 * linked cell's. */
#pragma once

#include <stdbool.h>
#include <glib.h>

#include "cell-state.h"
#include "invite.h"

/* PIC_ERROR_CONFLICT with a message for the admin that names what collides
 * with which cell and what to reconfigure. @exclude_link (or NULL) names a link
 * to leave out: the cell whose update is being checked. */
bool conflicts_check_invite(const CellState *state, const Invite *invite,
                            const char *exclude_link, GError **error);

/* The same rules for a change of our own identity (Configure): the new subnet
 * and domain must not collide with any linked cell. */
bool conflicts_check_identity(const CellState *state, const Ipv4Prefix *address,
                              const char *domain, GError **error);
