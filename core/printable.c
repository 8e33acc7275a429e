/* core/printable.c — safe rendering of untrusted bytes (contract in
 * printable.h). */
#include "printable.h"

#include <string.h>

#define ELLIPSIS	"..."
#define ELLIPSIS_LEN	3

/* Render one byte into e[4]; returns its length (1, 2 or 4). */
static size_t
render(unsigned char c, char e[4])
{
	static const char hex[] = "0123456789abcdef";

	if (c == '"' || c == '\\') {
		e[0] = '\\';
		e[1] = (char)c;
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		e[0] = (char)c;
		return 1;
	}
	e[0] = '\\';
	e[1] = 'x';
	e[2] = hex[c >> 4];
	e[3] = hex[c & 15];
	return 4;
}

const char *
xr_printable(const char *s, size_t len, char *buf, size_t cap)
{
	size_t i, o = 0, cut = 0, n;
	char e[4];

	if (cap == 0)
		return "";
	/* `cut`: the length of the longest rendered prefix that still leaves
	 * room for the ellipsis and the NUL */
	for (i = 0; i < len; i++) {
		n = render((unsigned char)s[i], e);
		if (o + n > cap - 1)
			break;
		memcpy(buf + o, e, n);
		o += n;
		if (o + ELLIPSIS_LEN + 1 <= cap)
			cut = o;
	}
	if (i < len) {
		o = cut;
		if (o + ELLIPSIS_LEN + 1 <= cap) {
			memcpy(buf + o, ELLIPSIS, ELLIPSIS_LEN);
			o += ELLIPSIS_LEN;
		}
	}
	buf[o] = '\0';
	return buf;
}
