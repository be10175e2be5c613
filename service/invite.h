/* invite.h: the invite a cell hands to another (DESIGN §5): its JSON form, the
 * compact "pic1:" form for copy/paste and QR codes, and strict validation. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "netaddr.h"
#include "pairing.h"

#define INVITE_VERSION 1
#define INVITE_MAX_SIZE 4096 /* bytes of JSON, and of the compact form */
#define INVITE_COMPACT_PREFIX "pic1:"
#define INVITE_DEFAULT_SYNC_PORT 51821
#define INVITE_MIN_PREFIXLEN 16
#define INVITE_MAX_PREFIXLEN 30

typedef struct {
        char *cell_name;
        char *public_key;       /* base64 of 32 bytes */
        char *endpoint;         /* "host:port" as given */
        char *endpoint_host;
        uint16_t endpoint_port;
        Ipv4Prefix vpn_subnet;  /* canonical: host bits cleared */
        uint32_t dns_ip;
        char *domain;           /* as given (case kept) */
        uint32_t tunnel_address; /* defaults to dns_ip */
        uint16_t sync_port;     /* defaults to INVITE_DEFAULT_SYNC_PORT */
        bool has_pairing;
        PairingToken pairing;   /* valid when has_pairing */
} Invite;

Invite *invite_new(void);
void invite_free(Invite *invite);
Invite *invite_copy(const Invite *invite);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Invite, invite_free)

/* Accepts either form (leading and trailing whitespace ignored). Every error is
 * PIC_ERROR_INVALID_INVITE and names the field and quotes the offending value,
 * e.g. "vpn_subnet: '10.0.0.0/33' is not an IPv4 prefix". */
Invite *invite_parse(const char *text, GError **error);
Invite *invite_parse_json(const char *json, size_t len, GError **error);
/* An already-parsed JSON object (a peer-sync body embeds the invite). */
Invite *invite_from_json_object(JsonObject *object, GError **error);

/* Serialisations; "pairing" only when @with_pairing and invite->has_pairing. */
JsonObject *invite_to_json_object(const Invite *invite, bool with_pairing);
char *invite_to_json(const Invite *invite, bool with_pairing);
char *invite_to_compact(const Invite *invite); /* always with pairing */
