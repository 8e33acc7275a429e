/*
 * core/log.c — leveled logging with redaction (contract in log.h).
 *
 * A line goes through four steps, all on the stack, no allocation:
 *
 *  1. format with vsnprintf into a scratch buffer a little larger than the
 *     1024-byte line, so that an encoded secret straddling the 1024 mark is
 *     still seen whole by step 2;
 *  2. slide a window of each registered form's length over the raw
 *     formatted bytes and mark the windows that are the form (see below);
 *  3. build the final line: marked runs become "[REDACTED]", control
 *     characters other than tab become '?', the result is cut to 1023 bytes
 *     and ends in "..." if anything was cut;
 *  4. hand it to the sink.
 *
 * Redaction runs on the raw bytes before control characters are replaced,
 * since a raw key almost always holds bytes below 0x20.
 *
 * The forms of a secret s (8..XR_LOG_SECRET_MAX bytes):
 *  - s itself;
 *  - hex(s), matched case-insensitively (lower, upper and mixed case);
 *  - base64(s) with '=' padding;
 *  - the "core" of base64(z || s) for z of 0, 1 and 2 bytes: the characters
 *    whose six bits all come from s. These catch s without padding, and s
 *    embedded at any offset inside a longer base64-encoded string. The one
 *    character on each side that mixes bits of s with bits of its
 *    neighbours is redacted too when it is a base64 character.
 *  Base64 forms treat '+' and '-', '/' and '_' as equal, so one form covers
 *  the standard and the URL-safe alphabets.
 *
 * The table never holds a secret or a form of it. Each form is kept as
 * its length, how it folds (exact, ASCII case, base64url) and two keyed
 * values under a per-process random key drawn at the first registration:
 *  - a 128-bit tag, HMAC-SHA256(key, folded form) cut to 16 bytes;
 *  - a 16-bit fingerprint, the top bits of a polynomial hash of the folded
 *    form modulo 2^64 with a random odd multiplier, which rolls: the
 *    window moves one byte in O(1).
 * A window whose fingerprint matches (about one in 65536 otherwise) is
 * folded and its tag computed and compared (mbedtls_ct_memcmp); only an
 * equal tag marks it. 16 bits of fingerprint per form say next to nothing
 * about a secret of 8 bytes or more; the tag is as hard to invert as the
 * secret is to guess.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/constant_time.h>
#include <mbedtls/sha256.h>

#include "err.h"
#include "keys.h"

#define XR_LOG_LINE		1024	/* final line incl. NUL */
#define XR_LOG_SECRETS		XR_LOG_SECRETS_MAX
#define XR_LOG_SECRET_MIN	8	/* shorter ones would hit plain text */
#define XR_LOG_SECRET_MAX	256	/* longer ones are refused */
#define XR_LOG_B64LEN(n)	(4 * (((n) + 2) / 3))
/* Longest form (hex) plus its two boundary characters. */
#define XR_LOG_PAT_MAX		(2 * XR_LOG_SECRET_MAX + 2)
/* Scratch: the line plus room for a form that straddles its end. */
#define XR_LOG_SCRATCH		(XR_LOG_LINE + XR_LOG_PAT_MAX)
/* The longest form: hex; base64 of z || s is shorter. */
#define XR_LOG_FORM_MAX		(2 * XR_LOG_SECRET_MAX)
#define XR_LOG_PATS		6
#define XR_LOG_TAG_LEN		16	/* HMAC-SHA256 bytes kept per form */
#define XR_LOG_REDACTED		"[REDACTED]"
#define XR_LOG_ELLIPSIS		"..."

/* How form and text bytes are compared. */
enum xr_log_fold {
	XR_LOG_FOLD_NONE = 0,	/* exact bytes */
	XR_LOG_FOLD_HEX,	/* ASCII case-insensitive */
	XR_LOG_FOLD_B64,	/* '-' == '+', '_' == '/' */
};

/* One form of a secret, as keyed values only (see the top of the file). */
struct xr_log_pat {
	uint16_t len;		/* the form's length: the window's */
	uint16_t fp;		/* the window hash's top 16 bits */
	uint8_t fold;		/* enum xr_log_fold */
	uint8_t ext_left;	/* also redact one base64 char before */
	uint8_t ext_right;	/* also redact one base64 char after */
	uint64_t rpow;		/* the multiplier ^ (len - 1): rolls the hash */
	uint8_t tag[XR_LOG_TAG_LEN];	/* HMAC-SHA256(key, folded form) */
};

struct xr_log_secret {
	size_t len;		/* the secret's length */
	size_t npats;
	struct xr_log_pat pats[XR_LOG_PATS];	/* pats[0]: the raw bytes */
};

/* The per-process key, drawn at the first registration. */
static struct {
	int ready;
	uint64_t mul;			/* odd multiplier of the window hash */
	mbedtls_sha256_context in;	/* key ^ ipad absorbed */
	mbedtls_sha256_context out;	/* key ^ opad absorbed */
} xr_log_key;

static atomic_int xr_log_level_cur = XR_LOG_WARN;
static xr_log_sink xr_log_sink_fn;	/* NULL: the default sink */
static void *xr_log_sink_arg;
/*
 * The table: a slot is in use while it has registrations (refs > 0); a
 * free slot is all zero (npats 0: the scan skips it). A handle is the
 * slot's index + 1 in the low 8 bits and the slot's generation above; the
 * generation changes whenever the slot is freed, so an old handle never
 * removes a later secret's registration.
 */
static struct xr_log_secret xr_log_secrets[XR_LOG_SECRETS];
static struct {
	uint32_t refs;
	uint32_t gen;		/* 24 bits, never 0 once used */
} xr_log_slots[XR_LOG_SECRETS];

_Static_assert(XR_LOG_SECRETS < 255, "a handle keeps the slot in 8 bits");
/* A sink that logs would recurse; such nested lines are dropped. */
static _Thread_local int xr_log_depth;

static const char xr_log_b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char xr_log_hex_lc[] = "0123456789abcdef";

static const char *
xr_log_level_name(xr_log_level lvl)
{
	switch (lvl) {
	case XR_LOG_DEBUG:
		return "DEBUG";
	case XR_LOG_INFO:
		return "INFO";
	case XR_LOG_WARN:
		return "WARN";
	case XR_LOG_ERROR:
		return "ERROR";
	default:
		return "?";
	}
}

void
xr_log_set_level(xr_log_level lvl)
{
	if ((int)lvl < XR_LOG_DEBUG || (int)lvl > XR_LOG_OFF)
		return;
	atomic_store_explicit(&xr_log_level_cur, (int)lvl,
	    memory_order_relaxed);
}

xr_log_level
xr_log_get_level(void)
{
	return (xr_log_level)atomic_load_explicit(&xr_log_level_cur,
	    memory_order_relaxed);
}

int
xr_log_level_parse(const char *s)
{
	static const char *const names[] = {
		"debug", "info", "warn", "error", "off"
	};
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

/*
 * The default sink: "execrpc[pid]: LEVEL: line\n" on stderr in one write(2),
 * so that lines from several processes sharing stderr never interleave.
 */
static void
xr_log_sink_stderr(void *arg, xr_log_level lvl, const char *line)
{
	char buf[XR_LOG_LINE + 64];
	ssize_t w;
	int n;

	(void)arg;
	n = snprintf(buf, sizeof(buf), "execrpc[%ld]: %s: %s\n",
	    (long)getpid(), xr_log_level_name(lvl), line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf)) {
		/* Cannot happen with a bounded line; keep the newline. */
		n = (int)sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	do {
		w = write(STDERR_FILENO, buf, (size_t)n);
	} while (w == -1 && errno == EINTR);
}

void
xr_log_set_sink(xr_log_sink sink, void *arg)
{
	xr_log_sink_fn = sink;
	xr_log_sink_arg = sink == NULL ? NULL : arg;
}

/* --- patterns ------------------------------------------------------------ */

static uint8_t
xr_log_fold_byte(uint8_t c, int fold)
{
	switch (fold) {
	case XR_LOG_FOLD_HEX:
		return (c >= 'A' && c <= 'Z') ? (uint8_t)(c - 'A' + 'a') : c;
	case XR_LOG_FOLD_B64:
		if (c == '-')
			return '+';
		if (c == '_')
			return '/';
		return c;
	default:
		return c;
	}
}

static int
xr_log_is_b64(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '-' ||
	    c == '_';
}

/* Standard base64 of `in` into `out` (room for XR_LOG_B64LEN(n)), padded
 * or not. Returns the length written. */
static size_t
xr_log_b64(const uint8_t *in, size_t n, uint8_t *out, int pad)
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = (uint8_t)xr_log_b64_std[(v >> 18) & 63];
		out[o++] = (uint8_t)xr_log_b64_std[(v >> 12) & 63];
		out[o++] = (uint8_t)xr_log_b64_std[(v >> 6) & 63];
		out[o++] = (uint8_t)xr_log_b64_std[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = (uint8_t)xr_log_b64_std[(v >> 18) & 63];
		out[o++] = (uint8_t)xr_log_b64_std[(v >> 12) & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = (uint8_t)xr_log_b64_std[(v >> 18) & 63];
		out[o++] = (uint8_t)xr_log_b64_std[(v >> 12) & 63];
		out[o++] = (uint8_t)xr_log_b64_std[(v >> 6) & 63];
		if (pad)
			out[o++] = '=';
	}
	return o;
}

/* Draw the per-process key once: 64 random bytes as the HMAC key
 * (one SHA-256 block: used as is), 8 more for the multiplier. Returns
 * XR_OK or XR_ERR_SYSTEM. */
static int
xr_log_key_init(void)
{
	uint8_t k[64 + 8], pad[64];
	size_t i;
	int r;

	if (xr_log_key.ready)
		return XR_OK;
	if ((r = xr_random_bytes(k, sizeof(k))) != XR_OK)
		goto out;
	memcpy(&xr_log_key.mul, k + 64, sizeof(xr_log_key.mul));
	xr_log_key.mul |= 1;
	mbedtls_sha256_init(&xr_log_key.in);
	mbedtls_sha256_init(&xr_log_key.out);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	if (mbedtls_sha256_starts_ret(&xr_log_key.in, 0) != 0 ||
	    mbedtls_sha256_update_ret(&xr_log_key.in, pad, 64) != 0) {
		r = XR_ERR_INTERNAL;
		goto out;
	}
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	if (mbedtls_sha256_starts_ret(&xr_log_key.out, 0) != 0 ||
	    mbedtls_sha256_update_ret(&xr_log_key.out, pad, 64) != 0) {
		r = XR_ERR_INTERNAL;
		goto out;
	}
	xr_log_key.ready = 1;
	r = XR_OK;
 out:
	if (r != XR_OK)
		xr_wipe(&xr_log_key, sizeof(xr_log_key));
	xr_wipe(k, sizeof(k));
	xr_wipe(pad, sizeof(pad));
	return r;
}

/* The tag of b[0..n) folded (n <= XR_LOG_FORM_MAX): HMAC-SHA256 under the
 * per-process key, its first XR_LOG_TAG_LEN bytes. */
static void
xr_log_tag(const uint8_t *b, size_t n, int fold, uint8_t tag[XR_LOG_TAG_LEN])
{
	uint8_t f[XR_LOG_FORM_MAX], d[32];
	mbedtls_sha256_context c;
	size_t i;

	for (i = 0; i < n; i++)
		f[i] = xr_log_fold_byte(b[i], fold);
	mbedtls_sha256_init(&c);
	mbedtls_sha256_clone(&c, &xr_log_key.in);
	(void)mbedtls_sha256_update_ret(&c, f, n);
	(void)mbedtls_sha256_finish_ret(&c, d);
	mbedtls_sha256_clone(&c, &xr_log_key.out);
	(void)mbedtls_sha256_update_ret(&c, d, sizeof(d));
	(void)mbedtls_sha256_finish_ret(&c, d);
	memcpy(tag, d, XR_LOG_TAG_LEN);
	mbedtls_sha256_free(&c);		/* zeroizes */
	xr_wipe(f, n);
	xr_wipe(d, sizeof(d));
}

/* The window hash of b[0..n) folded: sum of b[i] * mul^(n-1-i), mod 2^64. */
static uint64_t
xr_log_hash(const uint8_t *b, size_t n, int fold)
{
	uint64_t h = 0;

	for (size_t i = 0; i < n; i++)
		h = h * xr_log_key.mul + xr_log_fold_byte(b[i], fold);
	return h;
}

/*
 * Add the form b[0..len) (already folded) to `s` as keyed values, unless
 * an identical one is already there.
 */
static void
xr_log_pat_add(struct xr_log_secret *s, const uint8_t *b, size_t len,
    int fold, int ext_left, int ext_right)
{
	struct xr_log_pat np, *p;
	size_t i;

	memset(&np, 0, sizeof(np));
	np.len = (uint16_t)len;
	np.fold = (uint8_t)fold;
	np.ext_left = (uint8_t)ext_left;
	np.ext_right = (uint8_t)ext_right;
	np.fp = (uint16_t)(xr_log_hash(b, len, fold) >> 48);
	np.rpow = 1;
	for (i = 1; i < len; i++)
		np.rpow *= xr_log_key.mul;
	xr_log_tag(b, len, fold, np.tag);
	for (i = 0; i < s->npats; i++) {
		p = &s->pats[i];
		if (p->len == np.len && p->fold == np.fold &&
		    p->ext_left == np.ext_left && p->ext_right == np.ext_right &&
		    mbedtls_ct_memcmp(p->tag, np.tag, XR_LOG_TAG_LEN) == 0)
			return;
	}
	s->pats[s->npats++] = np;
}

/* Fill `s` with the keyed values of every form of raw[0..n); the forms
 * themselves live on the stack only, wiped before returning. */
static void
xr_log_secret_build(struct xr_log_secret *s, const uint8_t *raw, size_t n)
{
	uint8_t tmp[2 + XR_LOG_SECRET_MAX];
	uint8_t enc[XR_LOG_FORM_MAX];
	size_t i, elen, first, last, z;

	memset(s, 0, sizeof(*s));
	s->len = n;

	/* The raw bytes. */
	xr_log_pat_add(s, raw, n, XR_LOG_FOLD_NONE, 0, 0);

	/* Hex, lowercase, matched case-insensitively. */
	for (i = 0; i < n; i++) {
		enc[2 * i] = (uint8_t)xr_log_hex_lc[raw[i] >> 4];
		enc[2 * i + 1] = (uint8_t)xr_log_hex_lc[raw[i] & 15];
	}
	xr_log_pat_add(s, enc, 2 * n, XR_LOG_FOLD_HEX, 0, 0);

	/* Padded base64 (the whole string, '=' included). */
	elen = xr_log_b64(raw, n, enc, 1);
	xr_log_pat_add(s, enc, elen, XR_LOG_FOLD_B64, 0, 0);

	/*
	 * Cores of base64(z zero bytes || s). The secret spans bits
	 * [8z, 8z + 8n) of the input; output character i spans bits
	 * [6i, 6i + 6). The core is the characters entirely inside the
	 * secret; a character cut by either edge mixes in foreign bits.
	 */
	for (z = 0; z < 3; z++) {
		memset(tmp, 0, z);
		memcpy(tmp + z, raw, n);
		elen = xr_log_b64(tmp, z + n, enc, 0);
		first = (8 * z + 5) / 6;
		last = (8 * z + 8 * n) / 6;	/* exclusive */
		if (last > elen)
			last = elen;
		xr_log_pat_add(s, enc + first, last - first, XR_LOG_FOLD_B64,
		    (8 * z) % 6 != 0, (8 * z + 8 * n) % 6 != 0);
	}
	xr_wipe(tmp, sizeof(tmp));
	xr_wipe(enc, sizeof(enc));
}

static xr_log_secret_id
xr_log_handle(size_t slot)
{
	if (xr_log_slots[slot].gen == 0)
		xr_log_slots[slot].gen = 1;
	return xr_log_slots[slot].gen << 8 | (uint32_t)(slot + 1);
}

/* Wipe a slot whose last registration went; its handles go stale. */
static void
xr_log_slot_free(size_t slot)
{
	xr_wipe(&xr_log_secrets[slot], sizeof(xr_log_secrets[slot]));
	xr_log_slots[slot].refs = 0;
	xr_log_slots[slot].gen = (xr_log_slots[slot].gen + 1) & 0xffffffu;
}

int
xr_log_secret_add(const uint8_t *secret, size_t len, xr_log_secret_id *id)
{
	struct xr_log_secret cand, *s;
	size_t i, free_slot = XR_LOG_SECRETS;
	int r;

	if (id != NULL)
		*id = 0;
	if (secret == NULL || id == NULL || len < XR_LOG_SECRET_MIN ||
	    len > XR_LOG_SECRET_MAX)
		return XR_ERR_INVALID_ARG;
	if ((r = xr_log_key_init()) != XR_OK)
		return r;
	xr_log_secret_build(&cand, secret, len);
	/* The same key registered twice (e.g. kdf none) takes one slot: the
	 * raw form's tag names the secret. */
	for (i = 0; i < XR_LOG_SECRETS; i++) {
		s = &xr_log_secrets[i];
		if (xr_log_slots[i].refs == 0) {
			if (free_slot == XR_LOG_SECRETS)
				free_slot = i;
			continue;
		}
		if (s->len == len && mbedtls_ct_memcmp(s->pats[0].tag,
		    cand.pats[0].tag, XR_LOG_TAG_LEN) == 0) {
			xr_log_slots[i].refs++;
			*id = xr_log_handle(i);
			r = XR_OK;
			goto out;
		}
	}
	if (free_slot == XR_LOG_SECRETS) {
		r = XR_ERR_NO_SPACE;
		goto out;
	}
	xr_log_secrets[free_slot] = cand;
	xr_log_slots[free_slot].refs = 1;
	*id = xr_log_handle(free_slot);
	r = XR_OK;
 out:
	xr_wipe(&cand, sizeof(cand));
	return r;
}

void
xr_log_secret_remove(xr_log_secret_id *id)
{
	size_t slot;

	if (id == NULL || *id == 0)
		return;
	slot = (*id & 0xffu) - 1;
	if (slot < XR_LOG_SECRETS && xr_log_slots[slot].refs > 0 &&
	    xr_log_handle(slot) == *id && --xr_log_slots[slot].refs == 0)
		xr_log_slot_free(slot);
	*id = 0;
}

int
xr_log_register_secret(const uint8_t *secret, size_t len)
{
	xr_log_secret_id id;

	/* the registration stays until xr_log_forget_secrets() */
	return xr_log_secret_add(secret, len, &id);
}

void
xr_log_forget_secrets(void)
{
	for (size_t i = 0; i < XR_LOG_SECRETS; i++)
		if (xr_log_slots[i].refs > 0)
			xr_log_slot_free(i);
}

size_t
xr_log_secret_count(void)
{
	size_t n = 0;

	for (size_t i = 0; i < XR_LOG_SECRETS; i++)
		n += xr_log_slots[i].refs > 0;
	return n;
}

/* --- the logging path ---------------------------------------------------- */

/*
 * Mark every window of text[0..n) that is form `p`; `folded` is the text
 * folded as the form says. A window whose rolling fingerprint matches has
 * its tag computed and compared. O(n) hashing, plus one HMAC per
 * fingerprint hit (about n / 65536 by chance).
 */
static void
xr_log_scan(const struct xr_log_pat *p, const uint8_t *text,
    const uint8_t *folded, size_t n, uint8_t *mark)
{
	uint8_t tag[XR_LOG_TAG_LEN];
	const uint64_t mul = xr_log_key.mul, rpow = p->rpow;
	size_t i, m = p->len, start, end;
	uint64_t h;

	if (m == 0 || m > n)
		return;
	h = xr_log_hash(folded, m, XR_LOG_FOLD_NONE);
	for (i = 0;; i++) {
		/* the window [i, i + m) */
		if ((uint16_t)(h >> 48) == p->fp) {
			xr_log_tag(folded + i, m, XR_LOG_FOLD_NONE, tag);
			if (mbedtls_ct_memcmp(tag, p->tag,
			    XR_LOG_TAG_LEN) == 0) {
				start = i;
				end = i + m;
				if (p->ext_left && start > 0 &&
				    xr_log_is_b64(text[start - 1]))
					start--;
				if (p->ext_right && end < n &&
				    xr_log_is_b64(text[end]))
					end++;
				memset(mark + start, 1, end - start);
			}
		}
		if (i + m >= n)
			break;
		h = (h - folded[i] * rpow) * mul + folded[i + m];
	}
	xr_wipe(tag, sizeof(tag));
}

/* Append up to `n` bytes to out[*o] within XR_LOG_LINE - 1; flag overflow. */
static void
xr_log_put(char *out, size_t *o, const char *src, size_t n, int *over)
{
	size_t room = XR_LOG_LINE - 1 - *o;

	if (n > room) {
		n = room;
		*over = 1;
	}
	memcpy(out + *o, src, n);
	*o += n;
}

void
xr_log(xr_log_level lvl, const char *fmt, ...)
{
	uint8_t text[XR_LOG_SCRATCH];
	uint8_t fhex[XR_LOG_SCRATCH];	/* text, folded for hex forms */
	uint8_t fb64[XR_LOG_SCRATCH];	/* text, folded for base64 forms */
	uint8_t mark[XR_LOG_SCRATCH];
	char line[XR_LOG_LINE];
	va_list ap;
	size_t n, cut, i, j, o = 0, longest = 0;
	int r, over = 0, saved_errno = errno;
	char c;

	if ((int)lvl < (int)xr_log_get_level() || (int)lvl < XR_LOG_DEBUG ||
	    (int)lvl >= XR_LOG_OFF || fmt == NULL || xr_log_depth > 0)
		return;
	xr_log_depth++;

	va_start(ap, fmt);
	r = vsnprintf((char *)text, sizeof(text), fmt, ap);
	va_end(ap);
	if (r < 0) {
		n = strlen("(log format error)");
		memcpy(text, "(log format error)", n);
	} else
		n = (size_t)r < sizeof(text) ? (size_t)r : sizeof(text) - 1;

	/*
	 * If vsnprintf cut the text, a form may begin in its last bytes and
	 * go on past the cut, where no window sees it whole: the last
	 * `longest` bytes (the longest registered form) are never printed.
	 * The scratch has XR_LOG_PAT_MAX bytes past the line, so this never
	 * shortens a line that the redaction did not shorten.
	 */
	memset(mark, 0, n);
	for (i = 0; i < n; i++) {
		fhex[i] = xr_log_fold_byte(text[i], XR_LOG_FOLD_HEX);
		fb64[i] = xr_log_fold_byte(text[i], XR_LOG_FOLD_B64);
	}
	for (i = 0; i < XR_LOG_SECRETS; i++)	/* free slots: npats 0 */
		for (j = 0; j < xr_log_secrets[i].npats; j++) {
			const struct xr_log_pat *p = &xr_log_secrets[i].pats[j];

			xr_log_scan(p, text, p->fold == XR_LOG_FOLD_HEX ? fhex :
			    p->fold == XR_LOG_FOLD_B64 ? fb64 : text, n, mark);
			if (p->len > longest)
				longest = p->len;
		}
	cut = n;
	if (r >= 0 && (size_t)r >= sizeof(text)) {
		over = 1;
		cut = n > longest ? n - longest : 0;
	}

	for (i = 0; i < cut && o < XR_LOG_LINE - 1; ) {
		if (mark[i]) {
			xr_log_put(line, &o, XR_LOG_REDACTED,
			    sizeof(XR_LOG_REDACTED) - 1, &over);
			while (i < n && mark[i])
				i++;
			continue;
		}
		c = (char)text[i];
		if ((text[i] < 0x20 && text[i] != '\t') || text[i] == 0x7f)
			c = '?';
		line[o++] = c;
		i++;
	}
	if (i < cut)
		over = 1;
	if (over) {
		if (o > XR_LOG_LINE - sizeof(XR_LOG_ELLIPSIS))
			o = XR_LOG_LINE - sizeof(XR_LOG_ELLIPSIS);
		memcpy(line + o, XR_LOG_ELLIPSIS, sizeof(XR_LOG_ELLIPSIS) - 1);
		o += sizeof(XR_LOG_ELLIPSIS) - 1;
	}
	line[o] = '\0';

	if (xr_log_sink_fn != NULL)
		xr_log_sink_fn(xr_log_sink_arg, lvl, line);
	else
		xr_log_sink_stderr(NULL, lvl, line);

	/* The scratch held the unredacted text. */
	xr_wipe(text, sizeof(text));
	xr_wipe(fhex, n);
	xr_wipe(fb64, n);
	xr_wipe(line, sizeof(line));
	xr_log_depth--;
	errno = saved_errno;
}
