/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * state.h - the daemon's state that outlives it (issue 17): an arena in a
 * memfd, mapped at the same fixed address by every daemon of a mount, that
 * holds the namespace (inodes, entries, xattrs, file policies), each
 * file's page map (pmap.c) and the FUSE INIT request; the supervisor
 * (supervise.c) keeps the memfd, the pool's memfd and /dev/fuse open
 * across daemons.  See docs/fuse.md, "Restarts".
 */
#ifndef USMFS_STATE_H
#define USMFS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <usm/usm.h>

/*
 * Bump STATE_VERSION with any change to what the arena holds (struct
 * node, dent, dirdata, order_ent, xattr, dirhandle, the page map's
 * encoding, struct state_hdr): a daemon refuses a state of another
 * version (or whose structure sizes differ) instead of misreading it.
 */
#ifndef STATE_VERSION
#define STATE_VERSION	1u
#endif
#define STATE_MAGIC	0x3153544d53464d55ULL	/* "UMFSMST1" */
#define STATE_BASE	0x500000000000UL	/* outside ASan's and libc's areas */
#define STATE_SPAN	(1ULL << 40)		/* address space; sparse memfd */
#define STATE_INIT_MAX	512			/* a FUSE_INIT request */

/* Exit status of a daemon that refuses the state it was handed. */
#define USMFS_EXIT_REFUSED	3

/* The namespace's roots (were fields of struct usmfs). */
struct usmfs_ns {
	struct node **itab;
	size_t itab_size, nr_nodes;
	uint64_t next_ino;
	uint64_t xattr_total;		/* bytes charged to ordinary xattrs */
	struct node *root;
};

struct state_hdr {
	uint64_t magic;
	uint32_t version, layout;	/* layout: structure sizes (state.c) */
	uint64_t pool_frames;
	uint64_t brk;			/* next unused byte of the arena */
	void *freel[48];		/* free blocks by size class */
	uint32_t ready;			/* the namespace is built */
	uint64_t lost;			/* pages restarts could not give back */
	uint32_t init_len;
	unsigned char init[STATE_INIT_MAX];
	struct usmfs_ns ns;
	char pm_stores[32][USM_NAME_MAX + 1];	/* pmap.c: "" = default */
};

/* What the supervisor hands a daemon (--serve=). */
struct serve_fds {
	int fuse, pool, state, ready;
	unsigned int restarts, refused;
	pid_t supervisor;		/* our parent when we started */
	bool on;
};
extern struct serve_fds serve;

/* The arena; NULL when the daemon runs without a supervisor. */
extern struct state_hdr *sh;

int state_parse_serve(const char *arg);
/* Map the state memfd; 0 (fresh: *@fresh), -1 (message printed; exit
 * with USMFS_EXIT_REFUSED when the layout is another version's). */
int state_attach(uint64_t pool_frames, bool *fresh, bool *refused);
void state_save_init(const void *msg, size_t len);
void state_serving(void);
bool fuse_conn_gone(int fd);

void *sh_malloc(size_t size);
void *sh_calloc(size_t nmemb, size_t size);
void *sh_realloc(void *p, size_t size);
char *sh_strdup(const char *s);
char *sh_strndup(const char *s, size_t n);
void sh_free(void *p);

#endif /* USMFS_STATE_H */
