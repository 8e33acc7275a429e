/*
 * supervisor/bundle.h — the bootstrap bundle (internal to supervisor/): the
 * worker's side, reading and validating it (bundle.c), and the
 * supervisor's side, packing it (xr_bundle_pack(), in spawn.c).
 *
 * A worker reads exactly one execrpc.v1.BootstrapBundle from its one-shot
 * bootstrap channel, validates it against the application's module table
 * and the ranges of the config table, and keeps what it needs in an
 * xr_bundle: its place (group, index), its modules, the runtime slice, the
 * apps sections, the keys and the control session id. The decoded message
 * and every buffer that held key bytes are wiped before the read returns.
 */
#ifndef XR_BUNDLE_H
#define XR_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "execrpc/v1/lifecycle.pb-c.h"
#include "err.h"
#include "keys.h"
#include "replay.h"
#include "worker.h"

/* What a validated bundle leaves behind. Holds keys: free with
 * xr_bundle_free(), which wipes it. */
typedef struct xr_bundle {
	char group[XR_CFG_NAME_MAX];
	uint32_t index;
	size_t n_services;
	const xr_service_module *mods[XR_CFG_MAX_SERVICES];	/* in `mods` */
	char host[XR_CFG_HOST_MAX];
	uint32_t bind_port, max_payload, ttl, nonce_cache;
	size_t n_apps;
	xr_app_section apps[XR_CFG_MAX_APPS];
	xr_keyset keys;
	uint8_t sid[XR_SESSION_ID_LEN];
	uint32_t generation;		/* the slot's spawn count (0: not sent) */
	bool redis;			/* transport redis_streams: `rc` */
	xr_redis_cfg rc;		/* no password, only password_file */
} xr_bundle;

/*
 * Read the bundle from the bootstrap channel `fd` (a SOCK_SEQPACKET
 * socket, which the caller checked; closed on every path): one datagram of
 * at most XR_BUNDLE_MAX bytes within 10 s, then end of file within 5 s (a
 * second datagram is a protocol error). Decode it and validate it: version
 * 1; group name; services, each one a module of `mods` (`n_mods` rows;
 * borrowed, they must outlive the bundle) at most once — none listed: every
 * module of `mods` —; runtime slice: loopback bind_host, limits in the
 * config table's ranges; apps sections within the config's bounds and
 * accepted by each listed module's check_app; key bundle with a known kdf
 * and 32..64-byte keys; a 16-byte control session id.
 *
 * On XR_OK `*out` is the bundle (malloc'd; xr_bundle_free()). Otherwise
 * `*out` is NULL and the result is XR_ERR_CHILD_BOOTSTRAP_FAILED with `d`
 * naming the fault (field names and printable renderings of names, never
 * key bytes).
 */
int xr_bundle_read(int fd, const xr_service_module *mods, size_t n_mods,
    xr_bundle **out, xr_diag *d);

/*
 * What xr_bundle_read() does with the datagram's `len` bytes: decode them
 * as an execrpc.v1.BootstrapBundle and validate them, with the same
 * results (and the decoded message wiped). No I/O; `buf` is not wiped
 * (the caller's).
 */
int xr_bundle_decode(const uint8_t *buf, size_t len,
    const xr_service_module *mods, size_t n_mods, xr_bundle **out,
    xr_diag *d);

/*
 * The supervisor's side (spawn.c): serialize the bundle of worker `index`
 * of group `g` under `cfg` (runtime slice with bind_port 0, every apps
 * section, the three keys of `keys`: the worker's own endpoint keyset,
 * xr_keys_endpoint(), control session id `sid`) into a
 * malloc'd buffer `*out` of `*len` bytes. Key bytes inside: the caller
 * wipes and frees it. Returns XR_OK or XR_ERR_NOMEM.
 */
int xr_bundle_pack(const xr_config *cfg, const xr_group_cfg *g,
    uint32_t index, const xr_keyset *keys,
    const uint8_t sid[XR_SESSION_ID_LEN], uint8_t **out, size_t *len);

/*
 * xr_bundle_pack() with the slot's `generation`, and, when cfg's transport
 * is redis_streams, the RedisSlice of cfg->redis (password_file as a path,
 * never a password); `keys` are then the group's keys (xr_keys_group()).
 */
int xr_bundle_pack_gen(const xr_config *cfg, const xr_group_cfg *g,
    uint32_t index, uint32_t generation, const xr_keyset *keys,
    const uint8_t sid[XR_SESSION_ID_LEN], uint8_t **out, size_t *len);

/*
 * The supervisor's side for an ingress process (supervisor/ingress.c;
 * docs/supervisor.md "Web process groups"): role GROUP_ROLE_INGRESS,
 * group `g`, `index`, the runtime slice (bind_port 0), `keys`' kdf and
 * control key only in `keys` (a KeyBundle), `keys`' web_to_exec and
 * exec_to_web (the supervisor's directional keys, not an endpoint's) and
 * `inst` in `ingress`, control session id `sid`, and the `n_eps` execution
 * endpoints `eps`; no apps sections, no services. Key bytes inside: the
 * caller wipes and frees `*out`. Returns XR_OK, XR_ERR_NO_SPACE (over
 * XR_BUNDLE_MAX) or XR_ERR_NOMEM.
 */
int xr_bundle_pack_ingress(const xr_config *cfg, const xr_group_cfg *g,
    uint32_t index, const xr_keyset *keys,
    const uint8_t inst[XR_INSTANCE_ID_LEN],
    const uint8_t sid[XR_SESSION_ID_LEN],
    Execrpc__V1__ExecEndpoint *const *eps, size_t n_eps, uint8_t **out,
    size_t *len);

/* The apps section `name` of the bundle, or NULL (also for `name` NULL). */
const xr_app_section *xr_bundle_app(const xr_bundle *b, const char *name);

/*
 * Fill `slice` with the bundle's runtime slice as a config: transport
 * tcp_local (redis_streams with the bundle's execution_ipc.redis when it
 * has a RedisSlice), bind_host, bind_port, max_payload_bytes, ttl_seconds,
 * nonce_cache_size; every other key at its default. The caller releases it
 * with xr_config_free().
 */
void xr_bundle_slice(const xr_bundle *b, xr_config *slice);

/* Wipe and free. NULL is a no-op. */
void xr_bundle_free(xr_bundle *b);

#endif /* XR_BUNDLE_H */
