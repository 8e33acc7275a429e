/* apps/protoc-gen-execrpc/buf.c — growable text, the first error. */
#include "pg.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
oom(void)
{
	fputs("protoc-gen-execrpc: out of memory\n", stderr);
	abort();
}

void *
pg_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		oom();
	return p;
}

char *
pg_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		oom();
	return p;
}

static void
reserve(pg_buf *b, size_t more)
{
	size_t cap = b->cap != 0 ? b->cap : 256;
	char *ns;

	if (b->len + more + 1 <= b->cap)
		return;
	while (cap < b->len + more + 1)
		cap *= 2;
	if ((ns = realloc(b->s, cap)) == NULL)
		oom();
	b->s = ns;
	b->cap = cap;
}

void
pg_buf_vprintf(pg_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		oom();
	reserve(b, (size_t)n);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void
pg_buf_printf(pg_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pg_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void
pg_buf_guard(pg_buf *b, const char *s)
{
	size_t n = strlen(s), i;

	reserve(b, n);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		b->s[b->len++] = isalnum(c) ? (char)toupper(c) : '_';
	}
	b->s[b->len] = '\0';
}

void
pg_buf_free(pg_buf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

char *
pg_buf_take(pg_buf *b)
{
	char *s;

	if (b->s == NULL)
		return pg_xstrdup("");
	s = b->s;
	memset(b, 0, sizeof(*b));
	return s;
}

int
pg_fail(pg_err *e, const char *fmt, ...)
{
	va_list ap;

	if (e->msg.len > 0)
		return -1;
	va_start(ap, fmt);
	pg_buf_vprintf(&e->msg, fmt, ap);
	va_end(ap);
	return -1;
}
