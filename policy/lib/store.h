/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store.h - a store's private state, shared by swap.c (slots, I/O, room),
 * store_file.c (creating, recognising and opening the file of a "file:"
 * store) and store_rados.c (the objects of a "rados:" store).  Not
 * installed.
 *
 * A file store's first page is its header (struct store_hdr); slot s
 * lives in the page after it, at STORE_SLOT_OFF(s).
 */
#ifndef USM_STORE_H
#define USM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <usm/swap.h>

enum store_type { STORE_NONE, STORE_FILE, STORE_RADOS };

struct store_rados;

struct usm_store {
	char *name;
	char *spec;
	enum store_type type;
	int fd;
	int dfd;		/* the same file, O_DIRECT, or -1 */

	uint64_t *l0;		/* slot bitmap, 1 = used */
	uint64_t *l1;		/* bit per l0 word, 1 = that word is full */
	uint64_t *wr;		/* per slot, 1 = written since allocated */
	uint64_t nwords;	/* l0 words: a multiple of 64 */
	uint64_t hint;		/* every l1 word below it is all ones */
	uint64_t used;
	uint64_t top;		/* one past the highest slot used since empty */
	uint64_t cursor;	/* where usm_store_alloc_run() looks next */

	/* Bytes of the file below it were written (or claimed, or were in
	 * the file at a KEEP open): a read meeting end-of-file below it is
	 * -EIO.  Never below the header. */
	uint64_t written_end;

	/* Slots freed since the last punch: the holes are punched in
	 * coalesced runs (one fallocate per run, not per page), skipping
	 * slots that were allocated again meanwhile. */
	usm_slot_t *pending;
	size_t npending;
	bool unpunched;		/* freed slots were left unpunched */

	/* Bytes the store may still take from its filesystem before it
	 * looks again (see store_check_space), and what it leaves free. */
	int64_t budget;
	uint64_t reserve;	/* 0 = default */

	/* Pages written to the store and read back from it since it was
	 * opened (every page of a successful usm_store_write/read): what a
	 * benchmark compares with the pages evicted.  Under the store's
	 * lock, as every other field. */
	uint64_t pages_out, pages_in;
	uint64_t reads;		/* usm_store_read calls that read (tests) */

	struct store_rados *rados;	/* a "rados:" store's cluster, objects */
};

/*
 * The header, in the first page of the file (the rest of the page is
 * zero), in the byte order of the host that created it: magic
 * USM_STORE_MAGIC, version 1, the page size the slots have, how many
 * pages the header takes (slots start after them), when the file was
 * created, a random identity and the name of the store that created it.
 */
#define STORE_HDR_VERSION	1u
#define STORE_HDR_PAGES		1u
#define STORE_HDR_BYTES		((uint64_t)STORE_HDR_PAGES * USM_PAGE_SIZE)
#define STORE_SLOT_OFF(s)	(STORE_HDR_BYTES + (uint64_t)(s) * USM_PAGE_SIZE)

struct store_hdr {
	char magic[8];
	uint32_t version;
	uint32_t page_size;
	uint32_t hdr_pages;
	uint32_t reserved0;
	uint64_t created;		/* seconds since the epoch */
	uint8_t uuid[16];
	char name[64];			/* NUL-terminated */
};

void store_set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * usm_store_open() for a context whose waits for a page are bounded by
 * @wait_ms (swapin_timeout; 0: none): a "rados:" store without its own
 * timeout= bounds each cluster operation by a third of it (a swap-in may
 * queue behind another operation before its own).
 */
int store_open_bounded(const char *name, const char *spec, unsigned int flags,
		       uint64_t wait_ms, struct usm_store **out, char *err,
		       size_t errlen);

/* store_file.c: open the file of a "file:" store into @st (fd, dfd,
 * written_end); see usm_store_open(). */
int store_file_open(struct usm_store *st, const char *path, unsigned int flags,
		    char *err, size_t errlen);
/* Cut the file back to its header (every slot gone): 0 or -errno. */
int store_file_cut(struct usm_store *st);

/*
 * store_rados.c: a "rados:POOL[/NAMESPACE][:KEY=VALUE...]" store.  Slots
 * are grouped into objects of STORE_RADOS_OBJ_SLOTS slots: object k holds
 * the slots of bitmap word l0[k].
 */
#define STORE_RADOS_OBJ_SLOTS	64u
int store_rados_open(struct usm_store *st, uint64_t wait_ms, unsigned int flags,
		     char *err, size_t errlen);
/* Removes every object of the store (and its header) when no slot is
 * used; else leaves them for a restart (USM_STORE_KEEP) or usmctl. */
void store_rados_close(struct usm_store *st);
int store_rados_check(const char *spec, char *err, size_t errlen);
/* @n pages sorted by slot, each slot once: 0 or -errno. */
int store_rados_io(struct usm_store *st, const usm_slot_t *slots,
		   void *const *bufs, size_t n, int write);
/* Object @obj (its l0 word) has no slot in use any more: remove it (in
 * batches). */
void store_rados_obj_empty(struct usm_store *st, uint64_t obj);
/* Remove the objects queued (@all: whatever is queued, now). */
void store_rados_flush(struct usm_store *st, bool all);
/* May new pages go to the store now?  false while the cluster is
 * unreachable or the pool full (checked again in the background). */
bool store_rados_usable(struct usm_store *st);
uint64_t store_rados_room(const struct usm_store *st);
int store_rados_state(const struct usm_store *st, char *buf, size_t len);

#endif /* USM_STORE_H */
