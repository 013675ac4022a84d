/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * parse_test_util.h - for test_parse/test_config: make sure the built-in
 * placement policy names are registered.  Until alloc.c is in the tree the
 * registry has no placement tables (it references them weakly); then we
 * register stand-ins under the same names, since these tests only need the
 * names to be known.  Once the real tables exist this does nothing.
 */
#ifndef PARSE_TEST_UTIL_H
#define PARSE_TEST_UTIL_H

#include <errno.h>
#include <usm/policy.h>
#include <usm/xattr-defs.h>

static int standin_place(struct usm_ctx *ctx, struct usm_file *file,
			 uint64_t index, usm_frame_t *frame)
{
	(void)ctx; (void)file; (void)index; (void)frame;
	return -ENOSPC;
}

#define STANDIN_ALLOC(n) { .name = n, .place = standin_place },
static const struct usm_alloc_ops standin_allocs[] = {
	USM_ALLOC_BUILTINS(STANDIN_ALLOC)
};
#undef STANDIN_ALLOC

static inline int ensure_builtin_allocs(void)
{
	size_t i;

	for (i = 0; i < sizeof(standin_allocs) / sizeof(standin_allocs[0]); i++)
		if (!usm_find_alloc(standin_allocs[i].name) &&
		    usm_register_alloc(&standin_allocs[i]))
			return -1;
	return 0;
}

#endif
