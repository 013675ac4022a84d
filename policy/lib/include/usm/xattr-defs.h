/* SPDX-License-Identifier: (GPL-2.0-only OR LGPL-2.1-or-later) */
/*
 * usm/xattr-defs.h - the one table of user.usm.* attributes.
 *
 * Included by libusmpolicy (userspace) and by usmfs.ko (kmod/), so that both
 * frontends validate with the same rules.  Plain preprocessor data: no
 * libc, no kernel headers.  Each user expands the X-macros with its own
 * definition of USM_XATTR() / USM_POLICY_NAME().
 *
 * USM_XATTR(id, suffix, kind, lo, hi)
 *   id      enum suffix (USM_XATTR_<id>)
 *   suffix  the part after "user.usm."
 *   kind    ALLOC  a placement policy name
 *           EVICT  an eviction policy name
 *           INT    a decimal integer in [lo, hi]
 *           BYTES  a size: digits with an optional K/M/G/T suffix (powers
 *                  of 1024), in [lo, hi]; 0 means "no limit"
 *           STORE  a store name ([a-z0-9_-], 1..31) or "none"
 *           STATS  read-only, computed
 */
#ifndef USM_XATTR_DEFS_H
#define USM_XATTR_DEFS_H

#ifndef USM_NAME_MAX
#define USM_NAME_MAX		31	/* longest policy or store name */
#endif

#define USM_XATTR_PREFIX	"user.usm."
#define USM_XATTR_VALUE_MAX	64	/* longest accepted value */

#define USM_XATTR_TABLE(USM_XATTR)					\
	USM_XATTR(ALLOC, "alloc", ALLOC, 0, 0)				\
	USM_XATTR(EVICT, "evict", EVICT, 0, 0)				\
	USM_XATTR(PRIO,  "prio",  INT,   0, 7)				\
	USM_XATTR(LIMIT, "limit", BYTES, 0, (1ULL << 50))		\
	USM_XATTR(SWAP,  "swap",  STORE, 0, 0)				\
	USM_XATTR(STATS, "stats", STATS, 0, 0)

/*
 * Actions and mount-wide values, outside the table (never stored, never
 * listed, not inherited):
 *  user.usm.reclaim  write-only on a regular file: "all" or a size (K/M/G);
 *                    push that much of the file out to its store now
 *                    (ENOSPC when nothing can go: swap=none, pinned, in use).
 *  user.usm.stats    on a mount's root directory: the mount's pool figures
 *                    (frames, free, used, limit, resident, swapped, files,
 *                    faults, evictions, swapins, hits, low, high), read-only.
 */
#define USM_XATTR_RECLAIM	USM_XATTR_PREFIX "reclaim"

/* Built-in policy names, in the order listings show them. */
#define USM_ALLOC_BUILTINS(X)	X("firstfit") X("contiguous") X("spread")
#define USM_EVICT_BUILTINS(X)	\
	X("fifo") X("lru") X("clock") X("sieve") X("s3fifo") X("pinned")

#define USM_DEFAULT_ALLOC	"firstfit"
#define USM_DEFAULT_EVICT	"s3fifo"
#define USM_DEFAULT_PRIO	4

/* A policy or store name: [a-z0-9_-], 1..USM_NAME_MAX chars. */
#define USM_NAME_CHAR_OK(c) \
	(((c) >= 'a' && (c) <= 'z') || ((c) >= '0' && (c) <= '9') || \
	 (c) == '_' || (c) == '-')

#endif /* USM_XATTR_DEFS_H */
