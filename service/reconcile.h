/* reconcile.h: the kernel state a cell's model implies, applied idempotently
 * (DESIGN §2): WireGuard device and peers, the interface's address and link
 * state, one route per linked subnet, and the DNS forwards. The same code runs
 * at start-up (recovery after a crash or reboot) and after every change. */
#pragma once

#include <stdbool.h>
#include <glib.h>
#include <systemd/sd-bus.h>

#include "cell-state.h"
#include "daemon-config.h"
#include "nft.h"
#include "wg.h"

#define RECONCILE_KEEPALIVE 25 /* seconds: keeps NAT mappings open between cells */
/* Policy routing of the exit relay, in ranges of our own: rules with this
 * priority send a peer's traffic to this table, whose default route is the
 * WireGuard interface. */
#define RECONCILE_RULE_PRIORITY 31000
#define RECONCILE_RULE_PRIORITY_MAX 31099
#define RECONCILE_EXIT_TABLE 31400

typedef struct Reconciler Reconciler;

/* @bus may be NULL (then DNS forwarding is off). */
Reconciler *reconciler_new(const DaemonConfig *config, sd_bus *bus, GError **error);
void reconciler_free(Reconciler *reconciler);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Reconciler, reconciler_free)

const char *reconciler_wireguard_backend(const Reconciler *reconciler); /* "kernel" | "userspace" */
/* Called after the back-end lost and restarted the device. */
void reconciler_set_lost_callback(Reconciler *reconciler, WgDeviceLostFunc func, void *userdata);

/* Brings the kernel to what @state implies; changes only what differs. */
bool reconciler_apply(Reconciler *reconciler, const CellState *state, const WgKey *private_key,
                      GError **error);
/* The same after a change of the model from @before (which the kernel holds,
 * as the last apply succeeded) to @state: the parts of the kernel whose inputs
 * did not change are not even read, so a change costs what it touches, not
 * what the cell holds. */
bool reconciler_apply_change(Reconciler *reconciler, const CellState *before, const CellState *state,
                             const WgKey *private_key, GError **error);

/* One dump of the device: status of every peer at once. */
bool reconciler_dump(Reconciler *reconciler, WgDevice **ret_device, GError **error);

/* The interface of the default route (Uplink=auto), or NULL. */
char *reconcile_detect_uplink(void);

/* The desired nftables ruleset for @state (exposed for tests). */
NftRuleset *reconcile_desired_ruleset(const CellState *state, const DaemonConfig *config);

/* The desired WireGuard device for @state (exposed for tests). */
WgDevice *reconcile_desired_device(const CellState *state, const DaemonConfig *config,
                                   const WgKey *private_key, GError **error);
