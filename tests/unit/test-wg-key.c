/* test-wg-key.c: placeholder until written. */
#include "unit-main.h"

Suite *unit_suite(void) {
        Suite *s = suite_create("wg-key");
        return s;
}
