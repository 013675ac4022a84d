/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * usm/pool.h - the frame allocator.
 *
 * A pool is a list of chunks of physically contiguous frames (the kernel
 * takes its pool in chunks of 2..64 MiB; the FUSE daemon has one chunk).
 * Frames are numbered 0..N-1 in the order the chunks were added; a run of
 * frames is contiguous only inside one chunk.  Every operation is
 * O(log N) (a hierarchical bitmap): no scan per page.
 *
 * The pool is not locked: its owner (a usm_ctx) serialises calls.
 */
#ifndef USM_POOL_H
#define USM_POOL_H

#include <usm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct usm_pool;

struct usm_pool *usm_pool_new(void);
void usm_pool_free(struct usm_pool *pool);

/* Append a chunk of @nr frames.  Returns its first frame number in
 * *@first.  0, -EINVAL (nr == 0 or overflow), -ENOMEM. */
int usm_pool_add_chunk(struct usm_pool *pool, uint64_t nr, usm_frame_t *first);

uint64_t usm_pool_nr_frames(const struct usm_pool *pool);
uint64_t usm_pool_nr_free(const struct usm_pool *pool);
size_t usm_pool_nr_chunks(const struct usm_pool *pool);

/* 1 if @f is free, 0 if used, -ERANGE if not in the pool. */
int usm_pool_is_free(const struct usm_pool *pool, usm_frame_t f);

/* Mark a frame chosen elsewhere (by the kernel) as used.
 * 0, -ERANGE (not in pool), -EBUSY (already used). */
int usm_pool_take(struct usm_pool *pool, usm_frame_t f);

/* Return a frame.  0, -ERANGE, -EINVAL (already free). */
int usm_pool_put(struct usm_pool *pool, usm_frame_t f);

/* Take the first free frame at or after @from, wrapping around.
 * 0 and *@out, or -ENOSPC. */
int usm_pool_alloc_from(struct usm_pool *pool, usm_frame_t from,
			usm_frame_t *out);

/* Take @nr free frames that are contiguous within one chunk, the first
 * aligned to @align frames (a power of two; 1 = any), lowest such run
 * first.  0 and *@out, or -ENOSPC, -EINVAL.
 * Exactly the lowest when @nr is a power of two and @align >= @nr (the
 * runs placement asks for); otherwise the lowest fully free block of
 * max(@nr, @align) rounded up to a power of two is preferred, and a
 * slower search finds any other run when there is no such block. */
int usm_pool_alloc_run(struct usm_pool *pool, uint64_t nr, uint64_t align,
		       usm_frame_t *out);

/* The chunk that holds @f: its first frame and length.  0 or -ERANGE. */
int usm_pool_chunk_of(const struct usm_pool *pool, usm_frame_t f,
		      usm_frame_t *first, uint64_t *nr);

/* Debug/test check of the internal invariants: 0 or -EUCLEAN. */
int usm_pool_check(const struct usm_pool *pool);

#ifdef __cplusplus
}
#endif
#endif /* USM_POOL_H */
