/* unit-main.h: the contract between a unit-test file and the shared main():
 * each test-*.c defines unit_suite() returning its Check suite. */
#pragma once

#include <check.h>

Suite *unit_suite(void);
