/*
 * core/log.h — leveled logging with redaction.
 *
 * The log API takes only printf formats; there is no function to log a byte
 * buffer. As a second line of defence every line is scanned for registered
 * secrets (raw, lowercase/uppercase hex, base64) and those runs are replaced
 * by "[REDACTED]" before the line reaches the sink.
 *
 * Library code logs at XR_LOG_DEBUG only (docs/design.md, code conventions); programs decide the rest.
 * Not thread-safe across threads that log concurrently while registering.
 */
#ifndef XR_LOG_H
#define XR_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum xr_log_level {
	XR_LOG_DEBUG = 0,
	XR_LOG_INFO = 1,
	XR_LOG_WARN = 2,
	XR_LOG_ERROR = 3,
	XR_LOG_OFF = 4,
} xr_log_level;

/* Receives each finished (already redacted) line, without a newline. */
typedef void (*xr_log_sink)(void *arg, xr_log_level lvl, const char *line);

/* Lines below `lvl` are dropped (default XR_LOG_WARN). */
void xr_log_set_level(xr_log_level lvl);
xr_log_level xr_log_get_level(void);
/* Parse "debug|info|warn|error|off"; returns -1 if unknown. */
int xr_log_level_parse(const char *s);

/* Replace the sink (default: stderr as "execrpc[pid]: LEVEL: line\n").
 * NULL restores the default. */
void xr_log_set_sink(xr_log_sink sink, void *arg);

/* Register `len` bytes of secret so that any later line containing them (raw,
 * hex either case, or base64) is redacted. A copy is kept (wiped by
 * xr_log_forget_secrets). At most 16 secrets; returns 0 or -1 if full. */
int xr_log_register_secret(const uint8_t *secret, size_t len);
/* Drop and wipe every registered secret. */
void xr_log_forget_secrets(void);

/* Log a line. Formats into a bounded buffer (1024 bytes, truncated). */
void xr_log(xr_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define xr_debug(...) xr_log(XR_LOG_DEBUG, __VA_ARGS__)
#define xr_info(...) xr_log(XR_LOG_INFO, __VA_ARGS__)
#define xr_warn(...) xr_log(XR_LOG_WARN, __VA_ARGS__)
#define xr_error(...) xr_log(XR_LOG_ERROR, __VA_ARGS__)

#endif /* XR_LOG_H */
