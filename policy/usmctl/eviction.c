// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * eviction.c - usmctl status: whether a mount can evict (a store that
 * takes pages, a policy server that evicts), why not, and whether it is
 * evicting now (docs/stores.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <usm/usm.h>

#include "usmctl.h"

/* The number a key of @kv has, or -1 (absent, not a number). */
long long kv_get(const char *kv, const char *key)
{
	size_t kl = strlen(key);
	const char *p;
	char *end;
	long long v;

	for (p = kv; (p = strstr(p, key)); p += kl) {
		if ((p != kv && p[-1] != ' ') || p[kl] != '=')
			continue;
		if (p[kl + 1] < '0' || p[kl + 1] > '9')
			return -1;
		v = strtoll(p + kl + 1, &end, 10);
		return *end == ' ' || !*end ? v : -1;
	}
	return -1;
}

/* The store_state= of @stats (why the store takes nothing now), its
 * mountinfo-style escapes (\040) undone, into @out: 1, or 0 when absent. */
static int store_state(const char *stats, char *out, size_t len)
{
	const char *p = strstr(stats, " store_state=");
	size_t o = 0;

	if (!p)
		return 0;
	for (p += 13; *p && *p != ' ' && o + 1 < len; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' &&
		    p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
			out[o++] = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 +
					  (p[3] - '0'));
			p += 3;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	return 1;
}

/* Does option list @opts (comma-separated) hold @opt exactly? */
static int has_opt(const char *opts, const char *opt)
{
	size_t ol = strlen(opt);

	for (const char *p = opts; (p = strstr(p, opt)); p += ol)
		if ((p == opts || p[-1] == ',') && (p[ol] == ',' || !p[ol]))
			return 1;
	return 0;
}

/*
 * Can the mount evict: a store that takes pages and a policy server that
 * evicts?  The FUSE daemon says so (can_evict=); a module mount has a
 * server that was granted eviction (server=1 evicting=1) whose stores are
 * its own, unless the mount said swap=none.  1 or 0, and why not in @why.
 */
int evict_possible(const char *stats, const char *opts, int fuse,
			  const char **why)
{
	int none = has_opt(opts, "swap=none");

	*why = "";
	if (kv_get(stats, "server") != 1) {
		*why = "no policy server attached";
		return 0;
	}
	if (fuse && kv_get(stats, "can_evict") != 1) {
		/* the daemon's eviction thread runs: then no store takes
		 * pages (swap=none, the default) */
		*why = kv_get(stats, "evicting") != 1 ?
		       "the daemon's eviction thread is not running" :
		       "no store (swap=none)";
		return 0;
	}
	if (!fuse && kv_get(stats, "evicting") != 1) {
		*why = "the server does not evict";
		return 0;
	}
	if (none) {
		*why = "no store (swap=none)";
		return 0;
	}
	return 1;
}

/* The status lines "eviction" (possible, or why not; how much the store
 * can take when the mount says) and "evicting" (now or not). */
void print_eviction(const char *stats, int can, const char *why,
			   int now, long long evicted)
{
	long long room = kv_get(stats, "store_room");
	char h[32], state[512];

	if (!can)
		printf("  %-10s not possible: %s\n", "eviction", why);
	else if (store_state(stats, state, sizeof(state)))
		printf("  %-10s possible, but the store takes nothing now: %s\n",
		       "eviction", state);
	else if (room == 0)
		printf("  %-10s possible, but the store can take nothing now "
		       "(its filesystem is at its reserve)\n", "eviction");
	else if (room > 0) {
		usm_format_size((uint64_t)room, h, sizeof(h));
		printf("  %-10s possible (the store can take %s more)\n",
		       "eviction", h);
	} else {
		printf("  %-10s possible\n", "eviction");
	}
	if (now)
		printf("  %-10s now (%lld pages in %d ms)\n", "evicting", evicted,
		       EVICT_SAMPLE_MS);
	else
		printf("  %-10s no\n", "evicting");
}
