/* core/keys.c — master secret, directional keys, zeroization. */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#define HKDF_SALT "execrpc/v1"
#define HKDF_INFO_PREFIX "execrpc/v1 key "
#define HKDF_EP_PREFIX "execrpc/v1 endpoint "
#define HKDF_GRP_PREFIX "execrpc/v1 group "

static const char *const dir_labels[XR_DIR_COUNT] = {
	[XR_DIR_WEB_TO_EXEC] = "web->exec",
	[XR_DIR_EXEC_TO_WEB] = "exec->web",
	[XR_DIR_CONTROL] = "control",
};

const char *
xr_dir_label(xr_dir d)
{
	if ((unsigned)d >= XR_DIR_COUNT)
		return NULL;
	return dir_labels[d];
}

void
xr_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		mbedtls_platform_zeroize(p, len);
}

int
xr_random_bytes(void *out, size_t len)
{
	uint8_t *p = out;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return XR_ERR_SYSTEM;
		}
		p += n;
		len -= (size_t)n;
	}
	return XR_OK;
}

int
xr_keys_generate_master(uint8_t out[XR_MASTER_LEN])
{
	int r = xr_random_bytes(out, XR_MASTER_LEN);

	if (r != XR_OK)
		xr_wipe(out, XR_MASTER_LEN);
	return r;
}

int
xr_keys_check_private(int fd, const char *what, const char *path, xr_diag *d)
{
	struct stat st, lst;

	if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
		return xr_diag_set(d, XR_ERR_SECRET_INVALID,
		    "%s %s: is a symbolic link (not followed; name the file "
		    "itself)", what, path);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		return xr_diag_set(d, XR_ERR_SECRET_INVALID,
		    "%s %s: not a regular file", what, path);
	/* as OpenSSH for keys: another uid could rewrite the secret */
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return xr_diag_set(d, XR_ERR_SECRET_INVALID,
		    "%s %s: owned by uid %u (must be owned by this process's "
		    "uid %u or by root)", what, path, (unsigned)st.st_uid,
		    (unsigned)geteuid());
	if ((st.st_mode & 077) != 0)
		return xr_diag_set(d, XR_ERR_SECRET_INVALID,
		    "%s %s: mode %03o is accessible by group or other (must "
		    "be 0600 or stricter)", what, path,
		    (unsigned)(st.st_mode & 0777));
	return XR_OK;
}

int
xr_keys_load_file(const char *path, uint8_t *out, size_t cap, size_t *len,
    xr_diag *d)
{
	/* room for the longest secret plus "\r\n", plus one byte that tells
	 * "too long" from "exactly the limit" */
	uint8_t buf[XR_SECRET_MAX + 3];
	size_t have = 0, lim = cap < XR_SECRET_MAX ? cap : XR_SECRET_MAX;
	struct stat st;
	int fd = -1, r = XR_ERR_SECRET_INVALID;

	*len = 0;
	/* O_NONBLOCK: a FIFO without a writer must not hang the open */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) == -1) {
		int e = errno;

		/* O_NOFOLLOW fails with ELOOP on a symlink: say so */
		if (e == ELOOP && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			r = xr_diag_set(d, XR_ERR_SECRET_INVALID,
			    "secret_file %s: is a symbolic link (not followed; "
			    "name the file itself)", path);
		else
			r = xr_diag_set(d, XR_ERR_SECRET_INVALID,
			    "secret_file %s: cannot open (%s)", path,
			    strerror(e));
		goto out;
	}
	if ((r = xr_keys_check_private(fd, "secret_file", path, d)) != XR_OK)
		goto out;
	while (have < sizeof(buf)) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = xr_diag_set(d, XR_ERR_SECRET_INVALID,
			    "secret_file %s: read failed (%s)", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	/* strip one line ending: "\n" or "\r\n" */
	if (have > 0 && buf[have - 1] == '\n') {
		have--;
		if (have > 0 && buf[have - 1] == '\r')
			have--;
	}
	if (have > lim) {
		r = xr_diag_set(d, XR_ERR_SECRET_INVALID,
		    "secret_file %s: longer than %zu bytes", path, lim);
		goto out;
	}
	if (have < XR_SECRET_MIN) {
		r = xr_diag_set(d, XR_ERR_SECRET_INVALID,
		    "secret_file %s: shorter than %d bytes", path,
		    XR_SECRET_MIN);
		goto out;
	}
	memcpy(out, buf, have);
	*len = have;
	r = XR_OK;
 out:
	xr_wipe(buf, sizeof(buf));
	if (r != XR_OK && out != NULL)
		xr_wipe(out, cap);
	if (fd != -1)
		close(fd);
	return r;
}

static int
key_set(xr_key *k, const uint8_t *b, size_t len)
{
	if (len == 0 || len > XR_KEY_MAX)
		return XR_ERR_INVALID_ARG;
	memcpy(k->b, b, len);
	k->len = len;
	return XR_OK;
}

int
xr_keys_derive(const uint8_t *master, size_t len, xr_kdf kdf, xr_keyset *out)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	uint8_t info[64];
	int r = XR_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	if (master == NULL || len == 0)
		return XR_ERR_INVALID_ARG;
	out->kdf = kdf;
	for (int d = 0; d < XR_DIR_COUNT; d++) {
		xr_key *k = &out->k[d];

		switch (kdf) {
		case XR_KDF_NONE:
			if (len <= XR_KEY_MAX) {
				key_set(k, master, len);
			} else {
				/* HMAC hashes a long key itself: same tags */
				if (mbedtls_sha256_ret(master, len, k->b, 0) != 0)
					goto out;
				k->len = 32;
			}
			break;
		case XR_KDF_HKDF_SHA256: {
			size_t pl = strlen(HKDF_INFO_PREFIX);
			size_t ll = strlen(dir_labels[d]);

			memcpy(info, HKDF_INFO_PREFIX, pl);
			memcpy(info + pl, dir_labels[d], ll);
			if (mbedtls_hkdf(md, (const uint8_t *)HKDF_SALT,
			    strlen(HKDF_SALT), master, len, info, pl + ll,
			    k->b, 32) != 0)
				goto out;
			k->len = 32;
			break;
		}
		default:
			r = XR_ERR_INVALID_ARG;
			goto out;
		}
	}
	r = XR_OK;
 out:
	if (r != XR_OK)
		xr_keyset_wipe(out);
	return r;
}

/* The info string of an endpoint key (xr_keys_endpoint, keys.h); returns
 * its length. `info` holds at least EP_INFO_MAX bytes (16: room for the
 * longest label, "web->exec"). */
#define EP_INFO_MAX (sizeof(HKDF_EP_PREFIX) + 16 + XR_INSTANCE_ID_LEN + 1 + \
	XR_ENDPOINT_GROUP_MAX + 8)

static size_t
ep_info(uint8_t *info, xr_dir d, const uint8_t inst[XR_INSTANCE_ID_LEN],
    const char *group, size_t glen, uint32_t index, uint32_t generation)
{
	size_t n = 0, pl = strlen(HKDF_EP_PREFIX), ll = strlen(dir_labels[d]);

	memcpy(info + n, HKDF_EP_PREFIX, pl);
	n += pl;
	memcpy(info + n, dir_labels[d], ll);
	n += ll;
	info[n++] = 0x00;
	memcpy(info + n, inst, XR_INSTANCE_ID_LEN);
	n += XR_INSTANCE_ID_LEN;
	info[n++] = (uint8_t)glen;
	memcpy(info + n, group, glen);
	n += glen;
	for (int sh = 24; sh >= 0; sh -= 8)
		info[n++] = (uint8_t)(index >> sh);
	for (int sh = 24; sh >= 0; sh -= 8)
		info[n++] = (uint8_t)(generation >> sh);
	return n;
}

int
xr_keys_endpoint(const xr_keyset *base, const uint8_t inst[XR_INSTANCE_ID_LEN],
    const char *group, uint32_t index, uint32_t generation, xr_keyset *out)
{
	static const xr_dir data[] = { XR_DIR_WEB_TO_EXEC, XR_DIR_EXEC_TO_WEB };
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	uint8_t info[EP_INFO_MAX];
	size_t glen = group != NULL ? strlen(group) : 0;
	int r = XR_ERR_INVALID_ARG;

	if (base == out)	/* nothing to zeroize: the input stays */
		return XR_ERR_INVALID_ARG;
	memset(out, 0, sizeof(*out));
	if (base == NULL || inst == NULL || glen == 0 ||
	    glen > XR_ENDPOINT_GROUP_MAX)
		return XR_ERR_INVALID_ARG;
	for (int d = 0; d < XR_DIR_COUNT; d++)
		if (base->k[d].len == 0 || base->k[d].len > XR_KEY_MAX)
			return XR_ERR_INVALID_ARG;
	out->kdf = base->kdf;
	out->k[XR_DIR_CONTROL] = base->k[XR_DIR_CONTROL];
	for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++) {
		const xr_key *in = &base->k[data[i]];
		size_t il = ep_info(info, data[i], inst, group, glen, index,
		    generation);

		if (mbedtls_hkdf(md, (const uint8_t *)HKDF_SALT,
		    strlen(HKDF_SALT), in->b, in->len, info, il,
		    out->k[data[i]].b, 32) != 0) {
			r = XR_ERR_INTERNAL;
			goto out;
		}
		out->k[data[i]].len = 32;
	}
	r = XR_OK;
 out:
	xr_wipe(info, sizeof(info));
	if (r != XR_OK)
		xr_keyset_wipe(out);
	return r;
}

/* The info string of a group key (xr_keys_group, keys.h) into `info` (at
 * least EP_INFO_MAX bytes); returns its length. */
static size_t
grp_info(uint8_t *info, xr_dir d, const char *group, size_t glen)
{
	size_t n = 0, pl = strlen(HKDF_GRP_PREFIX), ll = strlen(dir_labels[d]);

	memcpy(info + n, HKDF_GRP_PREFIX, pl);
	n += pl;
	memcpy(info + n, dir_labels[d], ll);
	n += ll;
	info[n++] = 0x00;
	info[n++] = (uint8_t)glen;
	memcpy(info + n, group, glen);
	return n + glen;
}

int
xr_keys_group(const xr_keyset *base, const char *group, xr_keyset *out)
{
	static const xr_dir data[] = { XR_DIR_WEB_TO_EXEC, XR_DIR_EXEC_TO_WEB };
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	uint8_t info[EP_INFO_MAX];
	size_t glen = group != NULL ? strlen(group) : 0;
	int r = XR_ERR_INVALID_ARG;

	if (base == out)
		return XR_ERR_INVALID_ARG;
	memset(out, 0, sizeof(*out));
	if (base == NULL || glen == 0 || glen > XR_ENDPOINT_GROUP_MAX)
		return XR_ERR_INVALID_ARG;
	for (int d = 0; d < XR_DIR_COUNT; d++)
		if (base->k[d].len == 0 || base->k[d].len > XR_KEY_MAX)
			return XR_ERR_INVALID_ARG;
	out->kdf = base->kdf;
	out->k[XR_DIR_CONTROL] = base->k[XR_DIR_CONTROL];
	for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++) {
		const xr_key *in = &base->k[data[i]];
		size_t il = grp_info(info, data[i], group, glen);

		if (mbedtls_hkdf(md, (const uint8_t *)HKDF_SALT,
		    strlen(HKDF_SALT), in->b, in->len, info, il,
		    out->k[data[i]].b, 32) != 0) {
			r = XR_ERR_INTERNAL;
			goto out;
		}
		out->k[data[i]].len = 32;
	}
	r = XR_OK;
 out:
	xr_wipe(info, sizeof(info));
	if (r != XR_OK)
		xr_keyset_wipe(out);
	return r;
}

int
xr_keyset_from_keys(xr_kdf kdf, const uint8_t *web_to_exec, size_t l0,
    const uint8_t *exec_to_web, size_t l1, const uint8_t *control, size_t l2,
    xr_keyset *out)
{
	memset(out, 0, sizeof(*out));
	out->kdf = kdf;
	if (key_set(&out->k[XR_DIR_WEB_TO_EXEC], web_to_exec, l0) != XR_OK ||
	    key_set(&out->k[XR_DIR_EXEC_TO_WEB], exec_to_web, l1) != XR_OK ||
	    key_set(&out->k[XR_DIR_CONTROL], control, l2) != XR_OK) {
		xr_keyset_wipe(out);
		return XR_ERR_INVALID_ARG;
	}
	return XR_OK;
}

void
xr_keyset_wipe(xr_keyset *ks)
{
	if (ks != NULL)
		xr_wipe(ks, sizeof(*ks));
}
