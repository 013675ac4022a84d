/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * usm/swap.h - backing stores for evicted pages.
 *
 * Specs: "none" (nothing can be evicted to it: allocation gives -ENOSPC),
 * "file:PATH" (a sparse file: a header page, then 4 KiB slots; slot s
 * lives at offset (s + 1) * 4096), "rados:POOL[/NAMESPACE][:KEY=VALUE]..."
 * (objects of 64 slots in a Ceph pool: docs/stores.md, store_rados.c).  Slot numbers are stable: a restarted
 * server reopens the same file with USM_STORE_KEEP and claims the slots
 * the kernel still lists, then reads them back.  Freed slots are reused
 * lowest first by usm_store_alloc(), next-fit by usm_store_alloc_run().
 * With USM_STORE_DIRECT, page-aligned buffers are written with O_DIRECT
 * where the filesystem allows it.
 *
 * A store only truncates, chmods or writes a file it created
 * (docs/stores.md): a new file is created exclusively (O_CREAT | O_EXCL |
 * O_NOFOLLOW, mode 0600) with a header (USM_STORE_MAGIC, a version, the
 * page size, a random identity, the store's name, when it was created).
 * An existing path is used only if it is a regular file owned by the
 * caller's effective uid, not a symlink, and either carries that header
 * (a store file: its slots are kept with USM_STORE_KEEP, else dropped:
 * the file is cut back to its header, which keeps its identity) or is
 * empty (adopted).  Anything else is refused with a message naming it and
 * left as it was: -EPERM (symlink, not regular, another owner), -EEXIST
 * (not a store file, or another format).
 *
 * A store is not locked: its owner (a usm_ctx) serialises calls, except
 * that usm_store_read() may run in several threads at once (with no other
 * call meanwhile).
 */
#ifndef USM_SWAP_H
#define USM_SWAP_H

#include <usm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct usm_store;

/* Flags for usm_store_open(). */
#define USM_STORE_KEEP	0x1u	/* keep existing contents (restart); default truncates */
/* Write runs of page-aligned buffers with O_DIRECT where the filesystem
 * allows it (reads stay buffered): evicted pages skip the page cache.
 * Not the default: see usm_store_open() in swap.c. */
#define USM_STORE_DIRECT	0x2u
/* Do not take the store's lock (a file's flock, a rados header's
 * exclusive lock): the caller holds it through another open of the same
 * store, which it keeps (the FUSE daemon's
 * supervisor keeps its stores locked while daemons come and go: a killed
 * daemon may hold its open for a while, docs/fuse.md "Restarts"). */
#define USM_STORE_UNLOCKED	0x4u

/*
 * Open a store.  @name is what xattrs and the config call it ("default" for
 * the mount's).  0 and *@out, or -errno with a message in @err
 * ("file:/x: not owned by uid 0", "bogus: unknown store type").
 */
int usm_store_open(const char *name, const char *spec, unsigned int flags,
		   struct usm_store **out, char *err, size_t errlen);
void usm_store_close(struct usm_store *st);

/* The first 8 bytes of a store file. */
#define USM_STORE_MAGIC	"USMSTORE"

/*
 * Would usm_store_open() accept @spec?  Looks without changing anything
 * (usm-policyd --check): 0 for "none", a file: path whose directory exists
 * (the file would be created), an empty file or a store file of ours;
 * else -errno and the message usm_store_open() would give.  Not checked:
 * whether another store holds the file now.
 */
int usm_store_check(const char *spec, char *err, size_t errlen);

const char *usm_store_name(const struct usm_store *st);
const char *usm_store_spec(const struct usm_store *st);

/* 1 if the store can take pages at all ("none" cannot). */
int usm_store_writable(const struct usm_store *st);
/*
 * Why the store takes nothing now although it could ("the cluster is
 * unreachable (no answer within 10s)", "the pool usm is full": a "rados:"
 * store; it is looked at again in the background and the store resumes by
 * itself): 1 and the reason in @buf, or 0 and "" when nothing stops it.
 */
int usm_store_state(const struct usm_store *st, char *buf, size_t len);

/* Allocate a slot: 0 and *@slot, or -ENOSPC. */
int usm_store_alloc(struct usm_store *st, usm_slot_t *slot);
/*
 * Allocate a run of adjacent slots for a batch of pages: 0 and
 * [*@first, *@first + *@nr), 1 <= *@nr <= @want, or -ENOSPC (-EINVAL for
 * @want 0).  Call again for the rest when *@nr < @want.  Runs are taken
 * next-fit (not lowest first, as usm_store_alloc()): the store keeps a
 * cursor, and wraps to its start once at least an eighth of the used area
 * is free again, so that slots freed in order gather into long runs and a
 * batch goes out in one write.
 */
int usm_store_alloc_run(struct usm_store *st, uint64_t want,
			usm_slot_t *first, uint64_t *nr);
/* Re-mark a slot listed by the kernel as used after a restart.
 * 0, -EBUSY (already used), -ERANGE. */
int usm_store_claim(struct usm_store *st, usm_slot_t slot);
/* Free a slot: 0 or -EINVAL (not allocated).  The hole is punched when
 * the store supports it, in batches (not while the store is at least half
 * in use and runs are being allocated: then at the next sync or close);
 * a store that empties is truncated. */
int usm_store_free(struct usm_store *st, usm_slot_t slot);

/* Batched I/O: @n pages, slot @slots[i] <-> buffer @bufs[i] (USM_PAGE_SIZE
 * bytes each).  Uses preadv/pwritev over runs of adjacent slots.
 * 0 or -errno (EIO on a short read: a slot never written reads as zeroes). */
int usm_store_write(struct usm_store *st, const usm_slot_t *slots,
		    void *const *bufs, size_t n);
int usm_store_read(struct usm_store *st, const usm_slot_t *slots,
		   void *const *bufs, size_t n);
int usm_store_sync(struct usm_store *st);

uint64_t usm_store_slots_used(const struct usm_store *st);

/*
 * A file store never fills the filesystem it lives on: it grows only while
 * the filesystem keeps max(USM_STORE_RESERVE_MIN, USM_STORE_RESERVE_PCT %
 * of its size) free, and allocations give -ENOSPC past that.  The free
 * slots inside the file (below the highest slot in use) are its own: they
 * are reused whatever the filesystem has free.  usm_store_room() is how
 * many more slots it can take now (those free slots plus what fits above
 * the reserve; 0 for "none"); usm_store_reserve() the reserve in bytes;
 * usm_store_set_reserve() overrides it (0 = the default).
 */
#define USM_STORE_RESERVE_MIN	(256ULL << 20)
#define USM_STORE_RESERVE_PCT	5
uint64_t usm_store_room(const struct usm_store *st);
uint64_t usm_store_reserve(const struct usm_store *st);
void usm_store_set_reserve(struct usm_store *st, uint64_t bytes);

/* Pages written to @st (usm_store_write) and read from it (usm_store_read)
 * since it was opened, the failed calls left out. */
void usm_store_traffic(const struct usm_store *st, uint64_t *out,
		       uint64_t *in);

/*
 * The "rados:" stores of this machine in a pool (and namespace) @spec
 * names (rados:POOL[/NS][:conf=...:user=...:keyring=...]), for usmctl:
 * @cb is called for each (a non-zero return stops the walk and is
 * returned).  A store is in use while the process holding its header's
 * lock lives; any other one is left over and may be removed with
 * usm_rados_remove() (which refuses one in use: -EBUSY).  0 or -errno
 * with a message in @err.
 */
struct usm_rados_store {
	char id[65];			/* usm.MACHINE.ID */
	char name[65];			/* the store's name when it was made */
	char host[64];
	long long created;		/* seconds since the epoch, 0: unknown */
	unsigned long objects;		/* objects of pages */
	int has_header;
	int in_use;
	long pid;			/* holding it, when in use */
};
int usm_rados_stores(const char *spec,
		     int (*cb)(const struct usm_rados_store *, void *),
		     void *arg, char *err, size_t errlen);
int usm_rados_remove(const char *spec, const char *id, size_t *removed,
		     char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* USM_SWAP_H */
