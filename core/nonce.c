/*
 * core/nonce.c — per-thread CTR_DRBG nonces (contract in nonce.h).
 */
#include "nonce.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/platform_util.h>

#include "err.h"
#include "keys.h"

/* One thread's generator. pool[used..] are bytes not yet handed out. */
struct gen {
	mbedtls_ctr_drbg_context drbg;
	uint8_t pool[XR_NONCE_POOL];
	size_t used;
	unsigned epoch;		/* the fork epoch it was seeded in */
	int seeded;
	uint64_t seedings;
};

static _Thread_local struct gen g;
static atomic_uint fork_epoch;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* In the child of a fork: every thread's generator is stale. */
static void
on_fork_child(void)
{
	atomic_fetch_add(&fork_epoch, 1);
}

static void
atfork_install(void)
{
	(void)pthread_atfork(NULL, NULL, on_fork_child);
}

static int
entropy(void *arg, unsigned char *out, size_t len)
{
	(void)arg;
	return xr_random_bytes(out, len) == XR_OK ? 0 : -1;
}

static int
gen_seed(struct gen *s, unsigned epoch)
{
	static const unsigned char pers[] = "execrpc/v1 nonce";

	if (s->seeded)
		mbedtls_ctr_drbg_free(&s->drbg);
	mbedtls_platform_zeroize(s->pool, sizeof(s->pool));
	s->seeded = 0;
	mbedtls_ctr_drbg_init(&s->drbg);
	if (mbedtls_ctr_drbg_seed(&s->drbg, entropy, NULL, pers,
	    sizeof(pers) - 1) != 0) {
		mbedtls_ctr_drbg_free(&s->drbg);
		return XR_ERR_SYSTEM;
	}
	s->seeded = 1;
	s->epoch = epoch;
	s->used = sizeof(s->pool);	/* empty: the first draw refills */
	s->seedings++;
	return XR_OK;
}

int
xr_nonce_fill(void *out, size_t len)
{
	struct gen *s = &g;
	unsigned epoch;

	if (len > sizeof(s->pool))
		return XR_ERR_INVALID_ARG;
	(void)pthread_once(&atfork_once, atfork_install);
	epoch = atomic_load(&fork_epoch);
	if ((!s->seeded || s->epoch != epoch) && gen_seed(s, epoch) != XR_OK)
		goto fail;
	if (sizeof(s->pool) - s->used < len) {
		if (mbedtls_ctr_drbg_random(&s->drbg, s->pool,
		    sizeof(s->pool)) != 0)
			goto fail;
		s->used = 0;
	}
	memcpy(out, s->pool + s->used, len);
	mbedtls_platform_zeroize(s->pool + s->used, len);
	s->used += len;
	return XR_OK;
 fail:
	memset(out, 0, len);
	return XR_ERR_SYSTEM;
}

uint64_t
xr_nonce_seedings(void)
{
	return g.seedings;
}
