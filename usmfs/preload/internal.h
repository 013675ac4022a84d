/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * internal.h - libusmfs-preload: state shared by preload.c (set-up, fork,
 * exec, exit) and heap.c (the allocator and the interposed mmap family).
 *
 * The heap lives in one reservation of virtual address space, [base,
 * base + resv).  The part below the high-water mark hwm is a MAP_SHARED
 * mapping of the heap file with file offset == address - base, so a byte's
 * place in the file is known from its address alone and "is this pointer
 * ours?" is one range check.  The reservation is cut into 64 KiB granules;
 * a side table (gt[], anonymous memory) says what each granule holds.
 *
 * Locking: up.lock covers everything below except the read-only set-up
 * fields (base, resv, ngran_max, min_size), which are written once by the
 * constructor before up.enabled is set.
 */
#ifndef USMFS_PRELOAD_INTERNAL_H
#define USMFS_PRELOAD_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UP_GRAN_SHIFT	16
#define UP_GRAN		((size_t)1 << UP_GRAN_SHIFT)	/* 64 KiB */
#define UP_PAGE		((size_t)4096)
#define UP_PAGES_PER_GRAN	(UP_GRAN / UP_PAGE)	/* 16: fits a uint16_t mask */
#define UP_SMALL_MAX	16384		/* larger requests take whole granules */
#define UP_NCLS		36
#define UP_NONE		UINT32_MAX

#define UP_F_DIRTY	0x1	/* free but not punched: old data in it */

enum up_kind {
	UP_G_FREE = 0,	/* in the free-extent list (head and tail carry ngran) */
	UP_G_SMALL,	/* a run of same-size blocks of class cls */
	UP_G_LARGE,	/* first granule of a malloc block of ngran granules */
	UP_G_CONT,	/* a following granule of a LARGE block */
	UP_G_APP,	/* memory the program got from mmap(); pages in mask */
};

/* One per granule.  Links are granule indices + 1 (0 = none). */
struct up_gent {
	uint8_t kind;
	uint8_t cls;		/* SMALL: size class */
	uint16_t nfree;		/* SMALL: free blocks; APP: mask of live pages */
	uint16_t bump;		/* SMALL: blocks handed out at least once */
	uint16_t flags;		/* UP_F_* */
	uint32_t fl;		/* SMALL: first free block index + 1 */
	uint32_t next, prev;	/* FREE: extent list; SMALL: class run list */
	uint32_t ngran;		/* FREE: extent length (head and tail); LARGE */
	uint64_t size;		/* LARGE: bytes asked for */
};

struct up_state {
	int enabled;		/* set once, by the constructor */
	int fd;			/* heap file, or -1: anonymous (fork fallback) */
	int dirfd;		/* USMFS_DIR, O_PATH */
	int linked;		/* the file still has its name */
	int punch_ok;		/* freed ranges read back as zeros */
	dev_t dev;		/* the heap file, to notice that the program */
	ino_t ino;		/* closed fd and something else took its number */
	char name[256];		/* file name inside USMFS_DIR */
	char *base;
	size_t resv;
	uint32_t ngran_max;
	uint32_t hwm;		/* granules mapped from the file */
	struct up_gent *gt;
	uint32_t free_head;	/* free extents, +1 encoded */
	uint32_t cls_head[UP_NCLS];	/* runs with a free block, +1 encoded */
	size_t min_size;	/* USMFS_MIN_SIZE */
	uint32_t retain_max;	/* granules kept unpunched when freed */
	uint32_t dirty;		/* granules now kept so */
	pthread_mutex_t lock;
};

extern struct up_state up;

static inline int up_ours(const void *p)
{
	return up.base && (const char *)p >= up.base &&
	       (const char *)p < up.base + up.resv;
}

/* Our fds live high, out of the way of open()'s lowest free number. */
#define UP_FD_MIN	800

/* preload.c: remove the heap file's name (exit, exec, abort). */
void up_unlink_heap(void);

/* heap.c */
void up_heap_init_classes(void);
int up_backing_map(uint32_t g, uint32_t n, int fd);

/* Raw system calls: never recurse into the interposed symbols. */
void *up_sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off);
int up_sys_munmap(void *addr, size_t len);

#endif /* USMFS_PRELOAD_INTERNAL_H */
