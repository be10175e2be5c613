/* bus-cell.h: the org.pic.Cell1 interface at /org/pic/Cell1 and the
 * ObjectManager beneath it. */
#pragma once

#include "context.h"

int bus_cell_register(Context *context);
