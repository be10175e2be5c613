/* probe.h: the small network checks behind Link.Diagnose(): an ICMP echo
 * through the tunnel, a TCP connect to the remote's sync port, and a DNS
 * query to our own resolver. Each is asynchronous in the GLib main loop,
 * bounded by a time-out, and calls back exactly once. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include <gio/gio.h>

/* @ok false: @error_message says why in words ("no answer within 2 s"). */
typedef void (*ProbeDone)(bool ok, double milliseconds, const char *error_message, void *userdata);

/* ICMP echo to @destination (from @source when not 0). Needs CAP_NET_RAW. */
void probe_ping(uint32_t source, uint32_t destination, unsigned timeout_ms, GCancellable *cancellable,
                ProbeDone done, void *userdata);
/* TCP connect to @destination:@port; closes at once on success. */
void probe_tcp_connect(uint32_t source, uint32_t destination, uint16_t port, unsigned timeout_ms,
                       GCancellable *cancellable, ProbeDone done, void *userdata);
/* An A query for @name sent to @server:53 over UDP; ok when the answer has
 * RCODE 0 and at least one A record. */
void probe_dns(uint32_t server, const char *name, unsigned timeout_ms, GCancellable *cancellable,
               ProbeDone done, void *userdata);
