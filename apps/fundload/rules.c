/* apps/fundload/rules.c — the fund-load rules and their per-shard state. */
#include "rules.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "err.h"

/* ---------- hashing: SipHash-1-3 with a per-process random key ---------- */

/* The tables hash attacker-chosen strings (customer and load ids): a keyed
 * hash keeps a crafted input from turning every probe into a long chain. */
static uint64_t hash_k0 = 0x736f6d6570736575ULL, hash_k1 = 0x646f72616e646f6dULL;
static int hash_keyed;

static void
hash_init(void)
{
	uint64_t k[2];

	if (hash_keyed)
		return;
	if (getrandom(k, sizeof(k), GRND_NONBLOCK) == (ssize_t)sizeof(k)) {
		hash_k0 = k[0];
		hash_k1 = k[1];
	}
	hash_keyed = 1;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

/* SipHash-1-3 of `tag` (4 bytes, little-endian) followed by `p`/`len`. */
static uint64_t
hash_bytes(uint32_t tag, const void *p, size_t len)
{
	uint64_t v0 = hash_k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = hash_k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = hash_k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = hash_k1 ^ 0x7465646279746573ULL;
	uint8_t buf[4 + XR_FL_ID_MAX + 8];
	size_t n = 4 + len, i;
	uint64_t m, b;

	/* callers hash at most XR_FL_ID_MAX bytes (+ 4 of tag) */
	buf[0] = (uint8_t)tag;
	buf[1] = (uint8_t)(tag >> 8);
	buf[2] = (uint8_t)(tag >> 16);
	buf[3] = (uint8_t)(tag >> 24);
	memcpy(buf + 4, p, len);
	b = (uint64_t)n << 56;
	for (i = 0; i + 8 <= n; i += 8) {
		m = 0;
		for (int j = 7; j >= 0; j--)
			m = (m << 8) | buf[i + (size_t)j];
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; i + j < n; j++)
		b |= (uint64_t)buf[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---------- arena: records [u32 tag][u8 len][bytes], never moved ---------- */

#define CHUNK_BITS 20
#define CHUNK_SIZE ((size_t)1 << CHUNK_BITS)
#define REF_BITS 40			/* chunk index 20 bits + offset 20 bits */
#define REC_HDR 5

struct arena {
	uint8_t **chunk;
	size_t n, cap;			/* chunks used / allocated slots */
	size_t used;			/* bytes used in the last chunk */
};

static int
arena_reserve(struct arena *a, size_t len)
{
	uint8_t **nc;

	if (a->n > 0 && a->used + REC_HDR + len <= CHUNK_SIZE)
		return XR_OK;
	if (a->n == ((size_t)1 << (REF_BITS - CHUNK_BITS)))
		return XR_ERR_NOMEM;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;

		if ((nc = realloc(a->chunk, cap * sizeof(*nc))) == NULL)
			return XR_ERR_NOMEM;
		a->chunk = nc;
		a->cap = cap;
	}
	if ((a->chunk[a->n] = malloc(CHUNK_SIZE)) == NULL)
		return XR_ERR_NOMEM;
	a->n++;
	a->used = 0;
	return XR_OK;
}

/* Append a record; arena_reserve(len) must have succeeded. */
static uint64_t
arena_put(struct arena *a, uint32_t tag, const char *s, size_t len)
{
	uint8_t *p = a->chunk[a->n - 1] + a->used;
	uint64_t ref = ((uint64_t)(a->n - 1) << CHUNK_BITS) | a->used;

	memcpy(p, &tag, 4);
	p[4] = (uint8_t)len;
	memcpy(p + REC_HDR, s, len);
	a->used += REC_HDR + len;
	return ref;
}

static const uint8_t *
arena_get(const struct arena *a, uint64_t ref)
{
	return a->chunk[ref >> CHUNK_BITS] + (ref & (CHUNK_SIZE - 1));
}

static void
arena_free(struct arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->chunk[i]);
	free(a->chunk);
	memset(a, 0, sizeof(*a));
}

/* ---------- string table: open addressing over arena records ---------- */

/*
 * A slot is 0 (empty) or (hash's top 24 bits << 40) | (ref + 1). With
 * `keyed_tag` the record's tag is part of the key (ids: the customer
 * index); without, it is the value (customers: their index).
 */
struct stab {
	uint64_t *slot;
	size_t mask;			/* capacity - 1 (a power of two) */
	size_t n;
	int keyed_tag;
};

#define SLOT_REF(s) (((s) & (((uint64_t)1 << REF_BITS) - 1)) - 1)
#define SLOT_TAG(h) ((h) >> REF_BITS << REF_BITS)

static uint64_t
stab_hash(const struct stab *t, uint32_t tag, const char *s, size_t len)
{
	return hash_bytes(t->keyed_tag ? tag : 0, s, len);
}

/* The slot holding (tag, s) or the empty slot where it would go. */
static size_t
stab_find(const struct stab *t, const struct arena *a, uint64_t h,
    uint32_t tag, const char *s, size_t len, int *found)
{
	size_t i = (size_t)h & t->mask;

	for (;; i = (i + 1) & t->mask) {
		uint64_t v = t->slot[i];
		const uint8_t *rec;
		uint32_t rtag;

		if (v == 0) {
			*found = 0;
			return i;
		}
		if (SLOT_TAG(v) != SLOT_TAG(h))
			continue;
		rec = arena_get(a, SLOT_REF(v));
		memcpy(&rtag, rec, 4);
		if (rec[4] == len && memcmp(rec + REC_HDR, s, len) == 0 &&
		    (!t->keyed_tag || rtag == tag)) {
			*found = 1;
			return i;
		}
	}
}

/* Make room for one more entry (load factor <= 3/4). */
static int
stab_reserve(struct stab *t, const struct arena *a)
{
	size_t cap = t->mask + 1, ncap;
	uint64_t *ns;

	if (t->slot != NULL && (t->n + 1) * 4 <= cap * 3)
		return XR_OK;
	ncap = t->slot == NULL ? 64 : cap * 2;
	if ((ns = calloc(ncap, sizeof(*ns))) == NULL)
		return XR_ERR_NOMEM;
	for (size_t i = 0; t->slot != NULL && i < cap; i++) {
		uint64_t v = t->slot[i], h;
		const uint8_t *rec;
		uint32_t tag;
		size_t j;

		if (v == 0)
			continue;
		rec = arena_get(a, SLOT_REF(v));
		memcpy(&tag, rec, 4);
		h = stab_hash(t, tag, (const char *)rec + REC_HDR, rec[4]);
		for (j = (size_t)h & (ncap - 1); ns[j] != 0; j = (j + 1) & (ncap - 1))
			;
		ns[j] = v;
	}
	free(t->slot);
	t->slot = ns;
	t->mask = ncap - 1;
	return XR_OK;
}

/* ---------- buckets: accepted sum and count per (customer, day|week) ---------- */

struct bucket {
	uint32_t cust1;			/* customer index + 1; 0 = empty */
	int32_t key;			/* day * 2, or week * 2 + 1 (days fit:
					 * |day| < 3.7e6 in 0000..9999) */
	uint32_t sum;			/* accepted cents (doubled on Mondays);
					 * never above the week limit */
	uint32_t count;			/* accepted loads (day buckets) */
};

struct btab {
	struct bucket *b;
	size_t mask, n;
};

static uint64_t
bucket_hash(uint32_t cust, int32_t key)
{
	uint8_t k[4];

	memcpy(k, &key, 4);
	return hash_bytes(cust, k, sizeof(k));
}

static struct bucket *
btab_find(const struct btab *t, uint32_t cust, int32_t key, int *found)
{
	size_t i = (size_t)bucket_hash(cust, key) & t->mask;

	for (;; i = (i + 1) & t->mask) {
		struct bucket *b = &t->b[i];

		if (b->cust1 == 0) {
			*found = 0;
			return b;
		}
		if (b->cust1 == cust + 1 && b->key == key) {
			*found = 1;
			return b;
		}
	}
}

/* Make room for `more` entries. */
static int
btab_reserve(struct btab *t, size_t more)
{
	size_t cap = t->mask + 1, ncap;
	struct bucket *nb;

	if (t->b != NULL && (t->n + more) * 4 <= cap * 3)
		return XR_OK;
	ncap = t->b == NULL ? 64 : cap * 2;
	if ((nb = calloc(ncap, sizeof(*nb))) == NULL)
		return XR_ERR_NOMEM;
	for (size_t i = 0; t->b != NULL && i < cap; i++) {
		const struct bucket *b = &t->b[i];
		size_t j;

		if (b->cust1 == 0)
			continue;
		for (j = (size_t)bucket_hash(b->cust1 - 1, b->key) & (ncap - 1);
		    nb[j].cust1 != 0; j = (j + 1) & (ncap - 1))
			;
		nb[j] = *b;
	}
	free(t->b);
	t->b = nb;
	t->mask = ncap - 1;
	return XR_OK;
}

/* ---------- the rule sets and the config section ---------- */

static const char *const rules_names[] = { "baseline", "experiment" };

const char *
xr_rules_name(xr_rules r)
{
	return (unsigned)r < 2 ? rules_names[r] : "unknown";
}

int
xr_rules_parse(const char *s, xr_rules *out)
{
	for (unsigned i = 0; s != NULL && i < 2; i++)
		if (strcmp(s, rules_names[i]) == 0) {
			*out = (xr_rules)i;
			return XR_OK;
		}
	return XR_ERR_INVALID_ARG;
}

/* ---------- the state ---------- */

struct xr_fl_rules {
	xr_rules mode;
	struct arena arena;
	struct stab cust;		/* customer id -> index (record tag) */
	struct stab ids;		/* (customer index, load id) seen */
	struct btab buckets;
	uint32_t ncust;
};

xr_fl_rules *
xr_fl_rules_new(xr_rules mode)
{
	xr_fl_rules *r;

	hash_init();
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->mode = mode;
	r->ids.keyed_tag = 1;
	if (stab_reserve(&r->cust, &r->arena) != XR_OK ||
	    stab_reserve(&r->ids, &r->arena) != XR_OK ||
	    btab_reserve(&r->buckets, 2) != XR_OK) {
		xr_fl_rules_free(r);
		return NULL;
	}
	return r;
}

void
xr_fl_rules_free(xr_fl_rules *r)
{
	if (r == NULL)
		return;
	arena_free(&r->arena);
	free(r->cust.slot);
	free(r->ids.slot);
	free(r->buckets.b);
	free(r);
}

xr_rules
xr_fl_rules_mode(const xr_fl_rules *r)
{
	return r->mode;
}

bool
xr_fl_load_valid(const xr_fl_load *l)
{
	return l->id != NULL && l->id_len >= 1 && l->id_len <= XR_FL_ID_MAX &&
	    l->customer != NULL && l->customer_len >= 1 &&
	    l->customer_len <= XR_FL_ID_MAX && l->amount <= XR_FL_AMOUNT_MAX &&
	    l->time >= XR_FL_TIME_MIN && l->time <= XR_FL_TIME_MAX;
}

/* The customer's index, added if new. */
static int
customer_index(xr_fl_rules *r, const xr_fl_load *l, uint32_t *out)
{
	uint64_t h = stab_hash(&r->cust, 0, l->customer, l->customer_len);
	size_t i;
	int found, e;

	i = stab_find(&r->cust, &r->arena, h, 0, l->customer, l->customer_len,
	    &found);
	if (found) {
		memcpy(out, arena_get(&r->arena, SLOT_REF(r->cust.slot[i])), 4);
		return XR_OK;
	}
	if (r->ncust == UINT32_MAX - 1)
		return XR_ERR_NOMEM;
	if ((e = stab_reserve(&r->cust, &r->arena)) != XR_OK ||
	    (e = arena_reserve(&r->arena, l->customer_len)) != XR_OK)
		return e;
	/* the table may have grown: find the slot again */
	i = stab_find(&r->cust, &r->arena, h, 0, l->customer, l->customer_len,
	    &found);
	r->cust.slot[i] = SLOT_TAG(h) |
	    (arena_put(&r->arena, r->ncust, l->customer, l->customer_len) + 1);
	r->cust.n++;
	*out = r->ncust++;
	return XR_OK;
}

int
xr_fl_rules_decide(xr_fl_rules *r, const xr_fl_load *l, bool prime_slot_free,
    xr_fl_decision *out)
{
	struct bucket *db, *wb;
	uint64_t h, eff, dsum, wsum;
	uint32_t cust, dcount;
	int32_t dkey, wkey;
	size_t i;
	int found, dfound, wfound, e;
	bool experiment = r->mode == XR_RULES_EXPERIMENT;

	memset(out, 0, sizeof(*out));
	if (!xr_fl_load_valid(l))
		return XR_ERR_INVALID_ARG;
	if ((e = customer_index(r, l, &cust)) != XR_OK)
		return e;
	out->day = xr_fl_day(l->time);
	out->prime = experiment && xr_fl_id_is_prime(l->id, l->id_len);

	/* 1. a duplicate id for this customer: ignored, nothing changes */
	h = stab_hash(&r->ids, cust, l->id, l->id_len);
	(void)stab_find(&r->ids, &r->arena, h, cust, l->id, l->id_len, &found);
	if (found) {
		out->verdict = XR_FL_IGNORED;
		return XR_OK;
	}
	/* everything this load may add, before anything changes */
	if ((e = stab_reserve(&r->ids, &r->arena)) != XR_OK ||
	    (e = arena_reserve(&r->arena, l->id_len)) != XR_OK ||
	    (e = btab_reserve(&r->buckets, 2)) != XR_OK)
		return e;

	/* 2. the rules, on the accepted sums so far (always <= the limits) */
	dkey = (int32_t)(out->day * 2);
	wkey = (int32_t)(xr_fl_week(out->day) * 2 + 1);
	db = btab_find(&r->buckets, cust, dkey, &dfound);
	dsum = dfound ? db->sum : 0;
	dcount = dfound ? db->count : 0;
	wb = btab_find(&r->buckets, cust, wkey, &wfound);
	wsum = wfound ? wb->sum : 0;
	/* amount <= INT64_MAX, so doubling cannot wrap */
	eff = experiment && xr_fl_weekday(out->day) == 0 ? l->amount * 2 :
	    l->amount;
	if (out->prime && l->amount > XR_FL_PRIME_LIMIT)
		out->reason = XR_FL_REASON_PRIME_AMOUNT;
	else if (dcount >= XR_FL_DAY_COUNT)
		out->reason = XR_FL_REASON_DAY_COUNT;
	else if (eff > XR_FL_DAY_LIMIT - dsum)
		out->reason = XR_FL_REASON_DAY_AMOUNT;
	else if (eff > XR_FL_WEEK_LIMIT - wsum)
		out->reason = XR_FL_REASON_WEEK_AMOUNT;
	else if (out->prime && !prime_slot_free)
		out->reason = XR_FL_REASON_PRIME_SLOT;
	out->verdict = out->reason == XR_FL_REASON_NONE ? XR_FL_ACCEPTED :
	    XR_FL_DECLINED;

	/* 3. record: the id always (a declined id is "seen" too), the sums
	 * only when accepted; room was reserved above */
	i = stab_find(&r->ids, &r->arena, h, cust, l->id, l->id_len, &found);
	r->ids.slot[i] = SLOT_TAG(h) |
	    (arena_put(&r->arena, cust, l->id, l->id_len) + 1);
	r->ids.n++;
	if (out->verdict != XR_FL_ACCEPTED)
		return XR_OK;
	/* accepted: eff <= the limits, so the sums fit in 32 bits */
	if (!dfound) {
		db->cust1 = cust + 1;
		db->key = dkey;
		r->buckets.n++;
	}
	db->sum += (uint32_t)eff;
	db->count++;
	/* the day bucket may have taken the week's empty slot */
	wb = btab_find(&r->buckets, cust, wkey, &wfound);
	if (!wfound) {
		wb->cust1 = cust + 1;
		wb->key = wkey;
		r->buckets.n++;
	}
	wb->sum += (uint32_t)eff;
	out->prime_slot_consumed = out->prime;
	return XR_OK;
}

void
xr_fl_rules_stats_get(const xr_fl_rules *r, xr_fl_rules_stats *out)
{
	out->customers = r->cust.n;
	out->ids = r->ids.n;
	out->buckets = r->buckets.n;
	out->bytes = r->arena.n * CHUNK_SIZE + r->arena.cap * sizeof(void *) +
	    (r->cust.mask + 1) * 8 + (r->ids.mask + 1) * 8 +
	    (r->buckets.mask + 1) * sizeof(struct bucket);
}

/* ---------- calendar ---------- */

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t
xr_fl_day(int64_t t)
{
	return floor_div(t, 86400);
}

int64_t
xr_fl_week(int64_t day)
{
	/* day 0 is a Thursday: Monday-based weeks start 3 days earlier */
	return floor_div(day + 3, 7);
}

int
xr_fl_weekday(int64_t day)
{
	return (int)(day + 3 - xr_fl_week(day) * 7);
}

int64_t
xr_fl_civil_to_unix(int64_t y, int mon, int mday, int h, int min, int s)
{
	/* H. Hinnant's days_from_civil */
	int64_t era, yoe, doy, doe, days;

	y -= mon <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + mday - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	days = era * 146097 + doe - 719468;
	return days * 86400 + h * 3600 + min * 60 + s;
}

/* ---------- primes ---------- */

static uint64_t
mulmod(uint64_t a, uint64_t b, uint64_t m)
{
	return (uint64_t)((unsigned __int128)a * b % m);
}

static uint64_t
powmod(uint64_t b, uint64_t e, uint64_t m)
{
	uint64_t r = 1;

	b %= m;
	while (e > 0) {
		if (e & 1)
			r = mulmod(r, b, m);
		b = mulmod(b, b, m);
		e >>= 1;
	}
	return r;
}

bool
xr_fl_is_prime_u64(uint64_t n)
{
	/* Miller-Rabin with the first 12 primes as bases: deterministic for
	 * n < 3.3e24, so for every 64-bit n */
	static const uint64_t bases[] = { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29,
	    31, 37 };
	uint64_t d = n - 1;
	int s = 0;

	if (n < 2)
		return false;
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		if (n == bases[i])
			return true;
		if (n % bases[i] == 0)
			return false;
	}
	while ((d & 1) == 0) {
		d >>= 1;
		s++;
	}
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		uint64_t x = powmod(bases[i], d, n);

		if (x == 1 || x == n - 1)
			continue;
		for (int k = 1; k < s && x != n - 1; k++)
			x = mulmod(x, x, n);
		if (x != n - 1)
			return false;
	}
	return true;
}

bool
xr_fl_id_is_prime(const char *id, size_t len)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned dgt = (unsigned char)id[i] - '0';

		if (dgt > 9 || v > (UINT64_MAX - dgt) / 10)
			return false;
		v = v * 10 + dgt;
	}
	return xr_fl_is_prime_u64(v);
}

/* ---------- day set ---------- */

#define DAY_MIN (XR_FL_TIME_MIN / 86400)
#define DAY_MAX (XR_FL_TIME_MAX / 86400)

struct xr_fl_dayset {
	uint8_t bits[(DAY_MAX - DAY_MIN + 1 + 7) / 8];
};

xr_fl_dayset *
xr_fl_dayset_new(void)
{
	return calloc(1, sizeof(xr_fl_dayset));
}

void
xr_fl_dayset_free(xr_fl_dayset *s)
{
	free(s);
}

bool
xr_fl_dayset_has(const xr_fl_dayset *s, int64_t day)
{
	uint64_t i;

	if (day < DAY_MIN || day > DAY_MAX)
		return false;
	i = (uint64_t)(day - DAY_MIN);
	return (s->bits[i / 8] >> (i % 8)) & 1;
}

void
xr_fl_dayset_add(xr_fl_dayset *s, int64_t day)
{
	uint64_t i;

	if (day < DAY_MIN || day > DAY_MAX)
		return;
	i = (uint64_t)(day - DAY_MIN);
	s->bits[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* ---------- the prime slots of a day's owner ---------- */

/* One reservation: `day` held by `holder` until `expires_ms`. */
struct slot_rsv {
	int64_t day;
	uint64_t expires_ms;
	size_t holder_len;
	char holder[XR_FL_HOLDER_MAX];
};

/* The TAKEN days, and the reservations in no order (few live at once:
 * a linear scan; a released one is swapped out). */
struct xr_fl_slots {
	xr_fl_dayset *taken;
	struct slot_rsv *rsv;
	size_t n, cap;
};

xr_fl_slots *
xr_fl_slots_new(void)
{
	xr_fl_slots *t = calloc(1, sizeof(*t));

	if (t != NULL && (t->taken = xr_fl_dayset_new()) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
xr_fl_slots_free(xr_fl_slots *t)
{
	if (t == NULL)
		return;
	xr_fl_dayset_free(t->taken);
	free(t->rsv);
	free(t);
}

size_t
xr_fl_slots_held(const xr_fl_slots *t)
{
	return t->n;
}

static bool
slot_args_ok(int64_t day, size_t holder_len)
{
	return day >= DAY_MIN && day <= DAY_MAX && holder_len >= 1 &&
	    holder_len <= XR_FL_HOLDER_MAX;
}

static bool
slot_holds(const struct slot_rsv *r, const char *holder, size_t len)
{
	return r->holder_len == len && memcmp(r->holder, holder, len) == 0;
}

/* The reservation of `day`, or NULL. */
static struct slot_rsv *
slot_find(xr_fl_slots *t, int64_t day)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->rsv[i].day == day)
			return &t->rsv[i];
	return NULL;
}

static void
slot_drop(xr_fl_slots *t, struct slot_rsv *r)
{
	*r = t->rsv[--t->n];
}

/* Room for one more reservation: grow, else drop the expired ones.
 * false: XR_FL_SLOTS_LIVE_MAX live (or out of memory). */
static bool
slot_room(xr_fl_slots *t, uint64_t now_ms)
{
	struct slot_rsv *p;
	size_t i, cap;

	if (t->n < t->cap)
		return true;
	if (t->cap < XR_FL_SLOTS_LIVE_MAX) {
		cap = t->cap == 0 ? 16 : t->cap * 2;
		if ((p = realloc(t->rsv, cap * sizeof(*p))) != NULL) {
			t->rsv = p;
			t->cap = cap;
			return true;
		}
	}
	for (i = t->n; i-- > 0;)
		if (t->rsv[i].expires_ms <= now_ms)
			slot_drop(t, &t->rsv[i]);
	return t->n < t->cap;
}

int
xr_fl_slots_reserve(xr_fl_slots *t, int64_t day, const char *holder,
    size_t holder_len, uint32_t lease_ms, uint64_t now_ms, xr_fl_slot *out)
{
	struct slot_rsv *r;

	if (!slot_args_ok(day, holder_len) || lease_ms < 1 ||
	    lease_ms > XR_FL_LEASE_MAX_MS)
		return XR_ERR_INVALID_ARG;
	if (xr_fl_dayset_has(t->taken, day)) {
		*out = XR_FL_SLOT_TAKEN;
		return XR_OK;
	}
	if ((r = slot_find(t, day)) != NULL && r->expires_ms > now_ms &&
	    !slot_holds(r, holder, holder_len)) {
		*out = XR_FL_SLOT_BUSY;
		return XR_OK;
	}
	if (r == NULL) {
		if (!slot_room(t, now_ms))
			return XR_ERR_NO_SPACE;
		r = &t->rsv[t->n++];
		r->day = day;
	}
	r->expires_ms = now_ms + lease_ms;
	r->holder_len = holder_len;
	memcpy(r->holder, holder, holder_len);
	*out = XR_FL_SLOT_FREE;
	return XR_OK;
}

int
xr_fl_slots_settle(xr_fl_slots *t, int64_t day, const char *holder,
    size_t holder_len, bool consumed, xr_fl_slot *out)
{
	struct slot_rsv *r;

	if (!slot_args_ok(day, holder_len))
		return XR_ERR_INVALID_ARG;
	if ((r = slot_find(t, day)) == NULL ||
	    !slot_holds(r, holder, holder_len))
		return XR_ERR_CLOSED;
	/* a TAKEN day has no reservation: reserve answers TAKEN first */
	if (consumed)
		xr_fl_dayset_add(t->taken, day);
	slot_drop(t, r);
	*out = consumed ? XR_FL_SLOT_TAKEN : XR_FL_SLOT_FREE;
	return XR_OK;
}
