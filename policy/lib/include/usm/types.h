/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * usm/types.h - basic types shared by every part of libusmpolicy.
 *
 * A pool is made of 4 KiB frames, numbered 0..N-1 in the order their
 * chunks were added.  A file is made of 4 KiB pages, numbered by index.
 * A backing store is made of 4 KiB slots.
 */
#ifndef USM_TYPES_H
#define USM_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define USM_PAGE_SHIFT	12
#define USM_PAGE_SIZE	(1u << USM_PAGE_SHIFT)

/* Frames in one 2 MiB run (a PMD on x86-64). */
#define USM_HUGE_FRAMES	512u

/* Longest policy name (alloc, evict, store), without the NUL. */
#ifndef USM_NAME_MAX
#define USM_NAME_MAX	31
#endif

typedef uint64_t usm_frame_t;	/* frame number within the pool */
typedef uint64_t usm_slot_t;	/* slot number within a backing store */

#define USM_FRAME_NONE	UINT64_MAX
#define USM_SLOT_NONE	UINT64_MAX

/* Intrusive doubly linked list, for policies that keep queues of pages. */
struct usm_list {
	struct usm_list *next, *prev;
};

static inline void usm_list_init(struct usm_list *h)
{
	h->next = h->prev = h;
}

static inline int usm_list_empty(const struct usm_list *h)
{
	return h->next == h;
}

static inline void usm_list_add_between(struct usm_list *n,
					struct usm_list *prev,
					struct usm_list *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}

/* Add @n at the head (most recent end) of @h. */
static inline void usm_list_add(struct usm_list *n, struct usm_list *h)
{
	usm_list_add_between(n, h, h->next);
}

/* Add @n at the tail (oldest end) of @h. */
static inline void usm_list_add_tail(struct usm_list *n, struct usm_list *h)
{
	usm_list_add_between(n, h->prev, h);
}

static inline void usm_list_del(struct usm_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

#define usm_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#ifdef __cplusplus
}
#endif
#endif /* USM_TYPES_H */
