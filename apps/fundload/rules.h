/*
 * apps/fundload/rules.h — the fund-load adjudication rules (docs/design.md
 * section 9, docs/fundload.md): pure, transport-independent, no I/O.
 *
 * An xr_fl_rules holds the per-customer state of one shard: the ids seen
 * per customer (duplicates), and the accepted sums and counts per
 * (customer, UTC day) and (customer, week). xr_fl_rules_decide() applies the
 * baseline rules, or baseline + experiment, to one load; the cross-customer
 * prime slot is not part of this state — the caller says whether the load's
 * day still has it free (the ingress in the sharded runtime, an
 * xr_fl_dayset in a sequential checker).
 *
 * Memory: O(customers + distinct (customer, id) + distinct (customer, day)
 * + distinct (customer, week)); every table grows by doubling at a fixed
 * load factor. The state is exact for any input order (no window, no
 * eviction). Single-threaded.
 */
#ifndef XR_FL_RULES_H
#define XR_FL_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The rule sets: baseline, or baseline + experiment. */
typedef enum { XR_RULES_BASELINE = 0, XR_RULES_EXPERIMENT = 1 } xr_rules;

/* Limits, in cents / loads. */
#define XR_FL_DAY_LIMIT		500000ULL	/* $5,000.00 per UTC day */
#define XR_FL_WEEK_LIMIT	2000000ULL	/* $20,000.00 per week */
#define XR_FL_DAY_COUNT		3		/* accepted loads per UTC day */
#define XR_FL_PRIME_LIMIT	999900ULL	/* $9,999.00 per prime-id load */

#define XR_FL_ID_MAX		64		/* id, customer_id: 1..64 bytes */
#define XR_FL_AMOUNT_MAX	9223372036854775807ULL	/* INT64_MAX cents */
/* time range: 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z */
#define XR_FL_TIME_MIN		(-62167219200LL)
#define XR_FL_TIME_MAX		253402300799LL

/* One load, as the rules see it. Strings are not NUL-terminated. */
typedef struct xr_fl_load {
	const char *id;
	size_t id_len;			/* 1..XR_FL_ID_MAX */
	const char *customer;
	size_t customer_len;		/* 1..XR_FL_ID_MAX */
	uint64_t amount;		/* cents, <= XR_FL_AMOUNT_MAX */
	int64_t time;			/* UTC unix seconds, XR_FL_TIME_MIN..MAX */
} xr_fl_load;

typedef enum xr_fl_verdict {
	XR_FL_ACCEPTED = 1,
	XR_FL_DECLINED = 2,
	XR_FL_IGNORED = 3,		/* duplicate id for the customer */
} xr_fl_verdict;

/* The first rule that declined a load, in the order they are checked.
 * Values are fundload.v1.Reason's. */
typedef enum xr_fl_reason {
	XR_FL_REASON_NONE = 0,
	XR_FL_REASON_PRIME_AMOUNT = 1,
	XR_FL_REASON_DAY_COUNT = 2,
	XR_FL_REASON_DAY_AMOUNT = 3,
	XR_FL_REASON_WEEK_AMOUNT = 4,
	XR_FL_REASON_PRIME_SLOT = 5,
} xr_fl_reason;

typedef struct xr_fl_decision {
	xr_fl_verdict verdict;
	xr_fl_reason reason;
	bool prime;			/* experiment rules and a prime numeric id */
	bool prime_slot_consumed;	/* accepted and prime: the day's slot is taken */
	int64_t day;			/* UTC day number of the load */
} xr_fl_decision;

typedef struct xr_fl_rules xr_fl_rules;

/* "baseline" / "experiment" ("unknown" for anything else). */
const char *xr_rules_name(xr_rules r);

/* The rule set named `s`. Returns XR_OK, or XR_ERR_INVALID_ARG for a name
 * that is neither "baseline" nor "experiment". */
int xr_rules_parse(const char *s, xr_rules *out);

/* New empty state for `mode`. NULL on allocation failure. */
xr_fl_rules *xr_fl_rules_new(xr_rules mode);

/* Free the state. NULL is a no-op. */
void xr_fl_rules_free(xr_fl_rules *r);

/* The mode the state was made for. */
xr_rules xr_fl_rules_mode(const xr_fl_rules *r);

/* Whether `l` is inside the limits above (the check xr_fl_rules_decide()
 * makes first): id and customer 1..XR_FL_ID_MAX bytes, amount and time in
 * range. */
bool xr_fl_load_valid(const xr_fl_load *l);

/*
 * Decide `l` and record it. `prime_slot_free`: whether no prime-id load of
 * the load's UTC day has been accepted yet (across all customers); read only
 * for a prime-id load under the experiment rules.
 *
 * Order: validate; duplicate id for the customer -> IGNORED (nothing
 * changes); otherwise the id is recorded as seen and the rules are checked
 * in xr_fl_reason order; only an ACCEPTED load adds to its day and week
 * (Monday loads twice under the experiment rules).
 *
 * Returns XR_OK with `out` filled; XR_ERR_INVALID_ARG for a load outside
 * the limits above; XR_ERR_NOMEM. On error nothing changed.
 */
int xr_fl_rules_decide(xr_fl_rules *r, const xr_fl_load *l,
    bool prime_slot_free, xr_fl_decision *out);

/* Sizes of the state, for reports. */
typedef struct xr_fl_rules_stats {
	size_t customers, ids, buckets;
	size_t bytes;			/* heap bytes held by the tables */
} xr_fl_rules_stats;
void xr_fl_rules_stats_get(const xr_fl_rules *r, xr_fl_rules_stats *out);

/* --- calendar and primes (shared with the ingress) --- */

/* UTC day number (days since 1970-01-01, floor) of unix time `t`. */
int64_t xr_fl_day(int64_t t);

/* Week number of UTC day `day`: weeks run Monday 00:00:00Z to Sunday
 * 23:59:59Z; week 0 holds 1970-01-01 (a Thursday). */
int64_t xr_fl_week(int64_t day);

/* Day of the week of UTC day `day`: 0 = Monday .. 6 = Sunday. */
int xr_fl_weekday(int64_t day);

/* Unix seconds of the civil UTC date/time (proleptic Gregorian, no range
 * check beyond what the caller validated). */
int64_t xr_fl_civil_to_unix(int64_t y, int mon, int mday, int h, int min,
    int s);

/* 1 if `n` is prime (deterministic for all 64-bit values). */
bool xr_fl_is_prime_u64(uint64_t n);

/*
 * 1 if `id` is a prime numeric id: 1..20 ASCII digits (leading zeros
 * allowed) whose value fits in 64 bits and is prime. Anything else
 * (letters, a sign, spaces, more than UINT64_MAX) is not a numeric id and
 * so never prime.
 */
bool xr_fl_id_is_prime(const char *id, size_t len);

/* --- the cross-customer prime slot: a set of UTC days --- */

/* A set of UTC days (XR_FL_TIME_MIN..MAX), one bit per day (~457 KiB,
 * allocated lazily by the kernel). */
typedef struct xr_fl_dayset xr_fl_dayset;
xr_fl_dayset *xr_fl_dayset_new(void);
void xr_fl_dayset_free(xr_fl_dayset *s);
bool xr_fl_dayset_has(const xr_fl_dayset *s, int64_t day);
void xr_fl_dayset_add(xr_fl_dayset *s, int64_t day);

/* --- the prime slots of a day's owner (web processes) --- */

/*
 * The reservation table of the worker that owns some days' prime slots
 * (docs/fundload.md, "Web processes: the prime slot across ingresses").
 * Per day: FREE (nothing recorded), RESERVED by one holder until its lease
 * ends, or TAKEN (sticky: a prime-id load of that day was accepted). Pure:
 * the caller passes the time (a monotonic clock in ms). Memory: the TAKEN
 * days in an xr_fl_dayset, at most XR_FL_SLOTS_LIVE_MAX reservations.
 */

/* What a reservation or a settle answers (the values of
 * fundload.v1.SlotState). */
typedef enum xr_fl_slot {
	XR_FL_SLOT_FREE = 1,	/* reserve: granted; settle: released */
	XR_FL_SLOT_TAKEN = 2,	/* a prime-id load of the day was accepted */
	XR_FL_SLOT_BUSY = 3,	/* another holder's lease is running */
} xr_fl_slot;

#define XR_FL_SLOTS_LIVE_MAX	4096	/* reservations held at once */
#define XR_FL_HOLDER_MAX	64	/* holder: 1..64 bytes */
#define XR_FL_LEASE_MAX_MS	60000	/* lease: 1..60000 ms */

typedef struct xr_fl_slots xr_fl_slots;

/* An empty table, or NULL (out of memory). */
xr_fl_slots *xr_fl_slots_new(void);
void xr_fl_slots_free(xr_fl_slots *t);

/*
 * Reserve `day`'s slot for `holder` (1..XR_FL_HOLDER_MAX bytes) for
 * `lease_ms` (1..XR_FL_LEASE_MAX_MS) from `now_ms`. *out: TAKEN if the day
 * is taken; BUSY if another holder's reservation has not expired; else
 * FREE: the reservation is this holder's until now_ms + lease_ms (a
 * holder reserving again renews its lease). An expired reservation stays
 * its holder's until another holder reserves the day.
 * XR_OK; XR_ERR_INVALID_ARG (day, holder or lease out of range: nothing
 * changed); XR_ERR_NO_SPACE (XR_FL_SLOTS_LIVE_MAX reservations live, none
 * expired: nothing changed).
 */
int xr_fl_slots_reserve(xr_fl_slots *t, int64_t day, const char *holder,
    size_t holder_len, uint32_t lease_ms, uint64_t now_ms, xr_fl_slot *out);

/*
 * Settle `holder`'s reservation of `day` with its load's outcome:
 * `consumed` (the load was accepted with the slot) makes the day TAKEN,
 * else the reservation is released (FREE); either way the reservation
 * is gone (a second settle is refused). XR_OK with *out; XR_ERR_INVALID_ARG (day or holder out of range);
 * XR_ERR_CLOSED when `holder` does not hold the day (never reserved,
 * reserved by another holder, released, or taken by another): nothing
 * changed.
 */
int xr_fl_slots_settle(xr_fl_slots *t, int64_t day, const char *holder,
    size_t holder_len, bool consumed, xr_fl_slot *out);

/* Reservations recorded (live or expired, not yet settled), for tests. */
size_t xr_fl_slots_held(const xr_fl_slots *t);

#endif /* XR_FL_RULES_H */
