/*
 * tests/fundload/ref_check.c — fundload_ref [--rules baseline|experiment]
 * INPUT: the sequential reference of the parity gate. No runtime, no
 * window, no coordination: every line, in order, parsed with the input
 * module and decided with the rules module in this process; the prime slot
 * is a plain set of days. Its stdout and exit status are what every
 * runtime profile of `fundload` must reproduce byte for byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "input.h"
#include "rules.h"

int
main(int argc, char **argv)
{
	xr_rules mode = XR_RULES_BASELINE;
	xr_fl_rules *r;
	xr_fl_dayset *taken;
	xr_fl_parsed p;
	xr_fl_load l;
	xr_fl_decision dec;
	char why[512], out[XR_FL_OUT_MAX];
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long long lineno = 0, invalid = 0;
	FILE *in;
	int a = 1;

	if (argc == 4 && strcmp(argv[1], "--rules") == 0) {
		mode = strcmp(argv[2], "experiment") == 0 ?
		    XR_RULES_EXPERIMENT : XR_RULES_BASELINE;
		a = 3;
	}
	if (a + 1 != argc) {
		fprintf(stderr, "usage: fundload_ref [--rules R] INPUT\n");
		return 64;
	}
	if ((in = fopen(argv[a], "r")) == NULL) {
		perror(argv[a]);
		return 1;
	}
	r = xr_fl_rules_new(mode);
	taken = xr_fl_dayset_new();
	if (r == NULL || taken == NULL)
		return 1;
	while ((n = getline(&line, &cap, in)) >= 0) {
		size_t len = (size_t)n;
		xr_fl_bad b;

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if ((b = xr_fl_parse_line(line, len, &p, why, sizeof(why))) !=
		    XR_FL_LINE_OK) {
			invalid++;
			fprintf(stderr, "fundload: line %llu: %s: %s\n", lineno,
			    xr_fl_bad_name(b), why);
			continue;
		}
		xr_fl_parsed_load(&p, &l);
		if (xr_fl_rules_decide(r, &l, !xr_fl_dayset_has(taken,
		    xr_fl_day(l.time)), &dec) != XR_OK) {
			fprintf(stderr, "fundload_ref: decide failed\n");
			return 1;
		}
		if (dec.prime_slot_consumed)
			xr_fl_dayset_add(taken, dec.day);
		if (dec.verdict == XR_FL_IGNORED)
			continue;
		fwrite(out, 1, xr_fl_format_decision(out, p.id, p.id_len,
		    p.customer, p.customer_len, dec.verdict == XR_FL_ACCEPTED),
		    stdout);
	}
	free(line);
	fclose(in);
	xr_fl_rules_free(r);
	xr_fl_dayset_free(taken);
	return invalid > 0 ? 65 : 0;
}
