/* invite-inspect.c: a test tool: parses an invite (JSON or pic1: form) with
 * the service's own parser and prints it as JSON, or prints the parser's
 * error and fails, so lab tests can check what the service hands out. */
#include <stdio.h>
#include <stdlib.h>

#include "invite.h"

int main(int argc, char *argv[]) {
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) invite = NULL;
        g_autofree char *json = NULL;

        if (argc != 2) {
                fprintf(stderr, "usage: %s INVITE\n", argv[0]);
                return 2;
        }
        invite = invite_parse(argv[1], &error);
        if (!invite) {
                fprintf(stderr, "%s\n", error->message);
                return EXIT_FAILURE;
        }
        json = invite_to_json(invite, true);
        printf("%s\n", json);
        return EXIT_SUCCESS;
}
