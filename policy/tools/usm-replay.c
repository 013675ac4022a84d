// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * usm-replay - replay an access trace through the eviction policies and
 * print each one's miss ratio.
 *
 *   usm-replay [--policy NAME[,NAME...]|all] --cache PAGES|PCT%
 *              [--trace FILE | --zipf ALPHA | --scan | --loop | --mix ALPHA]
 *              [--objects N] [--requests N] [--run N] [--every N]
 *              [--seed S] [--plugin PATH]... [--csv]
 *
 * See usm/replay.h for the trace kinds and the simulated cache.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <usm/policy.h>
#include <usm/replay.h>

static const char usage[] =
"usage: usm-replay [options] --cache PAGES|PCT%\n"
"  --cache PAGES|PCT%   cache size in pages, or percent of the trace's footprint\n"
"  --policy LIST|all    comma-separated eviction policies (default: all)\n"
"  --trace FILE         replay FILE (\"FILE PAGE\" per line, '#' comments; - = stdin)\n"
"  --zipf ALPHA         Zipf(ALPHA) requests over --objects (the default, alpha 1.0)\n"
"  --scan               runs of --run consecutive objects from random starts\n"
"  --loop               0, 1, ..., objects-1, over and over\n"
"  --mix ALPHA          Zipf(ALPHA), and after every --every requests a scan of\n"
"                       --run objects that are used only by scans\n"
"  --objects N          objects in a generated trace (default 100000)\n"
"  --requests N         requests in a generated trace (default 1000000)\n"
"  --run N              scan length (default: 64 for --scan, objects/4 for --mix)\n"
"  --every N            --mix: Zipf requests between scans (default: objects)\n"
"  --seed S             PRNG seed (default 1): the same seed gives the same trace\n"
"  --plugin PATH        load a policy plugin first (repeatable)\n"
"  --csv                print CSV instead of a table\n";

static int parse_u64(const char *opt, const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	if (!s || *s < '0' || *s > '9')
		goto bad;
	*v = strtoull(s, &end, 10);
	if (errno || *end)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "usm-replay: bad value for %s: '%s' (want a number)\n",
		opt, s ? s : "");
	return -1;
}

static int parse_alpha(const char *opt, const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (errno || end == s || *end || !(*v >= 0 && *v <= 10)) {
		fprintf(stderr,
			"usm-replay: bad value for %s: '%s' (want 0..10)\n",
			opt, s);
		return -1;
	}
	return 0;
}

struct names {
	const char **v;
	size_t n, cap;
};

static int names_add(struct names *nm, const char *name)
{
	if (nm->n == nm->cap) {
		size_t ncap = nm->cap ? 2 * nm->cap : 16;
		const char **nv = realloc(nm->v, ncap * sizeof(*nv));

		if (!nv)
			return -1;
		nm->v = nv;
		nm->cap = ncap;
	}
	nm->v[nm->n++] = name;
	return 0;
}

static void add_registered(const char *name, void *arg)
{
	struct names *nm = arg;

	if (names_add(nm, name))
		nm->n = SIZE_MAX;	/* marks failure; checked by caller */
}

enum { OPT_TRACE = 256, OPT_ZIPF, OPT_SCAN, OPT_LOOP, OPT_MIX, OPT_OBJECTS,
       OPT_REQUESTS, OPT_RUN, OPT_EVERY, OPT_SEED, OPT_CSV, OPT_PLUGIN,
       OPT_POLICY, OPT_CACHE, OPT_HELP };

static const struct option longopts[] = {
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "cache", required_argument, NULL, OPT_CACHE },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "zipf", required_argument, NULL, OPT_ZIPF },
	{ "scan", no_argument, NULL, OPT_SCAN },
	{ "loop", no_argument, NULL, OPT_LOOP },
	{ "mix", required_argument, NULL, OPT_MIX },
	{ "objects", required_argument, NULL, OPT_OBJECTS },
	{ "requests", required_argument, NULL, OPT_REQUESTS },
	{ "run", required_argument, NULL, OPT_RUN },
	{ "every", required_argument, NULL, OPT_EVERY },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "plugin", required_argument, NULL, OPT_PLUGIN },
	{ "csv", no_argument, NULL, OPT_CSV },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	struct usm_trace_gen gen = {
		.kind = USM_TRACE_ZIPF, .alpha = 1.0, .objects = 100000,
		.requests = 1000000, .seed = 1,
	};
	const char *policy = "all", *cache_arg = NULL, *trace_file = NULL;
	struct names pols = { NULL, 0, 0 };
	struct usm_trace t;
	char desc[256], err[512], *plist = NULL;
	uint64_t cache;
	int sources = 0, csv = 0, c, rc = 1;
	size_t i;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_POLICY:
			policy = optarg;
			break;
		case OPT_CACHE:
			cache_arg = optarg;
			break;
		case OPT_TRACE:
			trace_file = optarg;
			sources++;
			break;
		case OPT_ZIPF:
		case OPT_MIX:
			gen.kind = c == OPT_ZIPF ? USM_TRACE_ZIPF : USM_TRACE_MIX;
			if (parse_alpha(c == OPT_ZIPF ? "--zipf" : "--mix",
					optarg, &gen.alpha))
				return 2;
			sources++;
			break;
		case OPT_SCAN:
			gen.kind = USM_TRACE_SCAN;
			sources++;
			break;
		case OPT_LOOP:
			gen.kind = USM_TRACE_LOOP;
			sources++;
			break;
		case OPT_OBJECTS:
			if (parse_u64("--objects", optarg, &gen.objects))
				return 2;
			break;
		case OPT_REQUESTS:
			if (parse_u64("--requests", optarg, &gen.requests))
				return 2;
			break;
		case OPT_RUN:
			if (parse_u64("--run", optarg, &gen.run))
				return 2;
			break;
		case OPT_EVERY:
			if (parse_u64("--every", optarg, &gen.every))
				return 2;
			break;
		case OPT_SEED:
			if (parse_u64("--seed", optarg, &gen.seed))
				return 2;
			break;
		case OPT_PLUGIN:
			if (usm_plugin_load(optarg, err, sizeof(err))) {
				fprintf(stderr, "usm-replay: %s\n", err);
				return 1;
			}
			break;
		case OPT_CSV:
			csv = 1;
			break;
		case 'h':
		case OPT_HELP:
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "usm-replay: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (sources > 1) {
		fprintf(stderr,
			"usm-replay: give one of --trace, --zipf, --scan, --loop, --mix\n");
		return 2;
	}
	if (!cache_arg) {
		fprintf(stderr, "usm-replay: --cache is required\n%s", usage);
		return 2;
	}

	/* The policies, checked before any work. */
	if (!strcmp(policy, "all")) {
		usm_for_each_evict(add_registered, &pols);
		if (pols.n == SIZE_MAX)
			goto nomem;
	} else {
		char *save = NULL, *tok;

		plist = strdup(policy);
		if (!plist)
			goto nomem;
		for (tok = strtok_r(plist, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			if (!usm_find_evict(tok)) {
				fprintf(stderr,
					"usm-replay: no eviction policy named '%s'\n",
					tok);
				goto out;
			}
			if (names_add(&pols, tok))
				goto nomem;
		}
		if (!pols.n) {
			fprintf(stderr, "usm-replay: --policy names no policy\n");
			goto out;
		}
	}

	if (trace_file) {
		FILE *f = strcmp(trace_file, "-") ? fopen(trace_file, "r")
						  : stdin;

		if (!f) {
			fprintf(stderr, "usm-replay: %s: %s\n", trace_file,
				strerror(errno));
			goto out;
		}
		c = usm_trace_read(f, trace_file, &t, err, sizeof(err));
		if (f != stdin)
			fclose(f);
		snprintf(desc, sizeof(desc), "%s", trace_file);
	} else {
		static const char *const kinds[] = {
			"zipf", "scan", "loop", "mix",
		};

		c = usm_trace_generate(&gen, &t, err, sizeof(err));
		if (gen.kind == USM_TRACE_ZIPF || gen.kind == USM_TRACE_MIX)
			snprintf(desc, sizeof(desc), "%s(%.2f)",
				 kinds[gen.kind], gen.alpha);
		else
			snprintf(desc, sizeof(desc), "%s", kinds[gen.kind]);
	}
	if (c) {
		fprintf(stderr, "usm-replay: %s\n", err);
		goto out;
	}

	{
		size_t len = strlen(cache_arg);
		uint64_t v;

		if (len > 1 && cache_arg[len - 1] == '%') {
			char buf[64], *end;
			double pct;

			snprintf(buf, sizeof(buf), "%.*s", (int)(len - 1),
				 cache_arg);
			errno = 0;
			pct = strtod(buf, &end);
			if (errno || end == buf || *end || !(pct > 0) ||
			    pct > 100) {
				fprintf(stderr,
					"usm-replay: bad value for --cache: '%s' (want PAGES or 0 < PCT%% <= 100)\n",
					cache_arg);
				goto out_trace;
			}
			v = (uint64_t)((double)t.footprint * pct / 100.0 + 0.5);
			cache = v ? v : 1;
		} else {
			if (parse_u64("--cache", cache_arg, &v))
				goto out_trace;
			if (!v) {
				fprintf(stderr, "usm-replay: --cache must be at least 1 page\n");
				goto out_trace;
			}
			cache = v;
		}
	}

	if (csv) {
		printf("policy,trace,seed,footprint,cache_pages,requests,hits,misses,miss_ratio\n");
		if (trace_file)
			gen.seed = 0;	/* not used: print 0 */
	} else {
		char seed[48] = "";

		if (!trace_file)
			snprintf(seed, sizeof(seed), ", seed %llu",
				 (unsigned long long)gen.seed);
		printf("# trace %s: %zu requests, footprint %llu pages%s; cache %llu pages (%.1f%%)\n",
		       desc, t.n, (unsigned long long)t.footprint, seed,
		       (unsigned long long)cache,
		       100.0 * (double)cache / (double)t.footprint);
		printf("%-12s %12s %12s %12s %10s\n", "policy", "requests",
		       "hits", "misses", "miss-ratio");
	}
	for (i = 0; i < pols.n; i++) {
		const struct usm_evict_ops *ops = usm_find_evict(pols.v[i]);
		struct usm_replay_stats st;
		double ratio;

		if (usm_replay(ops, &t, cache, &st, err, sizeof(err))) {
			fprintf(stderr, "usm-replay: %s\n", err);
			goto out_trace;
		}
		ratio = (double)st.misses / (double)st.requests;
		if (csv)
			printf("%s,%s,%llu,%llu,%llu,%llu,%llu,%llu,%.6f\n",
			       pols.v[i], desc, (unsigned long long)gen.seed,
			       (unsigned long long)t.footprint,
			       (unsigned long long)cache,
			       (unsigned long long)st.requests,
			       (unsigned long long)st.hits,
			       (unsigned long long)st.misses, ratio);
		else
			printf("%-12s %12llu %12llu %12llu %10.4f\n",
			       pols.v[i], (unsigned long long)st.requests,
			       (unsigned long long)st.hits,
			       (unsigned long long)st.misses, ratio);
	}
	rc = 0;
out_trace:
	usm_trace_free(&t);
out:
	free(plist);
	free(pols.v);
	return rc;
nomem:
	fprintf(stderr, "usm-replay: out of memory\n");
	goto out;
}
