/* unit-main.c: the one main() of every unit-test executable: runs the file's
 * suite and reports in TAP so meson counts each case. */
#include <stdlib.h>

#include "unit-main.h"

int main(void) {
        SRunner *runner = srunner_create(unit_suite());
        int failed;

        srunner_set_tap(runner, "-");
        srunner_run_all(runner, CK_SILENT);
        failed = srunner_ntests_failed(runner);
        srunner_free(runner);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
