/* pic-invite-check.c: checks pasted invites with the service's own parser, for messages as the user types. */
#include "config.h"

#include "invite.h"
#include "netaddr.h"
#include "pic-invite-check.h"

void pic_invite_summary_free(PicInviteSummary *summary) {
        if (!summary)
                return;
        g_free(summary->cell_name);
        g_free(summary->domain);
        g_free(summary->vpn_subnet);
        g_free(summary->endpoint);
        g_free(summary);
}

PicInviteSummary *pic_invite_check(const char *text, GError **error) {
        g_autoptr(Invite) invite = NULL;
        PicInviteSummary *summary;

        g_return_val_if_fail(text, NULL);

        invite = invite_parse(text, error);
        if (!invite)
                return NULL;

        summary = g_new0(PicInviteSummary, 1);
        summary->cell_name = g_strdup(invite->cell_name);
        summary->domain = g_strdup(invite->domain);
        summary->vpn_subnet = netaddr_format_network(&invite->vpn_subnet);
        summary->endpoint = g_strdup(invite->endpoint);
        summary->has_pairing = invite->has_pairing;
        summary->expires = invite->has_pairing ? invite->pairing.expires : 0;
        return summary;
}
