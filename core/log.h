/*
 * core/log.h — leveled logging with redaction.
 *
 * The log API takes only printf formats; there is no function to log a byte
 * buffer. As a second line of defence every line is scanned for registered
 * secrets (raw, lowercase/uppercase hex, base64) and those runs are replaced
 * by "[REDACTED]" before the line reaches the sink. The table holds no
 * secret and no encoding of one: each form is kept as keyed hashes under a
 * per-process random key (HMAC-SHA256, and a rolling fingerprint to find
 * the candidate windows; core/log.c says how), so a memory dump shows no
 * registered secret in any form.
 *
 * Library code logs at XR_LOG_DEBUG only (docs/design.md, code conventions); programs decide the rest.
 * Not thread-safe across threads that log concurrently while registering.
 *
 * Secrets are registered by their owner, which drops them when it wipes
 * its copy: an object that holds keys for a while (the lifecycle) keeps
 * the handle xr_log_secret_add() gives and passes it to
 * xr_log_secret_remove(); a program that registers once at start uses
 * xr_log_register_secret() and xr_log_forget_secrets() at exit. The table
 * is bounded and never drops a secret silently: a registration that does
 * not fit fails, and its caller must not go on with that secret.
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

/* Distinct secrets registered at once, at most. */
#define XR_LOG_SECRETS_MAX	16

/* A registration, for xr_log_secret_remove(); 0 is none. */
typedef uint32_t xr_log_secret_id;

/*
 * Register `len` bytes of secret (8 to 256) so that any later line
 * containing them (raw, hex either case, or base64) is redacted until the
 * registration is removed. No copy is kept: the keyed hashes of each form
 * (the first registration draws the per-process key), wiped when its last
 * registration goes; the caller may wipe `secret` at once. The same bytes
 * registered again share one slot; each registration counts and is
 * removed on its own.
 * On XR_OK, *id is the registration's handle (non-zero). Returns
 * XR_ERR_INVALID_ARG (NULL secret or id, length out of range),
 * XR_ERR_NO_SPACE (XR_LOG_SECRETS_MAX distinct secrets are registered) or
 * XR_ERR_SYSTEM (no random key: getrandom(2) failed) with *id = 0 and
 * nothing registered: lines containing the secret would not be redacted,
 * so the caller must not go on with it.
 */
int xr_log_secret_add(const uint8_t *secret, size_t len, xr_log_secret_id *id);

/* Remove the registration *id and set *id to 0; the secret's hashes are
 * wiped when no registration is left. NULL, 0 or a registration already
 * gone (e.g. after xr_log_forget_secrets()) is a no-op. */
void xr_log_secret_remove(xr_log_secret_id *id);

/* xr_log_secret_add() for a program that registers once and calls
 * xr_log_forget_secrets() at exit: the registration has no handle. Returns
 * as xr_log_secret_add(). */
int xr_log_register_secret(const uint8_t *secret, size_t len);

/* Drop and wipe every registered secret's hashes; every handle becomes
 * stale. The per-process key stays. */
void xr_log_forget_secrets(void);

/* Distinct secrets registered now (slots in use). */
size_t xr_log_secret_count(void);

/* Log a line. Formats into a bounded buffer (1024 bytes, truncated). When
 * the text is longer than the formatter's scratch (the line plus 514
 * bytes), its last bytes that could begin a registered form (as many as
 * the longest form) are dropped before the cut, never printed. */
void xr_log(xr_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define xr_debug(...) xr_log(XR_LOG_DEBUG, __VA_ARGS__)
#define xr_info(...) xr_log(XR_LOG_INFO, __VA_ARGS__)
#define xr_warn(...) xr_log(XR_LOG_WARN, __VA_ARGS__)
#define xr_error(...) xr_log(XR_LOG_ERROR, __VA_ARGS__)

#endif /* XR_LOG_H */
