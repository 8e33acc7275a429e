/*
 * core/log.c — leveled logging with redaction (contract in log.h).
 *
 * A line goes through four steps, all on the stack, no allocation:
 *
 *  1. format with vsnprintf into a scratch buffer a little larger than the
 *     1024-byte line, so that an encoded secret straddling the 1024 mark is
 *     still seen whole by step 2;
 *  2. scan the raw formatted bytes for every pattern of every registered
 *     secret (KMP, failure tables precomputed at registration, so the cost
 *     is O(line x secrets)) and mark the matched bytes;
 *  3. build the final line: marked runs become "[REDACTED]", control
 *     characters other than tab become '?', the result is cut to 1023 bytes
 *     and ends in "..." if anything was cut;
 *  4. hand it to the sink.
 *
 * Redaction runs on the raw bytes before control characters are replaced,
 * since a raw key almost always holds bytes below 0x20.
 *
 * The patterns of a secret s (8..XR_LOG_SECRET_MAX bytes):
 *  - s itself;
 *  - hex(s), matched case-insensitively (lower, upper and mixed case);
 *  - base64(s) with '=' padding;
 *  - the "core" of base64(z || s) for z of 0, 1 and 2 bytes: the characters
 *    whose six bits all come from s. These catch s without padding, and s
 *    embedded at any offset inside a longer base64-encoded string. The one
 *    character on each side that mixes bits of s with bits of its
 *    neighbours is redacted too when it is a base64 character.
 *  Base64 patterns treat '+' and '-', '/' and '_' as equal, so one pattern
 *  covers the standard and the URL-safe alphabets.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "keys.h"

#define XR_LOG_LINE		1024	/* final line incl. NUL */
#define XR_LOG_SECRETS		XR_LOG_SECRETS_MAX
#define XR_LOG_SECRET_MIN	8	/* shorter ones would hit plain text */
#define XR_LOG_SECRET_MAX	256	/* longer ones are refused */
#define XR_LOG_B64LEN(n)	(4 * (((n) + 2) / 3))
/* Longest pattern plus its two boundary characters. */
#define XR_LOG_PAT_MAX		(2 * XR_LOG_SECRET_MAX + 2)
/* Scratch: the line plus room for a pattern that straddles its end. */
#define XR_LOG_SCRATCH		(XR_LOG_LINE + XR_LOG_PAT_MAX)
/* raw + hex + padded base64 + three cores, each core <= the padded length. */
#define XR_LOG_ARENA		(3 * XR_LOG_SECRET_MAX + \
				    4 * XR_LOG_B64LEN(XR_LOG_SECRET_MAX + 2))
#define XR_LOG_PATS		6
#define XR_LOG_REDACTED		"[REDACTED]"
#define XR_LOG_ELLIPSIS		"..."

/* How pattern and text bytes are compared. */
enum xr_log_fold {
	XR_LOG_FOLD_NONE = 0,	/* exact bytes */
	XR_LOG_FOLD_HEX,	/* ASCII case-insensitive */
	XR_LOG_FOLD_B64,	/* '-' == '+', '_' == '/' */
};

struct xr_log_pat {
	uint16_t off;		/* into the secret's arena and fail table */
	uint16_t len;
	uint8_t fold;		/* enum xr_log_fold */
	uint8_t ext_left;	/* also redact one base64 char before */
	uint8_t ext_right;	/* also redact one base64 char after */
};

struct xr_log_secret {
	size_t len;
	uint8_t raw[XR_LOG_SECRET_MAX];
	size_t npats;
	struct xr_log_pat pats[XR_LOG_PATS];
	uint8_t arena[XR_LOG_ARENA];		/* folded pattern bytes */
	uint16_t fail[XR_LOG_ARENA];		/* KMP failure tables */
};

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

/*
 * Append the pattern arena[off..off+len) to `s` unless an identical one is
 * already there, and build its KMP failure table. Returns the next free
 * arena offset.
 */
static size_t
xr_log_pat_add(struct xr_log_secret *s, size_t off, size_t len, int fold,
    int ext_left, int ext_right)
{
	struct xr_log_pat *p;
	const uint8_t *b = s->arena + off;
	uint16_t *f = s->fail + off;
	size_t i, k;

	for (i = 0; i < s->npats; i++) {
		p = &s->pats[i];
		if (p->len == len && p->fold == fold &&
		    p->ext_left == ext_left && p->ext_right == ext_right &&
		    memcmp(s->arena + p->off, b, len) == 0)
			return off;
	}
	p = &s->pats[s->npats++];
	p->off = (uint16_t)off;
	p->len = (uint16_t)len;
	p->fold = (uint8_t)fold;
	p->ext_left = (uint8_t)ext_left;
	p->ext_right = (uint8_t)ext_right;

	/* f[i]: length of the longest proper border of b[0..i]. */
	f[0] = 0;
	for (i = 1, k = 0; i < len; i++) {
		while (k > 0 && b[i] != b[k])
			k = f[k - 1];
		if (b[i] == b[k])
			k++;
		f[i] = (uint16_t)k;
	}
	return off + len;
}

/* Precompute every pattern of the secret already copied into s->raw. */
static void
xr_log_secret_build(struct xr_log_secret *s)
{
	uint8_t tmp[2 + XR_LOG_SECRET_MAX];
	uint8_t enc[XR_LOG_B64LEN(2 + XR_LOG_SECRET_MAX)];
	size_t n = s->len, off = 0, i, elen, first, last, z;

	s->npats = 0;

	/* The raw bytes. */
	memcpy(s->arena + off, s->raw, n);
	off = xr_log_pat_add(s, off, n, XR_LOG_FOLD_NONE, 0, 0);

	/* Hex, stored lowercase, matched case-insensitively. */
	for (i = 0; i < n; i++) {
		s->arena[off + 2 * i] = (uint8_t)xr_log_hex_lc[s->raw[i] >> 4];
		s->arena[off + 2 * i + 1] =
		    (uint8_t)xr_log_hex_lc[s->raw[i] & 15];
	}
	off = xr_log_pat_add(s, off, 2 * n, XR_LOG_FOLD_HEX, 0, 0);

	/* Padded base64 (the whole string, '=' included). */
	elen = xr_log_b64(s->raw, n, s->arena + off, 1);
	off = xr_log_pat_add(s, off, elen, XR_LOG_FOLD_B64, 0, 0);

	/*
	 * Cores of base64(z zero bytes || s). The secret spans bits
	 * [8z, 8z + 8n) of the input; output character i spans bits
	 * [6i, 6i + 6). The core is the characters entirely inside the
	 * secret; a character cut by either edge mixes in foreign bits.
	 */
	for (z = 0; z < 3; z++) {
		memset(tmp, 0, z);
		memcpy(tmp + z, s->raw, n);
		elen = xr_log_b64(tmp, z + n, enc, 0);
		first = (8 * z + 5) / 6;
		last = (8 * z + 8 * n) / 6;	/* exclusive */
		if (last > elen)
			last = elen;
		memcpy(s->arena + off, enc + first, last - first);
		off = xr_log_pat_add(s, off, last - first, XR_LOG_FOLD_B64,
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
	struct xr_log_secret *s;
	size_t i, free_slot = XR_LOG_SECRETS;

	if (id != NULL)
		*id = 0;
	if (secret == NULL || id == NULL || len < XR_LOG_SECRET_MIN ||
	    len > XR_LOG_SECRET_MAX)
		return XR_ERR_INVALID_ARG;
	/* The same key registered twice (e.g. kdf none) takes one slot. */
	for (i = 0; i < XR_LOG_SECRETS; i++) {
		s = &xr_log_secrets[i];
		if (xr_log_slots[i].refs == 0) {
			if (free_slot == XR_LOG_SECRETS)
				free_slot = i;
			continue;
		}
		if (s->len == len && memcmp(s->raw, secret, len) == 0) {
			xr_log_slots[i].refs++;
			*id = xr_log_handle(i);
			return XR_OK;
		}
	}
	if (free_slot == XR_LOG_SECRETS)
		return XR_ERR_NO_SPACE;
	s = &xr_log_secrets[free_slot];
	s->len = len;
	memcpy(s->raw, secret, len);
	xr_log_secret_build(s);
	xr_log_slots[free_slot].refs = 1;
	*id = xr_log_handle(free_slot);
	return XR_OK;
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
 * Mark every occurrence of pattern `p` of `s` in text[0..n). Matches come
 * in increasing end order, so `done` keeps each byte marked at most once
 * per pattern: O(n) whatever the overlaps.
 *
 * Returns where the longest suffix of the text that is a proper prefix of
 * the pattern starts (n if none): if the text was cut short, the pattern
 * may continue past its end, so nothing from there on is safe to print.
 */
static size_t
xr_log_scan(const struct xr_log_secret *s, const struct xr_log_pat *p,
    const uint8_t *text, size_t n, uint8_t *mark)
{
	const uint8_t *b = s->arena + p->off;
	const uint16_t *f = s->fail + p->off;
	size_t i, k, m = p->len, start, end, done = 0;
	uint8_t c;

	if (m == 0)
		return n;
	for (i = 0, k = 0; i < n; i++) {
		c = xr_log_fold_byte(text[i], p->fold);
		while (k > 0 && c != b[k])
			k = f[k - 1];
		if (c == b[k])
			k++;
		if (k < m)
			continue;
		k = f[m - 1];
		start = i + 1 - m;
		end = i + 1;
		if (p->ext_left && start > 0 && xr_log_is_b64(text[start - 1]))
			start--;
		if (p->ext_right && end < n && xr_log_is_b64(text[end]))
			end++;
		if (start < done)
			start = done;
		if (start < end)
			memset(mark + start, 1, end - start);
		done = end;
	}
	if (k == 0)
		return n;
	start = n - k;
	if (p->ext_left && start > 0 && xr_log_is_b64(text[start - 1]))
		start--;
	return start;
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
	uint8_t mark[XR_LOG_SCRATCH];
	char line[XR_LOG_LINE];
	va_list ap;
	size_t n, cut, tail, i, j, o = 0;
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
	 * `tail` is where the earliest partial match at the end of the text
	 * starts. If vsnprintf cut the text, such a match may be the front of
	 * an encoding that the scan could not see whole: nothing from there
	 * on is printed. The scratch has XR_LOG_PAT_MAX bytes past the line,
	 * so this never shortens a line that the redaction did not shorten.
	 */
	memset(mark, 0, n);
	cut = n;
	for (i = 0; i < XR_LOG_SECRETS; i++)	/* free slots: npats 0 */
		for (j = 0; j < xr_log_secrets[i].npats; j++) {
			tail = xr_log_scan(&xr_log_secrets[i],
			    &xr_log_secrets[i].pats[j], text, n, mark);
			if (tail < cut)
				cut = tail;
		}
	if (r >= 0 && (size_t)r >= sizeof(text))
		over = 1;
	else
		cut = n;

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
	xr_wipe(line, sizeof(line));
	xr_log_depth--;
	errno = saved_errno;
}
