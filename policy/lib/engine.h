/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine.h - what the engine's files (ctx.c, page.c, fault.c, evict.c)
 * share.  Private to libusmpolicy; every function here expects ctx->lock
 * held unless its name says otherwise (ctx_unlock() drops it).
 */
#ifndef USM_ENGINE_H
#define USM_ENGINE_H

#include "internal.h"

/* Rounds a fault may wait for a busy page or for room before giving up. */
#define FAULT_MAX_ROUNDS	64

/* ctx.c */
void ctx_unlock(struct usm_ctx *ctx);
void file_drop_range(struct usm_ctx *ctx, struct usm_file *f,
		     uint64_t lo, uint64_t hi, bool force);
uint64_t limit_pages(const struct usm_file *f);
uint64_t pool_used(const struct usm_ctx *ctx);
void slot_free_locked(struct usm_ctx *ctx, struct usm_cstore *cs,
		      usm_slot_t slot);
struct usm_cstore *store_find(struct usm_ctx *ctx, const char *name);
uint64_t wm_frames(const struct usm_ctx *ctx, uint32_t pct);

/* page.c */
void file_get_locked(struct usm_file *f);
void file_put_locked(struct usm_file *f);
uint64_t file_release_resv(struct usm_ctx *ctx, struct usm_file *f,
			   uint64_t lo, uint64_t hi, bool granted_too);
void orphan_maybe_free(struct usm_ctx *ctx, struct usm_file *f,
		       struct usm_ppage *pp);
void page_clear_frame(struct usm_ctx *ctx, struct usm_file *f,
		      struct usm_ppage *pp);
void page_drop(struct usm_ctx *ctx, struct usm_file *f,
	       struct usm_ppage *pp, bool force);
void page_set_frame(struct usm_ctx *ctx, struct usm_file *f,
		    struct usm_ppage *pp, usm_frame_t fr);
void page_to_swapped(struct usm_ctx *ctx, struct usm_file *f,
		     struct usm_ppage *pp, struct usm_cstore *cs,
		     usm_slot_t slot);
void page_unbusy(struct usm_ctx *ctx, struct usm_file *f,
		 struct usm_ppage *pp);
void policy_insert(struct usm_file *f, struct usm_ppage *pp);
void policy_remove(struct usm_file *f, struct usm_ppage *pp);
struct usm_ppage *ppage_new(struct usm_file *f, uint64_t index);
uint64_t release_all_resv_locked(struct usm_ctx *ctx);
bool resv_steal_frame_locked(struct usm_ctx *ctx, usm_frame_t fr);
int pool_take_placed_locked(struct usm_ctx *ctx, usm_frame_t fr);
uint64_t resv_index_of_frame(struct usm_file *f, usm_frame_t fr,
			     struct usm_resv **out);
uint64_t resv_release_range(struct usm_ctx *ctx, struct usm_file *f,
			    struct usm_resv *r, uint64_t lo, uint64_t hi);
void swapped_count_dec(struct usm_ctx *ctx, struct usm_file *f);
struct usm_cstore *swp_store(struct usm_ctx *ctx, const void *e);

/* evict.c */
long arbiter_locked(struct usm_ctx *ctx, uint64_t need);
long balance_locked(struct usm_ctx *ctx, unsigned int flags);
long evict_file_locked(struct usm_ctx *ctx, struct usm_file *f,
		       uint64_t nr);
bool file_evictable(const struct usm_file *f);

#endif
