/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * usmctl.h - what usmctl's files share.
 */
#ifndef USMCTL_H
#define USMCTL_H

/* Pages evicted within EVICT_SAMPLE_MS: whether a mount is evicting now. */
#define EVICT_SAMPLE_MS	300

/* eviction.c: the status lines about eviction. */
long long kv_get(const char *kv, const char *key);
int evict_possible(const char *stats, const char *opts, int fuse,
		   const char **why);
void print_eviction(const char *stats, int can, const char *why, int now,
		    long long evicted);

/* rados.c: usmctl rados SPEC [--remove ID] (argv[0] is SPEC). */
int cmd_rados(int argc, char **argv, int json);

#endif /* USMCTL_H */
