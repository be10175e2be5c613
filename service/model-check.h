/* model-check.h: in checked builds (PIC_MODEL_CHECKS, the sanitizer build
 * the tests run), proof at every change that no link or peer shared between
 * the model before and after was changed in place. The journal record, the
 * reconciler and the notifications skip an entry that is the same object
 * before and after, so such a change would be lost silently; the const
 * finders keep most code from making one, this catches the rest. */
#pragma once

#include "cell-state.h"

typedef struct ModelCheck ModelCheck;

ModelCheck *model_check_new(void);
void model_check_free(ModelCheck *check);

/* Aborts, naming the entry, when an entry of @after that is the same object
 * as in @before no longer reads as it did when @before was adopted; then
 * remembers @after. A no-op unless PIC_MODEL_CHECKS. */
void model_check_adopt(ModelCheck *check, const CellState *before, const CellState *after);
