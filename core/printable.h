/*
 * core/printable.h — untrusted bytes made safe to print in a diagnostic.
 */
#ifndef XR_PRINTABLE_H
#define XR_PRINTABLE_H

#include <stddef.h>

/*
 * Render the `len` bytes at `s` (NULL only when len is 0; NUL bytes are
 * data, not an end) into `buf` (`cap` bytes) as one NUL-terminated line of
 * printable ASCII, so that the text can sit between double quotes in a
 * message. Each input byte becomes:
 *  - itself, for 0x20..0x7e except '"' and '\\';
 *  - \" for '"' and \\ for '\\';
 *  - \xHH (two lowercase hex digits) for every other byte (0x00..0x1f,
 *    0x7f..0xff).
 * When the whole rendering fits in cap - 1 bytes it is written in full.
 * Otherwise the longest run of whole renderings (a byte is never split) that
 * leaves room for "..." and the NUL is written, followed by "..."; with cap
 * under 4 that is the empty string.
 *
 * Returns `buf`, or a static "" when cap is 0 (then `buf` may be NULL and
 * is not written). Never fails, never allocates.
 */
const char *xr_printable(const char *s, size_t len, char *buf, size_t cap);

#endif /* XR_PRINTABLE_H */
