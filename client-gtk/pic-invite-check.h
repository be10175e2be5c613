/* pic-invite-check.h: checks pasted invites with the service's own parser, for messages as the user types. */
#pragma once

#include <glib.h>

typedef struct {
        char *cell_name;
        char *domain;
        char *vpn_subnet;       /* "10.23.7.0/24" */
        char *endpoint;
        gboolean has_pairing;
        gint64 expires;         /* Unix seconds, 0 without pairing */
} PicInviteSummary;

void pic_invite_summary_free(PicInviteSummary *summary);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PicInviteSummary, pic_invite_summary_free)

/* Parses @text (JSON or "pic1:…") as the service would. On failure returns
 * NULL with the parser's message, which names the field and quotes the value. */
PicInviteSummary *pic_invite_check(const char *text, GError **error);
