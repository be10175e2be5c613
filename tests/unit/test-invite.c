/* test-invite.c: placeholder until written. */
#include "unit-main.h"

Suite *unit_suite(void) {
        Suite *s = suite_create("invite");
        return s;
}
