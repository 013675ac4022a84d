// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * t-threads - several threads malloc, realloc, calloc and free blocks of
 * random sizes (16 bytes to 1 MiB) and check that every block keeps the
 * pattern written into it: no overlap, no lost data.  Exit 0 = all good.
 *	t-threads [OPS]		operations per thread (60000)
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 4
#define SLOTS 512
static int OPS = 60000;

static int fails;

struct slot {
	unsigned char *p;
	size_t n;
	unsigned char v;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t pick_size(uint64_t *s)
{
	uint64_t r = rnd(s);

	switch (r % 8) {
	case 0: return 1 + r % (1 << 20);	/* large */
	case 1: case 2: return 1 + r % 65536;
	default: return 1 + r % 512;		/* small */
	}
}

static int intact(const struct slot *sl)
{
	/* First, last and a middle byte: cheap, and overlaps show up. */
	return !sl->n || (sl->p[0] == sl->v && sl->p[sl->n - 1] == sl->v &&
			  sl->p[sl->n / 2] == sl->v);
}

static void *worker(void *arg)
{
	uint64_t s = (uintptr_t)arg * 2654435761u + 1;
	struct slot sl[SLOTS] = { { 0 } };
	int i, bad = 0;

	for (i = 0; i < OPS; i++) {
		struct slot *x = &sl[rnd(&s) % SLOTS];
		size_t n = pick_size(&s);

		if (x->p && !intact(x))
			bad++;
		switch (rnd(&s) % 4) {
		case 0:
			free(x->p);
			x->p = NULL;
			x->n = 0;
			break;
		case 1:
			if (x->p) {
				unsigned char *q = realloc(x->p, n);
				size_t keep = n < x->n ? n : x->n;

				if (!q) {
					bad++;
					break;
				}
				if (keep && (q[0] != x->v || q[keep - 1] != x->v))
					bad++;
				x->p = q;
				x->n = n;
				memset(q, x->v, n);
				break;
			}
			/* fall through */
		case 2:
			free(x->p);
			x->p = calloc(1, n);
			if (!x->p || x->p[0] || x->p[n - 1] || x->p[n / 2])
				bad++;
			x->n = n;
			x->v = (unsigned char)rnd(&s);
			memset(x->p, x->v, n);
			break;
		default:
			free(x->p);
			x->p = malloc(n);
			x->n = n;
			x->v = (unsigned char)rnd(&s);
			if (!x->p || malloc_usable_size(x->p) < n)
				bad++;
			else
				memset(x->p, x->v, n);
		}
	}
	for (i = 0; i < SLOTS; i++) {
		if (sl[i].p && !intact(&sl[i]))
			bad++;
		free(sl[i].p);
	}
	__atomic_add_fetch(&fails, bad, __ATOMIC_RELAXED);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[NTHREADS];
	long i;

	if (argc > 1)
		OPS = atoi(argv[1]);
	for (i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)(i + 1));
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	if (fails)
		fprintf(stderr, "t-threads: %d bad blocks\n", fails);
	return fails ? 1 : 0;
}
