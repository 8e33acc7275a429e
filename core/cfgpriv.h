/*
 * core/cfgpriv.h — what core/config.c (the table-driven schema) shares with
 * core/cfgapps.c (the apps.NAME sections). Private to core/.
 */
#ifndef XR_CFGPRIV_H
#define XR_CFGPRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "yamltree.h"

#define XR_CFG_DIAG_PATH 192	/* a key path in a diagnostic */

/* Validation state of one load. */
typedef struct xr_cfg_vctx {
	xr_config *cfg;
	xr_diag *d;
	bool have_secret;
	bool have_secret_file;
} xr_cfg_vctx;

/* "parent.key" (or "key" under the root) with the key rendered safely. */
void xr_cfg_path_join(char *out, size_t cap, const char *parent,
    const char *key, size_t keylen);

/* True if the `len` bytes at `s` (NUL-terminated) are 1..len bytes without
 * NUL, each [A-Za-z0-9_] or one of `extra`. */
bool xr_cfg_chars_ok(const char *s, size_t len, const char *extra);

/*
 * Check that `n` is a mapping (or null: an empty one) whose keys are
 * strings, each at most once, and — if `keys` is not NULL — each one of
 * the NULL-terminated `keys`. `path` is the mapping's path ("" = the
 * document). Returns XR_OK or XR_ERR_CONFIG_INVALID with the reason in the
 * context's diag.
 */
int xr_cfg_check_map(xr_cfg_vctx *c, const xr_ynode *n, const char *path,
    const char *const *keys);

/* The `apps` key: check its sections (shape and bounds) and copy them into
 * c->cfg->apps. Returns XR_OK or XR_ERR_CONFIG_INVALID. */
int xr_cfg_apps(xr_cfg_vctx *c, const xr_ynode *n, const xr_cfg_row *row);

#endif /* XR_CFGPRIV_H */
