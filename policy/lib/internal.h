/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * internal.h - private structures of the engine (ctx.c, page.c, fault.c,
 * evict.c; engine.h lists their shared helpers), shared inside
 * libusmpolicy.  Not installed.
 *
 * Lock order: ctx->lock, then a store's io lock.  Everything below is
 * protected by ctx->lock unless its comment says otherwise.
 */
#ifndef USM_INTERNAL_H
#define USM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include <usm/usm.h>
#include "pagemap.h"

/* Pages evicted per backend round trip, unless usm_ctx_set_evict_batch()
 * says otherwise (up to USM_EVICT_BATCH_MAX). */
#define USM_EVICT_BATCH	64u

/*
 * Page map entries (low two bits): 00 a struct usm_ppage *, 01 a
 * struct usm_resv * (an unused reserved frame), 10 a swapped page packed in
 * one word: slot << 8 | store id << 2 | 2 (no memory per swapped page).
 *
 * Page states (struct usm_ppage.state).  HOLE is not stored: a hole has no
 * entry (or a reservation entry) in the page map; SWAPPED is a packed
 * entry.
 *
 * FILLING:  a frame was placed and is being zeroed or read from the store
 *           by a faulting thread (lock dropped); other faults wait.
 * RESIDENT: in its file's eviction policy (unless pinned/busy).
 * EVICTING: chosen as a victim, out of the policy; the backend unmaps it.
 * WRITING:  its frame is being copied to its slot / committed; then the
 *           record is freed and the entry becomes a packed swapped one.
 */
enum usm_pstate {
	USM_PS_FILLING = 1,
	USM_PS_RESIDENT,
	USM_PS_EVICTING,
	USM_PS_WRITING,
};

#define USM_MAX_STORES	64	/* store ids fit in 6 bits of an entry */

_Static_assert(sizeof(void *) == 8, "packed swap entries need 64-bit pointers");

struct usm_cstore;

/* struct usm_ppage - the library's record of one page that is not a hole. */
struct usm_ppage {
	struct usm_page pg;		/* index, frame, file, policy fields, pins */
	uint8_t state;			/* enum usm_pstate */
	bool in_policy;			/* held by the file's eviction policy */
	bool dropped;			/* truncated/released while busy or pinned */
	bool slot_held;			/* swapped in, slot kept until settled
					 * (USM_FAULT_KEEP_SLOT) */
	uint32_t busy;			/* eviction batches / fillers holding it */
	const void *owner;		/* the eviction batch it belongs to */
	struct usm_cstore *store;	/* being read in or written out: where */
	usm_slot_t slot;
	struct usm_list olink;		/* file's orphans while dropped */
};

static inline struct usm_ppage *usm_ppage_of(struct usm_page *pg)
{
	return usm_container_of(pg, struct usm_ppage, pg);
}

/*
 * struct usm_resv - frames [first, first + nr) reserved for pages
 * [index, index + nr) of a file.  Each still unused index has the tagged
 * pointer (resv | 1) in the file's page map.
 */
struct usm_resv {
	struct usm_list link;		/* file's resv list */
	uint64_t index;
	usm_frame_t first;
	uint64_t nr;
	uint64_t left;			/* unused frames */
	bool granted;			/* handed to the frontend: not reclaimed
					 * under pressure */
};

static inline bool usm_entry_is_resv(const void *e)
{
	return ((uintptr_t)e & 3u) == 1u;
}

static inline bool usm_entry_is_swp(const void *e)
{
	return ((uintptr_t)e & 3u) == 2u;
}

static inline bool usm_entry_is_page(const void *e)
{
	return e && ((uintptr_t)e & 3u) == 0;
}

static inline void *usm_swp_entry(unsigned int store_id, usm_slot_t slot)
{
	return (void *)(uintptr_t)((slot << 8) | ((uint64_t)store_id << 2) | 2u);
}

static inline usm_slot_t usm_swp_slot(const void *e)
{
	return (uint64_t)(uintptr_t)e >> 8;
}

static inline unsigned int usm_swp_store_id(const void *e)
{
	return (unsigned int)(((uintptr_t)e >> 2) & (USM_MAX_STORES - 1));
}

static inline struct usm_resv *usm_entry_resv(void *e)
{
	return (struct usm_resv *)((uintptr_t)e & ~(uintptr_t)1u);
}

static inline void *usm_resv_entry(struct usm_resv *r)
{
	return (void *)((uintptr_t)r | 1u);
}

/* A backing store as the context knows it. */
struct usm_cstore {
	struct usm_cstore *next;
	char name[USM_NAME_MAX + 1];
	struct usm_store *st;
	unsigned int id;		/* index in ctx->store_by_id */
	bool writable;
	/* Every call into st holds it: write-locked, except swap-in reads
	 * (usm_store_read), which read-lock it and so run at once in
	 * several threads; a writer waiting goes before new readers. */
	pthread_rwlock_t io;
};

struct usm_file {
	struct usm_ctx *ctx;
	uint64_t ino;
	struct usm_list link;		/* ctx->files */
	unsigned int refs;		/* frontend (until release) + in-flight ops */
	bool dead;			/* released */

	struct usm_file_policy pol;
	const struct usm_alloc_ops *aops;
	const struct usm_evict_ops *eops;
	void *estate;
	struct usm_cstore *store;	/* where new evictions go */
	uint64_t alloc_word;		/* placement scratch */

	struct usm_pagemap map;
	struct usm_list resv;		/* struct usm_resv */
	struct usm_list orphans;	/* dropped struct usm_ppage */

	uint64_t resident;		/* map pages holding a frame */
	uint64_t swapped;		/* map pages in SWAPPED state */
	uint64_t reserved;		/* unused reserved frames */
	uint64_t inflight;		/* pages in EVICTING/WRITING */
	uint64_t in_policy;		/* pages held by the eviction policy */
	uint64_t faults, evictions, swapins, hits;
	uint64_t skip_gen;		/* arbiter: gave nothing in round gen */
};

/* A slot to free once the ctx lock is dropped. */
struct usm_pending_free {
	struct usm_cstore *cs;
	usm_slot_t slot;
};

struct usm_ctx {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* page state changes (CLOCK_MONOTONIC) */
	struct usm_pool *pool;
	struct usm_backend_ops ops;
	void *priv;
	uint64_t limit;			/* frames */
	uint32_t low_pct, high_pct;
	uint32_t evict_batch;		/* pages per eviction batch */
	bool evict_batch_set;		/* ... chosen by the frontend */
	uint64_t wait_ms;
	unsigned int store_flags;

	struct usm_list files;
	uint64_t nr_files;
	struct usm_cstore *stores;	/* every opened store */
	struct usm_cstore *store_by_id[USM_MAX_STORES];
	unsigned int nr_stores;
	struct usm_cstore *dflt;	/* the mount's ("default" or an alias) */
	struct usm_cstore *none;
	struct usm_file_policy base;	/* defaults of new files */
	const struct usm_mount_opts *mount;
	const struct usm_config *config;

	uint64_t resident, swapped, reserved, orphan_frames, inflight;
	uint64_t faults, evictions, swapins, hits;
	uint64_t resv_stolen;		/* resv_steal_frame_locked() */
	uint64_t gen;			/* arbiter round */
	struct usm_pending_free *pend;	/* freed by ctx_unlock() */
	size_t npend, cap_pend;
};

/* Frames that may still be taken from the pool before the context's
 * resident cap is reached (for placement policies; lock held). */
uint64_t usm_ctx_headroom(const struct usm_ctx *ctx);

/* Like usm_file_reservation_add() but marks the run as granted. */
int usm_file_reservation_add_flags(struct usm_file *f, uint64_t index,
				   usm_frame_t first, uint64_t nr,
				   bool granted);

/* 1 if pages [index, index + nr) of @f are all holes without a
 * reservation (lock held). */
int usm_file_range_empty(struct usm_file *f, uint64_t index, uint64_t nr);

#endif /* USM_INTERNAL_H */
