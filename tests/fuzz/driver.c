/*
 * tests/fuzz/driver.c — a main() for the fuzz targets when they are not
 * built with libFuzzer (-fsanitize=fuzzer brings its own main; leave this
 * file out then).
 *
 *   fuzz_<name> [-n ITERATIONS] [-s SEED] PATH...
 *
 * Runs every file named, and every regular file of every directory named
 * (sorted by name), through LLVMFuzzerTestOneInput; then ITERATIONS
 * (default 20000) deterministic mutations of those inputs: a xorshift64*
 * PRNG seeded with SEED (fixed default) picks a seed input and applies 1..4
 * of: bit flip, byte set, insert bytes, delete bytes, truncate, splice with
 * another seed. Each input is passed in a malloc'd buffer of exactly its
 * size, so ASan sees any over-read.
 *
 * A target reports a broken invariant with abort(). On SIGABRT/SIGSEGV/...
 * (and on an ASan report) the input being run is written to
 * ./crash-fuzz_<name>-<n> and its path printed; rerun the target on that
 * file to reproduce.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* getopt, O_CLOEXEC under -std=c11 */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../xr_xorshift.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Present only in sanitizer builds. */
extern void __sanitizer_set_death_callback(void (*cb)(void))
    __attribute__((weak));

#define DEFAULT_ITERATIONS 20000
#define DEFAULT_SEED 0x9e3779b97f4a7c15ULL
#define FUZZ_MAX_INPUT (1u << 20)	/* a seed file larger than this is refused */

struct input {
	uint8_t *p;
	size_t len;
};

static struct input *seeds;
static size_t n_seeds, cap_seeds;
static const char *prog = "fuzz";

/* What is running now, for the crash handler. */
static const uint8_t *volatile cur_p;
static volatile size_t cur_len;
static volatile unsigned long cur_n;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
    noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

/* ---- crash capture (async-signal-safe) ---------------------------------- */

static size_t
fmt_ulong(char *out, unsigned long v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static void
put(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void
save_crash(void)
{
	char path[256];
	size_t o = 0, l = strlen(prog);
	int fd;

	if (cur_p == NULL || l > 200)
		return;
	memcpy(path, "crash-", 6);
	o = 6;
	memcpy(path + o, prog, l);
	o += l;
	path[o++] = '-';
	o += fmt_ulong(path + o, cur_n);
	path[o] = '\0';
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	put(fd, (const char *)cur_p, cur_len);
	close(fd);
	put(2, "\n", 1);
	put(2, prog, l);
	put(2, ": CRASH on input ", 17);
	put(2, path, o);
	put(2, " (", 2);
	{
		char num[24];

		put(2, num, fmt_ulong(num, (unsigned long)cur_len));
	}
	put(2, " bytes)\n", 8);
	cur_p = NULL;
}

static void
on_signal(int sig)
{
	save_crash();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- seeds --------------------------------------------------------------- */

static void
add_seed(uint8_t *p, size_t len)
{
	if (n_seeds == cap_seeds) {
		size_t nc = cap_seeds ? cap_seeds * 2 : 16;
		struct input *ns = realloc(seeds, nc * sizeof(*ns));

		if (ns == NULL)
			die("%s", "out of memory");
		seeds = ns;
		cap_seeds = nc;
	}
	seeds[n_seeds].p = p;
	seeds[n_seeds].len = len;
	n_seeds++;
}

static void
load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long sz;

	if (f == NULL)
		die("cannot open %s", path);
	if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 ||
	    (size_t)sz > FUZZ_MAX_INPUT || fseek(f, 0, SEEK_SET) != 0)
		die("cannot size %s (or over 1 MiB)", path);
	if ((p = malloc(sz > 0 ? (size_t)sz : 1)) == NULL)
		die("%s", "out of memory");
	if (sz > 0 && fread(p, 1, (size_t)sz, f) != (size_t)sz)
		die("cannot read %s", path);
	fclose(f);
	add_seed(p, (size_t)sz);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
load_path(const char *path)
{
	struct stat st;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0, i, l;
	DIR *dir;

	if (stat(path, &st) != 0)
		die("cannot stat %s", path);
	if (!S_ISDIR(st.st_mode)) {
		load_file(path);
		return;
	}
	if ((dir = opendir(path)) == NULL)
		die("cannot open directory %s", path);
	while ((e = readdir(dir)) != NULL) {
		char *full;

		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn;

			cap = cap ? cap * 2 : 16;
			if ((nn = realloc(names, cap * sizeof(*nn))) == NULL)
				die("%s", "out of memory");
			names = nn;
		}
		l = strlen(path) + strlen(e->d_name) + 2;
		if ((full = malloc(l)) == NULL)
			die("%s", "out of memory");
		snprintf(full, l, "%s/%s", path, e->d_name);
		names[n++] = full;
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
			load_file(names[i]);
		free(names[i]);
	}
	free(names);
}

/* ---- mutation ------------------------------------------------------------ */

static uint64_t rng;

static uint64_t
rnd(void)
{
	return xr_xorshift(&rng);
}

/* Uniform-enough in [0, n); n > 0. */
static size_t
below(size_t n)
{
	return (size_t)(rnd() % n);
}

static const uint8_t interesting[] = {
	0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, 0xfe, 0x10, 0x20, 0x0a, 0x22,
	0x5c, 0x3a, 0x2d, 0x7b, 0x7d, 0x5b, 0x5d,
};

/* Apply one mutation to buf[0..*len) (capacity cap). */
static void
mutate_once(uint8_t *buf, size_t *len, size_t cap)
{
	size_t n = *len, at, k, i;

	switch (below(6)) {
	case 0:		/* bit flip */
		if (n > 0)
			buf[below(n)] ^= (uint8_t)(1u << below(8));
		break;
	case 1:		/* byte set: random or interesting */
		if (n > 0)
			buf[below(n)] = below(2) ? (uint8_t)rnd() :
			    interesting[below(sizeof(interesting))];
		break;
	case 2:		/* insert 1..8 bytes (random, or one repeated) */
		k = 1 + below(8);
		if (n + k > cap)
			break;
		at = below(n + 1);
		memmove(buf + at + k, buf + at, n - at);
		if (below(2)) {
			for (i = 0; i < k; i++)
				buf[at + i] = (uint8_t)rnd();
		} else {
			memset(buf + at, interesting[below(sizeof(interesting))],
			    k);
		}
		*len = n + k;
		break;
	case 3:		/* delete 1..8 bytes */
		if (n == 0)
			break;
		at = below(n);
		k = 1 + below(8);
		if (k > n - at)
			k = n - at;
		memmove(buf + at, buf + at + k, n - at - k);
		*len = n - k;
		break;
	case 4:		/* truncate */
		*len = below(n + 1);
		break;
	default: {	/* splice: our prefix + another seed's suffix */
		const struct input *o = &seeds[below(n_seeds)];
		size_t from = o->len ? below(o->len) : 0;

		at = below(n + 1);
		k = o->len - from;
		if (at + k > cap)
			k = cap - at;
		memcpy(buf + at, o->p + from, k);
		*len = at + k;
		break;
	}
	}
}

/* ---- main ---------------------------------------------------------------- */

static void
run_one(const uint8_t *p, size_t len, unsigned long n)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);

	if (copy == NULL)
		die("%s", "out of memory");
	if (len > 0)
		memcpy(copy, p, len);
	cur_p = copy;
	cur_len = len;
	cur_n = n;
	/* an empty input is passed as a 0-size allocation's pointer */
	LLVMFuzzerTestOneInput(copy, len);
	cur_p = NULL;
	free(copy);
}

int
main(int argc, char **argv)
{
	unsigned long iters = DEFAULT_ITERATIONS, n = 0, i;
	uint64_t seed = DEFAULT_SEED;
	size_t max_seed = 0, cap, s;
	uint8_t *buf;
	const char *slash;
	int opt;

	if ((slash = strrchr(argv[0], '/')) != NULL)
		prog = slash + 1;
	else
		prog = argv[0];
	while ((opt = getopt(argc, argv, "n:s:")) != -1) {
		char *end;

		errno = 0;
		switch (opt) {
		case 'n':
			iters = strtoul(optarg, &end, 10);
			break;
		case 's':
			seed = strtoull(optarg, &end, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-n ITERATIONS] [-s SEED] "
			    "PATH...\n", prog);
			return 2;
		}
		if (errno != 0 || *end != '\0' || end == optarg)
			die("bad number: %s", optarg);
	}
	if (optind >= argc)
		die("%s", "no seed path given");
	for (; optind < argc; optind++)
		load_path(argv[optind]);
	if (n_seeds == 0)
		die("%s", "no seed inputs found");

	signal(SIGABRT, on_signal);
	signal(SIGSEGV, on_signal);
	signal(SIGBUS, on_signal);
	signal(SIGFPE, on_signal);
	signal(SIGILL, on_signal);
	if (__sanitizer_set_death_callback != NULL)
		__sanitizer_set_death_callback(save_crash);

	for (s = 0; s < n_seeds; s++) {
		if (seeds[s].len > max_seed)
			max_seed = seeds[s].len;
		run_one(seeds[s].p, seeds[s].len, n++);
	}

	rng = seed ? seed : DEFAULT_SEED;
	cap = 2 * max_seed + 64;
	if ((buf = malloc(cap)) == NULL)
		die("%s", "out of memory");
	for (i = 0; i < iters; i++) {
		const struct input *in = &seeds[below(n_seeds)];
		size_t len = in->len, k, m = 1 + below(4);

		memcpy(buf, in->p, len);
		for (k = 0; k < m; k++)
			mutate_once(buf, &len, cap);
		run_one(buf, len, n++);
	}
	free(buf);
	for (s = 0; s < n_seeds; s++)
		free(seeds[s].p);
	free(seeds);

	printf("%s: %lu inputs, 0 crashes\n", prog, n);
	printf("%lu passed, 0 failed\n", n);
	return 0;
}
