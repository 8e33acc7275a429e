/*
 * core/keys.h — key material: the master secret and the directional keys
 * (docs/design.md section 3).
 *
 * Secrets live only in memory. Every buffer that held key material is
 * zeroized (mbedtls_platform_zeroize) before it is released. No function here
 * logs, prints or copies a secret into an error string.
 */
#ifndef XR_KEYS_H
#define XR_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define XR_MASTER_LEN 32	/* generated master secret length */
#define XR_SECRET_MIN 32	/* minimum static secret length */
#define XR_SECRET_MAX 4096	/* maximum static secret length accepted */
#define XR_KEY_MAX 64		/* a directional key never exceeds this */

/* Directions of docs/design.md section 2; the label is part of the MAC input. */
typedef enum xr_dir {
	XR_DIR_WEB_TO_EXEC = 0,	/* label "web->exec" */
	XR_DIR_EXEC_TO_WEB = 1,	/* label "exec->web" */
	XR_DIR_CONTROL = 2,	/* label "control" */
	XR_DIR_COUNT
} xr_dir;

typedef enum xr_kdf {
	XR_KDF_NONE = 0,	/* the master signs every direction */
	XR_KDF_HKDF_SHA256 = 1,	/* directional keys via HKDF-SHA256 */
} xr_kdf;

/* The label of a direction ("web->exec", ...); NULL if out of range. */
const char *xr_dir_label(xr_dir d);

/* One directional key. With XR_KDF_NONE and a master longer than 64 bytes
 * the key is SHA-256(master), which is exactly what HMAC does with such a key,
 * so tags are unchanged. */
typedef struct xr_key {
	uint8_t b[XR_KEY_MAX];
	size_t len;
} xr_key;

/* The keys of one process: one per direction, plus the kdf that made them. */
typedef struct xr_keyset {
	xr_kdf kdf;
	xr_key k[XR_DIR_COUNT];
} xr_keyset;

/* Fill `out` with `len` bytes from the OS CSPRNG (getrandom(2), retrying on
 * EINTR and short reads). Returns XR_OK or XR_ERR_SYSTEM. */
int xr_random_bytes(void *out, size_t len);

/* Generate a fresh XR_MASTER_LEN-byte master secret into `out`
 * (secret_mode: generated). Returns XR_OK or XR_ERR_SYSTEM. */
int xr_keys_generate_master(uint8_t out[XR_MASTER_LEN]);

/*
 * The checks a file that holds a secret passes, on `fd` opened from
 * `path`, in this order: `path` is not a symbolic link (lstat), `fd` is a
 * regular file, owned by the effective uid or by root (another uid could
 * rewrite it), with no permission bit for group or other (mode & 077).
 * Returns XR_OK, or XR_ERR_SECRET_INVALID with "WHAT PATH: why" in `d`
 * (`what` names the file: "secret_file", "config file"). Never reads it.
 */
int xr_keys_check_private(int fd, const char *what, const char *path,
    xr_diag *d);

/*
 * Read a static secret from `path` into `out` (capacity `cap`), setting
 * `*len`. One trailing "\n" (or "\r\n") is stripped. Refuses, with
 * XR_ERR_SECRET_INVALID and a reason in `d` (path only, never content):
 * what xr_keys_check_private() refuses, then a secret shorter than
 * XR_SECRET_MIN or longer than `cap`, in that order. Opens with
 * O_CLOEXEC|O_NOFOLLOW. On failure `out` is zeroized. xr_config_keyset() is its caller at start and in
 * `config check` (xr_config_secret_check()).
 */
int xr_keys_load_file(const char *path, uint8_t *out, size_t cap, size_t *len,
    xr_diag *d);

/*
 * Derive the keyset from a master secret of `len` bytes (>= 1).
 * XR_KDF_NONE: every direction's key is the master (or SHA-256 of it if
 * longer than XR_KEY_MAX). XR_KDF_HKDF_SHA256: key[d] = HKDF-SHA256(salt =
 * "execrpc/v1", ikm = master, info = "execrpc/v1 key " || label(d), L = 32).
 * Returns XR_OK, or XR_ERR_INVALID_ARG / XR_ERR_INTERNAL (out zeroized).
 */
int xr_keys_derive(const uint8_t *master, size_t len, xr_kdf kdf,
    xr_keyset *out);

/* Length of a supervisor's instance id (xr_keys_endpoint). */
#define XR_INSTANCE_ID_LEN 16
/* Longest group name xr_keys_endpoint takes (a config group name is
 * shorter: XR_CFG_NAME_MAX). */
#define XR_ENDPOINT_GROUP_MAX 255

/*
 * The keys of one supervised worker endpoint (docs/design.md section 3,
 * "Endpoint keys"): the web->exec and exec->web keys of `base` bound to the
 * supervisor instance `inst`, the worker slot (`group`, `index`) and its
 * `generation` (1 for the slot's first process, +1 at each later spawn):
 *
 *   out.k[d] = HKDF-SHA256(salt = "execrpc/v1", ikm = base.k[d],
 *       info = "execrpc/v1 endpoint " || label(d) || 0x00 || inst (16)
 *              || u8 len(group) || group || u32be index
 *              || u32be generation, L = 32)
 *
 * for d = web->exec and exec->web; the control key is base's, unchanged;
 * out.kdf = base.kdf. Every field of the info has a fixed width or a length
 * prefix (the label a terminator), so distinct inputs never give the same
 * info. Whatever base.kdf is, the two data-plane keys of an endpoint
 * differ from each other and from those of any other endpoint, generation
 * or instance. `group` is 1..XR_ENDPOINT_GROUP_MAX bytes. Returns XR_OK, or
 * XR_ERR_INVALID_ARG / XR_ERR_INTERNAL with `out` zeroized (`out` ==
 * `base` is XR_ERR_INVALID_ARG, and `base` is left as it was).
 */
int xr_keys_endpoint(const xr_keyset *base,
    const uint8_t inst[XR_INSTANCE_ID_LEN], const char *group, uint32_t index,
    uint32_t generation, xr_keyset *out);

/*
 * The keys of one process group's Redis streams (transport redis_streams,
 * docs/design.md section 3, "Group keys"): every ingress signs a group's
 * requests, and every worker of the group verifies them and signs its
 * replies, with
 *
 *   out.k[d] = HKDF-SHA256(salt = "execrpc/v1", ikm = base.k[d],
 *       info = "execrpc/v1 group " || label(d) || 0x00
 *              || u8 len(group) || group, L = 32)
 *
 * for d = web->exec and exec->web; the control key is base's; out.kdf =
 * base.kdf. Not bound to an instance, index or generation: any worker of
 * the group, on any host, verifies what any ingress with the secret signed
 * for it. `group` is 1..XR_ENDPOINT_GROUP_MAX bytes. Returns as
 * xr_keys_endpoint().
 */
int xr_keys_group(const xr_keyset *base, const char *group, xr_keyset *out);

/* Build a keyset from explicit directional keys (e.g. a bootstrap bundle).
 * Each key 1..XR_KEY_MAX bytes. Returns XR_OK or XR_ERR_INVALID_ARG. */
int xr_keyset_from_keys(xr_kdf kdf, const uint8_t *web_to_exec, size_t l0,
    const uint8_t *exec_to_web, size_t l1, const uint8_t *control, size_t l2,
    xr_keyset *out);

/* Zeroize a keyset (NULL is a no-op). */
void xr_keyset_wipe(xr_keyset *ks);

/* Zeroize `len` bytes at `p` in a way the compiler cannot elide. */
void xr_wipe(void *p, size_t len);

#endif /* XR_KEYS_H */
