/* wg-netlink.h: the generic netlink messages of the kernel WireGuard back-end,
 * apart from the sockets, so that tests can build and decode them. */
#pragma once

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "wg.h"

/* Smaller buffers cannot be guaranteed to hold one peer with one allowed IP. */
#define WG_NETLINK_MIN_BUFFER 512

/* The WG_CMD_SET_DEVICE requests (NLM_F_REQUEST | NLM_F_ACK, sequence numbers
 * @seq, @seq + 1, ...) that apply @change, as GBytes each holding one message
 * of at most @buffer_size bytes. What does not fit goes on in further
 * messages: only the first carries the private key, the listen port and
 * WGDEVICE_F_REPLACE_PEERS; a peer continued in a later message repeats only
 * its public key, without flags, so its further allowed IPs are added. */
GPtrArray *wg_netlink_build_set(const WgDevice *change, uint16_t family_id, uint32_t seq, size_t buffer_size);

/* Adds what one message of a WG_CMD_GET_DEVICE dump says to @device. A dump
 * part that starts with the peer the previous part ended with continues it. */
bool wg_netlink_parse_device(const struct nlmsghdr *nlh, WgDevice *device, GError **error);
