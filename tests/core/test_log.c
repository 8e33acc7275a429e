/*
 * tests/core/test_log.c — core/log.c: level filter, bounded lines, control
 * character neutralisation and secret redaction (SEC-IPC-08, unit part),
 * the bounded secret table: registrations by handle, removal, sharing,
 * stale handles, a full table refusing (never dropping silently).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <mbedtls/base64.h>

#include "err.h"
#include "log.h"

#define LINE_MAX_LEN	1023	/* 1024-byte buffer incl. NUL */
#define CAP_LINES	32

/* --- a capturing sink ---------------------------------------------------- */

struct capture {
	size_t n;		/* lines seen; slot n % CAP_LINES is next */
	size_t too_long;	/* lines over LINE_MAX_LEN (must stay 0) */
	xr_log_level lvl[CAP_LINES];
	char line[CAP_LINES][LINE_MAX_LEN + 2];
};

static struct capture cap;

/* Never fails in here: a cmocka failure would longjmp out of xr_log. */
static void
capture_sink(void *arg, xr_log_level lvl, const char *line)
{
	struct capture *c = arg;
	size_t slot = c->n % CAP_LINES;

	if (strlen(line) > LINE_MAX_LEN)
		c->too_long++;
	c->lvl[slot] = lvl;
	snprintf(c->line[slot], sizeof(c->line[slot]), "%s", line);
	c->n++;
}

static int
setup(void **state)
{
	(void)state;
	memset(&cap, 0, sizeof(cap));
	xr_log_forget_secrets();
	xr_log_set_level(XR_LOG_DEBUG);
	xr_log_set_sink(capture_sink, &cap);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	assert_int_equal(cap.too_long, 0);
	xr_log_forget_secrets();
	xr_log_set_sink(NULL, NULL);
	xr_log_set_level(XR_LOG_WARN);
	return 0;
}

/* The last captured line. */
static const char *
last(void)
{
	assert_true(cap.n > 0);
	return cap.line[(cap.n - 1) % CAP_LINES];
}

/* --- encodings, computed independently of core/log.c --------------------- */

/* A canary 32-byte key: no NUL (it is logged with %.*s), but LF, CR, ESC
 * and DEL so that raw redaction must run before control-char replacement,
 * and '+' '/' in its base64 so that base64url differs. */
static const uint8_t canary[32] = {
	0xfb, 0xef, 0x0a, 0x1b, 0x7f, 0x3e, 0xff, 0x41,
	0x5c, 0x22, 0x25, 0x73, 0x0d, 0xc3, 0xa9, 0x10,
	0x9e, 0xf8, 0x3f, 0xbf, 0x08, 0x80, 0x60, 0x2b,
	0x2f, 0x3d, 0x01, 0xd2, 0x6b, 0x99, 0xfa, 0xcd,
};

static void
to_hex(const uint8_t *in, size_t n, char *out, int upper)
{
	const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

enum b64_kind { B64_STD, B64_STD_NOPAD, B64_URL, B64_URL_NOPAD };

static void
to_b64(const uint8_t *in, size_t n, char *out, size_t cap_out,
    enum b64_kind kind)
{
	size_t olen, i;

	assert_int_equal(mbedtls_base64_encode((unsigned char *)out, cap_out,
	    &olen, in, n), 0);
	out[olen] = '\0';
	if (kind == B64_STD_NOPAD || kind == B64_URL_NOPAD)
		while (olen > 0 && out[olen - 1] == '=')
			out[--olen] = '\0';
	if (kind == B64_URL || kind == B64_URL_NOPAD)
		for (i = 0; i < olen; i++) {
			if (out[i] == '+')
				out[i] = '-';
			else if (out[i] == '/')
				out[i] = '_';
		}
}

/* Assert no `w`-byte window of s[0..n) occurs in `line`. */
static void
assert_no_window(const char *line, const void *s, size_t n, size_t w)
{
	const uint8_t *b = s;
	size_t i, ll = strlen(line);

	assert_true(n >= w);
	for (i = 0; i + w <= n; i++)
		if (memmem(line, ll, b + i, w) != NULL)
			fail_msg("secret fragment at offset %zu leaked: %s",
			    i, line);
}

/* --- level filter -------------------------------------------------------- */

static void
test_log_level_parse(void **state)
{
	(void)state;
	assert_int_equal(xr_log_level_parse("debug"), XR_LOG_DEBUG);
	assert_int_equal(xr_log_level_parse("info"), XR_LOG_INFO);
	assert_int_equal(xr_log_level_parse("warn"), XR_LOG_WARN);
	assert_int_equal(xr_log_level_parse("error"), XR_LOG_ERROR);
	assert_int_equal(xr_log_level_parse("off"), XR_LOG_OFF);
	assert_int_equal(xr_log_level_parse("verbose"), -1);
	assert_int_equal(xr_log_level_parse(""), -1);
	assert_int_equal(xr_log_level_parse("warning"), -1);
	assert_int_equal(xr_log_level_parse(NULL), -1);
}

static void
test_log_level_default_warn(void **state)
{
	(void)state;
	teardown(NULL);		/* back to the defaults */
	assert_int_equal(xr_log_get_level(), XR_LOG_WARN);
	setup(NULL);
}

static void
test_log_level_filter_exact(void **state)
{
	(void)state;
	xr_log_set_level(XR_LOG_WARN);
	xr_debug("d");
	xr_info("i");
	assert_int_equal(cap.n, 0);
	xr_warn("w");
	xr_error("e");
	assert_int_equal(cap.n, 2);
	assert_string_equal(cap.line[0], "w");
	assert_int_equal(cap.lvl[0], XR_LOG_WARN);
	assert_string_equal(cap.line[1], "e");
	assert_int_equal(cap.lvl[1], XR_LOG_ERROR);

	xr_log_set_level(XR_LOG_DEBUG);
	xr_debug("d%d", 2);
	assert_int_equal(cap.n, 3);
	assert_string_equal(cap.line[2], "d2");
	assert_int_equal(cap.lvl[2], XR_LOG_DEBUG);

	xr_log_set_level(XR_LOG_OFF);
	xr_error("never");
	assert_int_equal(cap.n, 3);
	xr_log(XR_LOG_OFF, "not a level to log at");
	assert_int_equal(cap.n, 3);

	/* An out-of-range level is ignored, not applied. */
	xr_log_set_level(XR_LOG_INFO);
	xr_log_set_level((xr_log_level)42);
	assert_int_equal(xr_log_get_level(), XR_LOG_INFO);
}

/* --- bounded lines ------------------------------------------------------- */

static void
test_log_truncation_1024(void **state)
{
	char big[3000];
	const char *l;

	(void)state;
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	xr_error("%s", big);
	l = last();
	assert_int_equal(strlen(l), LINE_MAX_LEN);
	assert_memory_equal(l + LINE_MAX_LEN - 3, "...", 3);
	assert_int_equal(strspn(l, "A"), LINE_MAX_LEN - 3);

	/* Just past the scratch margin, too. */
	memset(big, 'B', 1030);
	big[1030] = '\0';
	xr_error("%s", big);
	l = last();
	assert_int_equal(strlen(l), LINE_MAX_LEN);
	assert_memory_equal(l + LINE_MAX_LEN - 3, "...", 3);
}

static void
test_log_exact_fit_not_marked(void **state)
{
	char s[LINE_MAX_LEN + 2];

	(void)state;
	memset(s, 'x', LINE_MAX_LEN);
	s[LINE_MAX_LEN] = '\0';
	xr_error("%s", s);
	assert_string_equal(last(), s);		/* 1023 bytes: fits, no "..." */

	s[LINE_MAX_LEN] = 'x';			/* 1024: one too many */
	s[LINE_MAX_LEN + 1] = '\0';
	xr_error("%s", s);
	assert_int_equal(strlen(last()), LINE_MAX_LEN);
	assert_memory_equal(last() + LINE_MAX_LEN - 3, "...", 3);
}

/* --- control characters -------------------------------------------------- */

static void
test_log_newline_injection(void **state)
{
	(void)state;
	xr_warn("user %s logged in",
	    "bob\nexecrpc[1]: ERROR: forged\r\x1b[2Kx\x7f");
	assert_int_equal(cap.n, 1);
	assert_string_equal(last(),
	    "user bob?execrpc[1]: ERROR: forged??[2Kx? logged in");
	assert_null(strchr(last(), '\n'));
	assert_null(strchr(last(), '\r'));

	/* Tab survives; an embedded NUL cannot cut the line short. */
	xr_warn("a\tb%cc", 0);
	assert_string_equal(last(), "a\tb?c");
}

/* --- SEC-IPC-08: redaction ----------------------------------------------- */

/*
 * SEC-IPC-08 (unit part): a registered key logged raw, as hex in either
 * case, as base64 with and without padding and as base64url never reaches
 * the sink; each line says [REDACTED] and keeps its surrounding text.
 */
static void
check_all_encodings(const uint8_t *key, size_t n)
{
	char enc[1024], hex[600];
	size_t k;

	cap.n = 0;
	assert_int_equal(xr_log_register_secret(key, n), 0);

	xr_warn("raw <%.*s> end", (int)n, (const char *)key);
	assert_no_window(last(), key, n, n < 12 ? n : 12);
	assert_string_equal(last(), "raw <[REDACTED]> end");

	to_hex(key, n, hex, 0);
	xr_warn("lower <%s> end", hex);
	assert_string_equal(last(), "lower <[REDACTED]> end");

	to_hex(key, n, hex, 1);
	xr_warn("upper <%s> end", hex);
	assert_string_equal(last(), "upper <[REDACTED]> end");

	/* Mixed case: the first half upper, the rest lower. */
	to_hex(key, n, hex, 0);
	for (k = 0; k < n; k++)
		if (hex[k] >= 'a' && hex[k] <= 'f')
			hex[k] = (char)(hex[k] - 'a' + 'A');
	xr_warn("mixed <%s> end", hex);
	assert_string_equal(last(), "mixed <[REDACTED]> end");

	for (k = B64_STD; k <= B64_URL_NOPAD; k++) {
		to_b64(key, n, enc, sizeof(enc), (enum b64_kind)k);
		xr_warn("b64 <%s> end", enc);
		assert_no_window(last(), enc, strlen(enc), 8);
		assert_string_equal(last(), "b64 <[REDACTED]> end");
	}
	xr_log_forget_secrets();
}

static void
test_SEC_IPC_08_redact_all_encodings(void **state)
{
	uint8_t key[256];
	const size_t lens[] = { 8, 9, 10, 31, 32, 33, 64, 255, 256 };
	size_t i, j;

	(void)state;
	check_all_encodings(canary, sizeof(canary));
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (j = 0; j < lens[i]; j++)
			key[j] = (uint8_t)(0x81 + 7 * j + i);	/* no NUL */
		for (j = 0; j < lens[i]; j++)
			if (key[j] == 0)
				key[j] = 1;
		check_all_encodings(key, lens[i]);
	}
}

/*
 * SEC-IPC-08 (unit part): the canary embedded in a longer string: hex
 * glued to other hex digits, and base64 / base64url of prefix || key ||
 * suffix at each of the three byte alignments.
 */
static void
test_SEC_IPC_08_redact_embedded(void **state)
{
	uint8_t blob[64];
	char hex[80], enc[128];
	size_t z, k, first, last_c;

	(void)state;
	assert_int_equal(xr_log_register_secret(canary, sizeof(canary)), 0);

	to_hex(canary, sizeof(canary), hex, 0);
	xr_warn("token=00ff%sabcdef;", hex);
	assert_no_window(last(), hex, strlen(hex), 8);
	assert_string_equal(last(), "token=00ff[REDACTED]abcdef;");

	xr_warn("Authorization: Bearer-%s-x", hex);
	assert_string_equal(last(), "Authorization: Bearer-[REDACTED]-x");

	for (z = 0; z < 3; z++) {
		/* z prefix bytes, the key, then 5 - z suffix bytes. */
		memset(blob, 'P', z);
		memcpy(blob + z, canary, sizeof(canary));
		memset(blob + z + sizeof(canary), 'S', 5 - z);
		for (k = B64_STD; k <= B64_URL_NOPAD; k++) {
			to_b64(blob, z + sizeof(canary) + 5 - z, enc,
			    sizeof(enc), (enum b64_kind)k);
			xr_warn("blob=%s;", enc);
			assert_non_null(strstr(last(), "[REDACTED]"));
			/* Characters carrying only key bits must be gone. */
			first = (8 * z + 5) / 6;
			last_c = (8 * (z + sizeof(canary))) / 6;
			assert_no_window(last(), enc + first, last_c - first,
			    4);
		}
	}
}

/*
 * SEC-IPC-08 (unit part): after xr_log_forget_secrets the same lines pass
 * through unchanged, so the redaction above matched the key and was not a
 * blanket filter.
 */
static void
test_SEC_IPC_08_forget_passes_through(void **state)
{
	char hex[80], enc[80], want[256];
	size_t k;
	int round;

	(void)state;
	for (round = 0; round < 2; round++) {
		if (round == 0)
			assert_int_equal(xr_log_register_secret(canary,
			    sizeof(canary)), 0);
		else
			xr_log_forget_secrets();

		to_hex(canary, sizeof(canary), hex, 0);
		xr_warn("lower %s", hex);
		snprintf(want, sizeof(want), "lower %s", hex);
		if (round == 0)
			assert_string_equal(last(), "lower [REDACTED]");
		else
			assert_string_equal(last(), want);

		to_hex(canary, sizeof(canary), hex, 1);
		xr_warn("upper %s", hex);
		snprintf(want, sizeof(want), "upper %s", hex);
		if (round == 0)
			assert_string_equal(last(), "upper [REDACTED]");
		else
			assert_string_equal(last(), want);

		for (k = B64_STD; k <= B64_URL_NOPAD; k++) {
			to_b64(canary, sizeof(canary), enc, sizeof(enc),
			    (enum b64_kind)k);
			xr_warn("b64 %s", enc);
			snprintf(want, sizeof(want), "b64 %s", enc);
			if (round == 0)
				assert_string_equal(last(), "b64 [REDACTED]");
			else
				assert_string_equal(last(), want);
		}

		/* Raw: the printable bytes come through, controls as '?'. */
		xr_warn("raw %.*s", (int)sizeof(canary),
		    (const char *)canary);
		if (round == 0)
			assert_string_equal(last(), "raw [REDACTED]");
		else {
			assert_int_equal(strlen(last()), 4 + sizeof(canary));
			assert_memory_equal(last() + 4 + 5, "\x3e\xff\x41",
			    3);
			assert_int_equal(last()[4 + 2], '?');	/* LF */
		}
	}
}

/*
 * SEC-IPC-08 (unit part): an encoding that straddles the 1024-byte cut is
 * not leaked in part: the formatter sees the whole of it before cutting.
 */
static void
test_SEC_IPC_08_no_leak_at_truncation(void **state)
{
	char pad[1100], hex[80], bighex[600];
	uint8_t big[256];
	size_t at;

	(void)state;
	assert_int_equal(xr_log_register_secret(canary, sizeof(canary)), 0);
	to_hex(canary, sizeof(canary), hex, 0);
	for (at = 940; at < 1099; at += 3) {
		memset(pad, '.', at);
		pad[at] = '\0';
		/* Cut by the formatter's scratch too ... */
		xr_warn("%s%s%s", pad, hex, pad);
		assert_int_equal(strlen(last()), LINE_MAX_LEN);
		assert_no_window(last(), hex, strlen(hex), 6);
		/* ... or only by the 1024-byte line. */
		xr_warn("%s%s", pad, hex);
		assert_int_equal(strlen(last()),
		    at + 10 <= LINE_MAX_LEN ? at + 10 : LINE_MAX_LEN);
		assert_no_window(last(), hex, strlen(hex), 6);
	}
	/*
	 * The front of an encoding at the very end of the formatter's
	 * scratch, pulled into the line because an earlier redaction (a
	 * 512-char hex run becoming 10 chars) shortened what precedes it.
	 */
	memset(big, 0xa5, sizeof(big));
	assert_int_equal(xr_log_register_secret(big, sizeof(big)), 0);
	to_hex(big, sizeof(big), bighex, 0);
	for (at = 940; at < 1099; at++) {
		memset(pad, '.', at);
		pad[at] = '\0';
		xr_warn("%s%s%s%s", bighex, pad, hex, pad);
		assert_no_window(last(), hex, strlen(hex), 6);
		assert_memory_equal(last(), "[REDACTED]...", 13);
	}

	/* Pushed past the scratch by a very long prefix: still nothing. */
	memset(pad, '.', 1090);
	pad[1090] = '\0';
	xr_warn("%s%s%s%s", pad, pad + 600, hex, pad);
	assert_no_window(last(), hex, strlen(hex), 6);
}

/* --- registration limits ------------------------------------------------- */

static void
test_log_secret_17th_refused(void **state)
{
	uint8_t key[16];
	int i;

	(void)state;
	memset(key, 0x5a, sizeof(key));
	for (i = 0; i < 16; i++) {
		key[0] = (uint8_t)(i + 1);
		assert_int_equal(xr_log_register_secret(key, sizeof(key)), 0);
	}
	key[0] = 17;
	assert_int_equal(xr_log_register_secret(key, sizeof(key)),
	    XR_ERR_NO_SPACE);
	assert_int_equal(xr_log_secret_count(), XR_LOG_SECRETS_MAX);
	/* Forgetting frees the slots. */
	xr_log_forget_secrets();
	assert_int_equal(xr_log_secret_count(), 0);
	assert_int_equal(xr_log_register_secret(key, sizeof(key)), 0);
}

static void
test_log_secret_duplicate_one_slot(void **state)
{
	uint8_t key[16];
	int i;

	(void)state;
	memset(key, 0x33, sizeof(key));
	for (i = 0; i < 20; i++)
		assert_int_equal(xr_log_register_secret(key, sizeof(key)), 0);
	for (i = 0; i < 15; i++) {
		key[0] = (uint8_t)(0x80 + i);
		assert_int_equal(xr_log_register_secret(key, sizeof(key)), 0);
	}
	key[0] = 0x7f;
	assert_int_equal(xr_log_register_secret(key, sizeof(key)),
	    XR_ERR_NO_SPACE);
}

static void
test_log_secret_short_refused(void **state)
{
	const uint8_t s[8] = "abcdefgh";
	uint8_t big[257];

	(void)state;
	assert_int_equal(xr_log_register_secret(s, 7), XR_ERR_INVALID_ARG);
	assert_int_equal(xr_log_register_secret(s, 0), XR_ERR_INVALID_ARG);
	assert_int_equal(xr_log_register_secret(NULL, 32), XR_ERR_INVALID_ARG);
	memset(big, 0x42, sizeof(big));
	assert_int_equal(xr_log_register_secret(big, sizeof(big)),
	    XR_ERR_INVALID_ARG);
	assert_int_equal(xr_log_secret_add(s, 8, NULL), XR_ERR_INVALID_ARG);
	assert_int_equal(xr_log_secret_count(), 0);

	/* A refused 7-byte secret does not redact anything. */
	xr_warn("abcdefg");
	assert_string_equal(last(), "abcdefg");
	assert_int_equal(xr_log_register_secret(s, 8), 0);
	xr_warn("abcdefgh");
	assert_string_equal(last(), "[REDACTED]");
}

/* --- registrations by handle --------------------------------------------- */

/* A 16-byte key numbered `i` (no NUL byte, no control character). */
static void
numbered_key(uint8_t key[16], unsigned i)
{
	memset(key, 'k', 16);
	key[0] = (uint8_t)('A' + i % 26);
	key[1] = (uint8_t)('A' + i / 26 % 26);
	key[2] = (uint8_t)('A' + i / 676 % 26);
}

/* 1 if a line holding `key` as hex and raw comes out redacted, 0 if it
 * comes out whole (asserts it is one or the other). */
static int
redacted(const uint8_t key[16])
{
	char hex[40], want[128];

	to_hex(key, 16, hex, 0);
	xr_warn("k %s <%.*s>", hex, 16, (const char *)key);
	if (strcmp(last(), "k [REDACTED] <[REDACTED]>") == 0)
		return 1;
	snprintf(want, sizeof(want), "k %s <%.*s>", hex, 16, (const char *)key);
	assert_string_equal(last(), want);
	return 0;
}

/* Removing the registration stops the redaction, wipes the slot and
 * zeroes the handle; removing again (or NULL, or 0) is a no-op. */
static void
test_log_secret_remove(void **state)
{
	uint8_t key[16];
	xr_log_secret_id id = 0;

	(void)state;
	numbered_key(key, 1);
	assert_int_equal(xr_log_secret_add(key, sizeof(key), &id), XR_OK);
	assert_int_not_equal(id, 0);
	assert_int_equal(xr_log_secret_count(), 1);
	assert_int_equal(redacted(key), 1);
	xr_log_secret_remove(&id);
	assert_int_equal(id, 0);
	assert_int_equal(xr_log_secret_count(), 0);
	assert_int_equal(redacted(key), 0);
	xr_log_secret_remove(&id);
	xr_log_secret_remove(NULL);
	assert_int_equal(xr_log_secret_count(), 0);
}

/* Two owners of the same bytes: one slot, redacted until both removed; a
 * registration without a handle keeps it until xr_log_forget_secrets(). */
static void
test_log_secret_shared(void **state)
{
	uint8_t key[16];
	xr_log_secret_id a = 0, b = 0, c = 0;

	(void)state;
	numbered_key(key, 2);
	assert_int_equal(xr_log_secret_add(key, sizeof(key), &a), XR_OK);
	assert_int_equal(xr_log_secret_add(key, sizeof(key), &b), XR_OK);
	assert_int_equal(xr_log_secret_count(), 1);
	xr_log_secret_remove(&a);
	assert_int_equal(redacted(key), 1);
	xr_log_secret_remove(&b);
	assert_int_equal(redacted(key), 0);
	assert_int_equal(xr_log_secret_count(), 0);

	assert_int_equal(xr_log_register_secret(key, sizeof(key)), XR_OK);
	assert_int_equal(xr_log_secret_add(key, sizeof(key), &c), XR_OK);
	xr_log_secret_remove(&c);
	assert_int_equal(redacted(key), 1);
	assert_int_equal(xr_log_secret_count(), 1);
}

/* A handle from before xr_log_forget_secrets() does not remove the
 * registration of a later secret that took the same slot. */
static void
test_log_secret_stale_handle(void **state)
{
	uint8_t k1[16], k2[16];
	xr_log_secret_id old = 0, id = 0, copy;

	(void)state;
	numbered_key(k1, 3);
	numbered_key(k2, 4);
	assert_int_equal(xr_log_secret_add(k1, sizeof(k1), &old), XR_OK);
	xr_log_forget_secrets();
	assert_int_equal(xr_log_secret_add(k2, sizeof(k2), &id), XR_OK);
	assert_int_not_equal(id, old);
	xr_log_secret_remove(&old);
	assert_int_equal(old, 0);
	assert_int_equal(redacted(k2), 1);
	assert_int_equal(xr_log_secret_count(), 1);
	/* the same after a remove: a copy of the handle is stale */
	copy = id;
	xr_log_secret_remove(&id);
	assert_int_equal(xr_log_secret_add(k1, sizeof(k1), &id), XR_OK);
	xr_log_secret_remove(&copy);
	assert_int_equal(redacted(k1), 1);
	xr_log_secret_remove(&id);
	assert_int_equal(xr_log_secret_count(), 0);
}

/*
 * A full table refuses the next secret with XR_ERR_NO_SPACE and a zero
 * handle — never a silent success: a line holding that secret is not
 * redacted, which is why the caller must not go on with it. Removing one
 * registration makes room.
 */
static void
test_log_secret_full_refuses(void **state)
{
	uint8_t key[16], extra[16];
	xr_log_secret_id ids[XR_LOG_SECRETS_MAX], xid = 1;

	(void)state;
	for (unsigned i = 0; i < XR_LOG_SECRETS_MAX; i++) {
		numbered_key(key, 10 + i);
		assert_int_equal(xr_log_secret_add(key, sizeof(key), &ids[i]),
		    XR_OK);
	}
	numbered_key(extra, 99);
	assert_int_equal(xr_log_secret_add(extra, sizeof(extra), &xid),
	    XR_ERR_NO_SPACE);
	assert_int_equal(xid, 0);
	assert_int_equal(xr_log_secret_count(), XR_LOG_SECRETS_MAX);
	assert_int_equal(redacted(extra), 0);
	xr_log_secret_remove(&ids[5]);
	assert_int_equal(xr_log_secret_add(extra, sizeof(extra), &xid), XR_OK);
	assert_int_equal(redacted(extra), 1);
	numbered_key(key, 15);		/* the one removed */
	assert_int_equal(redacted(key), 0);
	numbered_key(key, 16);
	assert_int_equal(redacted(key), 1);
	assert_int_equal(xr_log_secret_count(), XR_LOG_SECRETS_MAX);
}

/* An owner that registers and removes its keys again and again (a
 * runtime restarted 1000 times): each is redacted while registered, and
 * the table never holds more than the live ones. */
static void
test_log_secret_churn(void **state)
{
	uint8_t key[16], prev[16];
	xr_log_secret_id id[3] = { 0, 0, 0 };

	(void)state;
	for (unsigned round = 0; round < 1000; round++) {
		for (unsigned k = 0; k < 3; k++) {
			numbered_key(key, round * 3 + k);
			assert_int_equal(xr_log_secret_add(key, sizeof(key),
			    &id[k]), XR_OK);
		}
		assert_int_equal(xr_log_secret_count(), 3);
		assert_int_equal(redacted(key), 1);
		if (round > 0)
			assert_int_equal(redacted(prev), 0);
		for (unsigned k = 0; k < 3; k++)
			xr_log_secret_remove(&id[k]);
		assert_int_equal(xr_log_secret_count(), 0);
		memcpy(prev, key, sizeof(prev));
	}
}

/* --- the default sink, errno, re-entry ----------------------------------- */

static void
test_log_default_sink_format(void **state)
{
	char buf[2048], want[128];
	int p[2], saved;
	ssize_t r;

	(void)state;
	assert_int_equal(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	close(p[1]);

	xr_log_set_sink(NULL, NULL);
	xr_warn("hello %s", "world\nforged");
	xr_info("second");

	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	r = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	assert_true(r > 0);
	buf[r] = '\0';
	snprintf(want, sizeof(want), "execrpc[%ld]: WARN: hello world?forged\n"
	    "execrpc[%ld]: INFO: second\n", (long)getpid(), (long)getpid());
	assert_string_equal(buf, want);
}

static void
test_log_errno_preserved(void **state)
{
	(void)state;
	errno = ENOENT;
	xr_warn("x");
	assert_int_equal(errno, ENOENT);
	errno = EACCES;
	xr_debug("%m");		/* %m reads errno before anything clobbers it */
	assert_string_equal(last(), strerror(EACCES));
	assert_int_equal(errno, EACCES);
}

static void
reentrant_sink(void *arg, xr_log_level lvl, const char *line)
{
	capture_sink(arg, lvl, line);
	xr_error("from the sink");	/* must be dropped, not recurse */
}

static void
test_log_sink_reentry_dropped(void **state)
{
	(void)state;
	xr_log_set_sink(reentrant_sink, &cap);
	xr_warn("once");
	assert_int_equal(cap.n, 1);
	assert_string_equal(cap.line[0], "once");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_log_level_parse,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_level_default_warn,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_level_filter_exact,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_truncation_1024,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_exact_fit_not_marked,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_newline_injection,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_SEC_IPC_08_redact_all_encodings, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_SEC_IPC_08_redact_embedded, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_SEC_IPC_08_forget_passes_through, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_SEC_IPC_08_no_leak_at_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_secret_17th_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_log_secret_duplicate_one_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_secret_short_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_secret_remove,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_secret_shared,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_secret_stale_handle,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_secret_full_refuses,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_secret_churn,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_default_sink_format,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_errno_preserved,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_sink_reentry_dropped,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
