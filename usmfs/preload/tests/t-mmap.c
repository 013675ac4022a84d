// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * t-mmap - the interposed mmap family keeps anonymous-memory semantics.
 * Run with the preload; "t-mmap DIR" also checks that the large mappings
 * are backed by a file in DIR (per /proc/self/maps).  Exit 0 = all good.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MB (1UL << 20)
static int fails;

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "t-mmap:%d: %s\n", \
	__LINE__, #c); fails++; } } while (0)

/* 1 if [p, p+len) is mapped from a file under @dir. */
static int in_dir(void *p, const char *dir)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		char *path = strchr(line, '/');

		if (sscanf(line, "%lx-%lx", &a, &b) == 2 &&
		    (uintptr_t)p >= a && (uintptr_t)p < b && path &&
		    !strncmp(path, dir, strlen(dir)))
			found = 1;
	}
	fclose(f);
	return found;
}

static int all(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : NULL;
	unsigned char *a, *b, *c;
	void *small;

	a = mmap(NULL, 8 * MB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(a != MAP_FAILED);
	CHECK(all(a, 8 * MB, 0));		/* zero-filled */
	memset(a, 0xa5, 8 * MB);
	if (dir)
		CHECK(in_dir(a, dir));

	/* Below USMFS_MIN_SIZE: left to the kernel. */
	small = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(small != MAP_FAILED);
	if (dir) {	/* taken only if USMFS_MIN_SIZE allows 64K */
		const char *min = getenv("USMFS_MIN_SIZE");
		int taken = min && (!strcmp(min, "64K") || !strcmp(min, "64k"));

		CHECK(in_dir(small, dir) == taken);
	}
	munmap(small, 64 << 10);

	/* madvise(DONTNEED) zeroes, like anonymous memory. */
	CHECK(madvise(a + MB, MB, MADV_DONTNEED) == 0);
	CHECK(all(a + MB, MB, 0));
	CHECK(all(a, MB, 0xa5) && all(a + 2 * MB, 6 * MB, 0xa5));

	/* Partial munmap of the head, then the tail still holds its data. */
	CHECK(munmap(a, 2 * MB) == 0);
	CHECK(all(a + 2 * MB, 6 * MB, 0xa5));

	/* mremap: grow (in place or moved), data kept, new part zero. */
	b = mremap(a + 2 * MB, 6 * MB, 12 * MB, MREMAP_MAYMOVE);
	CHECK(b != MAP_FAILED);
	CHECK(all(b, 6 * MB, 0xa5));
	CHECK(all(b + 6 * MB, 6 * MB, 0));
	memset(b + 6 * MB, 0x5a, 6 * MB);

	/* A second region right after, so that b cannot grow in place. */
	c = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(c != MAP_FAILED);
	memset(c, 0x3c, 4 * MB);
	b = mremap(b, 12 * MB, 40 * MB, MREMAP_MAYMOVE);
	CHECK(b != MAP_FAILED);
	CHECK(all(b, 6 * MB, 0xa5) && all(b + 6 * MB, 6 * MB, 0x5a));
	CHECK(all(b + 12 * MB, 28 * MB, 0));
	CHECK(all(c, 4 * MB, 0x3c));
	if (dir)
		CHECK(in_dir(b, dir));

	/* Shrink in place. */
	CHECK(mremap(b, 40 * MB, 3 * MB, 0) == b);
	CHECK(all(b, 3 * MB, 0xa5));

	/* Without MAYMOVE a blocked growth fails with ENOMEM (or succeeds
	 * in place); it never moves. */
	{
		void *r = mremap(c, 4 * MB, 64 * MB, 0);

		CHECK(r == MAP_FAILED || r == c);
	}

	/* Reuse after munmap starts zeroed. */
	CHECK(munmap(b, 3 * MB) == 0);
	CHECK(munmap(c, 4 * MB) == 0);
	a = mmap(NULL, 16 * MB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(a != MAP_FAILED && all(a, 16 * MB, 0));

	/* mprotect works on our regions; munmap restores RW for reuse. */
	CHECK(mprotect(a, MB, PROT_READ) == 0);
	CHECK(munmap(a, 16 * MB) == 0);
	a = mmap(NULL, 16 * MB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(a != MAP_FAILED);
	memset(a, 1, 16 * MB);
	CHECK(munmap(a, 16 * MB) == 0);

	/* malloc: small, large, realloc growth keeps data, calloc zeroes. */
	{
		char *s[1000], *big;
		size_t i;

		for (i = 0; i < 1000; i++) {
			s[i] = malloc(i * 7 + 1);
			CHECK(s[i] != NULL);
			memset(s[i], (int)(i & 0xff), i * 7 + 1);
		}
		for (i = 0; i < 1000; i++) {
			CHECK(all((unsigned char *)s[i], i * 7 + 1, i & 0xff));
			free(s[i]);
		}
		big = malloc(3 * MB);
		CHECK(big != NULL);
		if (dir)
			CHECK(in_dir(big, dir));
		memset(big, 7, 3 * MB);
		big = realloc(big, 30 * MB);
		CHECK(big && all((unsigned char *)big, 3 * MB, 7));
		free(big);
		big = calloc(5, MB);
		CHECK(big && all((unsigned char *)big, 5 * MB, 0));
		free(big);
		CHECK(posix_memalign((void **)&big, 1 << 20, 100) == 0 &&
		      ((uintptr_t)big & ((1 << 20) - 1)) == 0);
		free(big);
		big = aligned_alloc(4096, 5000);
		CHECK(big && ((uintptr_t)big & 4095) == 0);
		CHECK(malloc_usable_size(big) >= 5000);
		free(big);
	}
	if (fails)
		fprintf(stderr, "t-mmap: %d checks failed\n", fails);
	return fails ? 1 : 0;
}
