/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kmod/tests/poolstat.h - the pool's debugfs stats file, for the guest
 * tests stress.c and gup.c: a key's value, and "used" once the frames
 * freed while still referenced (deferred) have come back.  Failures print
 * a message and exit 1.
 */
#ifndef USMFS_TESTS_POOLSTAT_H
#define USMFS_TESTS_POOLSTAT_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* KEY's value in STATS ("key value" lines), -1 when it has none. */
static inline long stat_of(const char *stats, const char *key)
{
	char line[512], k[64];
	long v, found = -1;
	FILE *f = fopen(stats, "r");

	if (!f) {
		fprintf(stderr, "open %s: %s\n", stats, strerror(errno));
		exit(1);
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld", k, &v) == 2 && !strcmp(k, key))
			found = v;
	fclose(f);
	return found;
}

/* Frames freed while still referenced come back within a few rescans. */
static inline long settled_used(const char *stats)
{
	for (int i = 0; i < 50 && stat_of(stats, "deferred"); i++)
		usleep(100 * 1000);
	if (stat_of(stats, "deferred")) {
		fprintf(stderr, "deferred=%ld for 5 s\n", stat_of(stats, "deferred"));
		exit(1);
	}
	return stat_of(stats, "used");
}

#endif
