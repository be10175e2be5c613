/* polkit.h: asynchronous polkit authorization of D-Bus method calls. A method
 * handler asks; if polkit must be consulted the call is parked, and when the
 * answer comes the very same message is dispatched again, so the handler runs
 * once more and this time gets the verdict at once (as systemd's services do). */
#pragma once

#include <systemd/sd-bus.h>

typedef struct PolkitRegistry PolkitRegistry;

PolkitRegistry *polkit_registry_new(void);
PolkitRegistry *polkit_registry_free(PolkitRegistry *registry);

/* Returns 1 when @message's sender may perform @action (uid 0 always may),
 * 0 when the question went to polkit and the handler must return 1 and wait
 * to be called again, or a negative errno with @error set
 * (org.freedesktop.DBus.Error.AccessDenied, or
 * org.freedesktop.DBus.Error.InteractiveAuthorizationRequired when the
 * caller did not allow interaction and polkit wants to ask). */
int polkit_verify_async(PolkitRegistry *registry, sd_bus_message *message,
                        const char *action, sd_bus_error *error);
