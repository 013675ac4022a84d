// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_pagemap.c - the per-file radix tree (pagemap.h) against a
 * brute-force reference: lookup, insert, delete, tags, next/prev. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "pagemap.h"

#define NREF	600

struct ref {
	uint64_t idx;
	unsigned int tags;	/* bit t: PM_DATA, PM_FRAME */
	int used;
};

static struct ref refs[NREF];

/* Entries are pointers into refs[] (never NULL). */
static void *entry_of(size_t i)
{
	return &refs[i];
}

static uint64_t pick_index(unsigned int *seed)
{
	static const uint64_t special[] = {
		0, 1, 63, 64, 65, 4095, 4096, 262143, 262144, 1ull << 36,
		(1ull << 36) - 1, 1ull << 63, UINT64_MAX, UINT64_MAX - 1,
		UINT64_MAX - 64,
	};
	unsigned int k = (unsigned int)rand_r(seed) % 4;

	if (k == 0)
		return special[(unsigned int)rand_r(seed) % 15];
	if (k == 1)
		return (uint64_t)rand_r(seed) % 200;
	if (k == 2)
		return (uint64_t)rand_r(seed) % 100000;
	return ((uint64_t)rand_r(seed) << 33) ^ ((uint64_t)rand_r(seed) << 2);
}

static int find_ref(uint64_t idx)
{
	for (int i = 0; i < NREF; i++)
		if (refs[i].used && refs[i].idx == idx)
			return i;
	return -1;
}

static uint64_t ref_next(uint64_t from, unsigned int tag, int *which)
{
	uint64_t best = PM_NONE;

	*which = -1;
	for (int i = 0; i < NREF; i++) {
		if (!refs[i].used || refs[i].idx < from)
			continue;
		if (tag != PM_PRESENT && !(refs[i].tags & (1u << tag)))
			continue;
		if (best == PM_NONE || refs[i].idx < best) {
			best = refs[i].idx;
			*which = i;
		}
	}
	return best;
}

static uint64_t ref_prev(uint64_t from, unsigned int tag, int *which)
{
	uint64_t best = 0;
	int found = 0;

	*which = -1;
	for (int i = 0; i < NREF; i++) {
		if (!refs[i].used || refs[i].idx > from)
			continue;
		if (tag != PM_PRESENT && !(refs[i].tags & (1u << tag)))
			continue;
		if (!found || refs[i].idx > best) {
			best = refs[i].idx;
			*which = i;
			found = 1;
		}
	}
	return found ? best : PM_NONE;
}

static void test_random(void **state)
{
	struct usm_pagemap pm;
	unsigned int seed = 4242;
	uint64_t count = 0;

	(void)state;
	usm_pm_init(&pm);
	for (int it = 0; it < 60000; it++) {
		unsigned int op = (unsigned int)rand_r(&seed) % 10;
		uint64_t idx = pick_index(&seed);
		int w = find_ref(idx);

		if (op < 3) {
			int slot = -1;

			for (int i = 0; i < NREF; i++)
				if (!refs[i].used) {
					slot = i;
					break;
				}
			if (slot < 0)
				continue;
			refs[slot].idx = idx;
			int r = usm_pm_insert(&pm, idx, entry_of((size_t)slot));
			if (idx == UINT64_MAX) {
				assert_int_equal(r, -ERANGE);
				continue;
			}
			if (w >= 0) {
				assert_int_equal(r, -EEXIST);
				continue;
			}
			assert_int_equal(r, 0);
			refs[slot].used = 1;
			refs[slot].tags = 0;
			count++;
		} else if (op < 5) {
			void *e = usm_pm_delete(&pm, idx);

			if (w < 0) {
				assert_null(e);
				continue;
			}
			assert_ptr_equal(e, entry_of((size_t)w));
			refs[w].used = 0;
			count--;
		} else if (op < 7) {
			unsigned int t = 1 + (unsigned int)rand_r(&seed) % 2;

			if (w < 0) {
				/* set/clear on absent entries are no-ops */
				usm_pm_tag_set(&pm, idx, t);
				assert_int_equal(usm_pm_tag_get(&pm, idx, t), 0);
				continue;
			}
			if (rand_r(&seed) & 1) {
				usm_pm_tag_set(&pm, idx, t);
				refs[w].tags |= 1u << t;
			} else {
				usm_pm_tag_clear(&pm, idx, t);
				refs[w].tags &= ~(1u << t);
			}
			assert_int_equal(usm_pm_tag_get(&pm, idx, t),
					 (refs[w].tags >> t) & 1);
		} else {
			unsigned int t = (unsigned int)rand_r(&seed) % PM_NTAGS;
			void *e = NULL;
			int which;
			uint64_t a = usm_pm_next(&pm, idx, t, &e);
			uint64_t b = ref_next(idx, t, &which);

			assert_int_equal(a, b);
			if (which >= 0)
				assert_ptr_equal(e, entry_of((size_t)which));
			a = usm_pm_prev(&pm, idx, t, &e);
			b = ref_prev(idx, t, &which);
			if (a != b)
				fprintf(stderr, "it %d prev(%llx, tag %u) = %llx, want %llx (tags %x)\n",
					it, (unsigned long long)idx, t, (unsigned long long)a,
					(unsigned long long)b, which >= 0 ? refs[which].tags : 0);
			assert_int_equal(a, b);
			if (which >= 0)
				assert_ptr_equal(e, entry_of((size_t)which));
			assert_ptr_equal(usm_pm_lookup(&pm, idx),
					 w >= 0 ? entry_of((size_t)w) : NULL);
		}
		assert_int_equal(pm.count, count);
	}
	/* Delete everything: the tree shrinks back to nothing. */
	for (int i = 0; i < NREF; i++)
		if (refs[i].used) {
			assert_ptr_equal(usm_pm_delete(&pm, refs[i].idx), entry_of((size_t)i));
			refs[i].used = 0;
		}
	assert_int_equal(pm.count, 0);
	assert_null(pm.root);
	assert_int_equal(pm.height, 0);
	assert_int_equal(usm_pm_next(&pm, 0, PM_PRESENT, NULL), PM_NONE);
	usm_pm_destroy(&pm);
}

static void test_replace_destroy(void **state)
{
	struct usm_pagemap pm;
	int a, b;

	(void)state;
	usm_pm_init(&pm);
	assert_int_equal(usm_pm_insert(&pm, 5, &a), 0);
	assert_int_equal(usm_pm_insert(&pm, 5, &b), -EEXIST);
	assert_int_equal(usm_pm_insert(&pm, 6, NULL), -EINVAL);
	usm_pm_tag_set(&pm, 5, PM_DATA);
	assert_ptr_equal(usm_pm_replace(&pm, 5, &b), &a);
	assert_ptr_equal(usm_pm_lookup(&pm, 5), &b);
	assert_int_equal(usm_pm_tag_get(&pm, 5, PM_DATA), 1);	/* tags kept */
	assert_null(usm_pm_replace(&pm, 7, &a));
	assert_int_equal(usm_pm_insert(&pm, UINT64_MAX, &a), -ERANGE);
	assert_int_equal(usm_pm_insert(&pm, UINT64_MAX - 1, &a), 0);
	assert_int_equal(usm_pm_next(&pm, 6, PM_PRESENT, NULL), UINT64_MAX - 1);
	assert_int_equal(usm_pm_prev(&pm, UINT64_MAX - 2, PM_PRESENT, NULL), 5);
	assert_int_equal(usm_pm_prev(&pm, UINT64_MAX, PM_PRESENT, NULL), UINT64_MAX - 1);
	usm_pm_destroy(&pm);	/* frees the nodes; valgrind/ASan check */
	assert_null(pm.root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_replace_destroy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
