/*
 * tests/python/kat_frame.c — the C side of the Python known-answer tests
 * (tests/python/test_kat.py): reads `name=value` lines on stdin and prints
 * what core derives and seals for them, so Python can compare byte for
 * byte.
 *
 * Input (hex fields are lowercase hex; absent fields are left at 0/empty):
 *   master=HEX kdf=none|hkdf_sha256 dir=web->exec|exec->web|control
 *   version=N kind=N nonce=HEX ts=N session=HEX seq=N ack=HEX trace=HEX
 *   call_id=N method=S timeout_ms=N payload=HEX code=N message=S
 *   header=KEY:VALUE (repeatable, up to 8)
 *   inst=HEX group=S index=N gen=N   (the endpoint keys of that worker)
 * Output lines:
 *   key.web->exec=HEX key.exec->web=HEX key.control=HEX   (xr_keys_derive)
 *   ep.web->exec=HEX ep.exec->web=HEX                     (xr_keys_endpoint,
 *                                                          when inst= is given)
 *   frame=HEX   (xr_codec_seal with the directional key of `dir`: prefix,
 *                Frame wrapper of core/frame.c, envelope, tag)
 * Test vectors only: the master is a fixed test value, never a secret.
 * Exit 0, or 2 on bad input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "codec.h"
#include "keys.h"

#define LINE_MAX_LEN 8192

typedef struct kat {
	uint8_t master[256], inst[XR_INSTANCE_ID_LEN];
	size_t master_len, inst_len;
	xr_kdf kdf;
	xr_dir dir;
	char group[256];
	uint32_t index, gen;
	Execrpc__V1__Envelope env;
	Execrpc__V1__Status status;
	Execrpc__V1__Header hdr[XR_MAX_HEADERS], *hdrp[XR_MAX_HEADERS];
	uint8_t bufs[6][LINE_MAX_LEN / 2];
	char strs[XR_MAX_HEADERS * 2 + 2][LINE_MAX_LEN];
	int nstr;
} kat;

static int
unhex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(s);

	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

static void
put_hex(const char *name, const uint8_t *p, size_t n)
{
	printf("%s=", name);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static int
bin(kat *k, int slot, const char *v, ProtobufCBinaryData *out)
{
	if (unhex(v, k->bufs[slot], sizeof(k->bufs[slot]), &out->len) != 0)
		return -1;
	out->data = k->bufs[slot];
	return 0;
}

static char *
str(kat *k, const char *v)
{
	if (k->nstr >= (int)(sizeof(k->strs) / sizeof(k->strs[0])))
		return NULL;
	snprintf(k->strs[k->nstr], sizeof(k->strs[0]), "%s", v);
	return k->strs[k->nstr++];
}

static int
header(kat *k, const char *v)
{
	const char *colon = strchr(v, ':');
	Execrpc__V1__Header *h;
	char key[LINE_MAX_LEN];

	if (colon == NULL || k->env.n_headers >= XR_MAX_HEADERS)
		return -1;
	h = &k->hdr[k->env.n_headers];
	execrpc__v1__header__init(h);
	snprintf(key, sizeof(key), "%.*s", (int)(colon - v), v);
	if ((h->key = str(k, key)) == NULL || (h->value = str(k, colon + 1)) == NULL)
		return -1;
	k->hdrp[k->env.n_headers++] = h;
	k->env.headers = k->hdrp;
	return 0;
}

static int
dir_of(const char *v, xr_dir *d)
{
	for (int i = 0; i < XR_DIR_COUNT; i++)
		if (strcmp(v, xr_dir_label((xr_dir)i)) == 0) {
			*d = (xr_dir)i;
			return 0;
		}
	return -1;
}

/* One name=value line into `k`. */
static int
field(kat *k, const char *name, const char *v)
{
	Execrpc__V1__Envelope *e = &k->env;

	if (strcmp(name, "master") == 0)
		return unhex(v, k->master, sizeof(k->master), &k->master_len);
	if (strcmp(name, "kdf") == 0) {
		k->kdf = strcmp(v, "none") == 0 ? XR_KDF_NONE : XR_KDF_HKDF_SHA256;
		return 0;
	}
	if (strcmp(name, "dir") == 0)
		return dir_of(v, &k->dir);
	if (strcmp(name, "inst") == 0)
		return unhex(v, k->inst, sizeof(k->inst), &k->inst_len);
	if (strcmp(name, "group") == 0) {
		snprintf(k->group, sizeof(k->group), "%s", v);
		return 0;
	}
	if (strcmp(name, "index") == 0)
		return k->index = (uint32_t)strtoul(v, NULL, 10), 0;
	if (strcmp(name, "gen") == 0)
		return k->gen = (uint32_t)strtoul(v, NULL, 10), 0;
	if (strcmp(name, "version") == 0)
		return e->version = (uint32_t)strtoul(v, NULL, 10), 0;
	if (strcmp(name, "kind") == 0)
		return e->kind = (Execrpc__V1__Kind)atoi(v), 0;
	if (strcmp(name, "ts") == 0)
		return e->ts_ms = strtoull(v, NULL, 10), 0;
	if (strcmp(name, "seq") == 0)
		return e->sequence = strtoull(v, NULL, 10), 0;
	if (strcmp(name, "call_id") == 0)
		return e->call_id = strtoull(v, NULL, 10), 0;
	if (strcmp(name, "timeout_ms") == 0)
		return e->timeout_ms = (uint32_t)strtoul(v, NULL, 10), 0;
	if (strcmp(name, "nonce") == 0)
		return bin(k, 0, v, &e->nonce);
	if (strcmp(name, "session") == 0)
		return bin(k, 1, v, &e->session_id);
	if (strcmp(name, "ack") == 0)
		return bin(k, 2, v, &e->ack_nonce);
	if (strcmp(name, "trace") == 0)
		return bin(k, 3, v, &e->trace_id);
	if (strcmp(name, "payload") == 0)
		return bin(k, 4, v, &e->payload);
	if (strcmp(name, "method") == 0)
		return (e->method = str(k, v)) == NULL ? -1 : 0;
	if (strcmp(name, "code") == 0)
		return k->status.code = (Execrpc__V1__StatusCode)atoi(v),
		    e->status = &k->status, 0;
	if (strcmp(name, "message") == 0)
		return (k->status.message = str(k, v)) == NULL ? -1 :
		    (e->status = &k->status, 0);
	if (strcmp(name, "header") == 0)
		return header(k, v);
	return -1;
}

static int
emit(kat *k)
{
	xr_keyset ks, ep;
	xr_auth *a;
	size_t cap, len;
	uint8_t *out;

	if (k->master_len == 0 ||
	    xr_keys_derive(k->master, k->master_len, k->kdf, &ks) != XR_OK)
		return 2;
	for (int d = 0; d < XR_DIR_COUNT; d++) {
		char name[32];

		snprintf(name, sizeof(name), "key.%s", xr_dir_label((xr_dir)d));
		put_hex(name, ks.k[d].b, ks.k[d].len);
	}
	if (k->inst_len == XR_INSTANCE_ID_LEN) {
		if (xr_keys_endpoint(&ks, k->inst, k->group, k->index, k->gen,
		    &ep) != XR_OK)
			return 2;
		put_hex("ep.web->exec", ep.k[0].b, ep.k[0].len);
		put_hex("ep.exec->web", ep.k[1].b, ep.k[1].len);
		xr_keyset_wipe(&ep);
	}
	cap = xr_codec_sealed_len(&k->env);
	if ((a = xr_auth_new(&ks)) == NULL || (out = malloc(cap)) == NULL)
		return 2;
	if (xr_codec_seal(a, k->dir, &k->env, out, cap, &len) != XR_OK)
		return 2;
	put_hex("frame", out, len);
	free(out);
	xr_auth_free(a);
	xr_keyset_wipe(&ks);
	return 0;
}

int
main(void)
{
	static kat k;
	char line[LINE_MAX_LEN];

	execrpc__v1__envelope__init(&k.env);
	execrpc__v1__status__init(&k.status);
	k.kdf = XR_KDF_HKDF_SHA256;
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *eq = strchr(line, '=');

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (eq == NULL)
			return 2;
		*eq = '\0';
		if (field(&k, line, eq + 1) != 0) {
			fprintf(stderr, "kat_frame: bad field %s\n", line);
			return 2;
		}
	}
	return emit(&k);
}
