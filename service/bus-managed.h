/* bus-managed.h: the ObjectManager's GetManagedObjects on /org/pic/Cell1,
 * answered from the model in one pass. */
#pragma once

#include "context.h"

int bus_managed_register(Context *context);
