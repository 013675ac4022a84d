// SPDX-License-Identifier: GPL-2.0-only
/*
 * faultbench - page-fault cost of a file mapped from a directory.
 *
 *   faultbench DIR [-s MIB] [-r REPS] [-l LABEL] [-H] [-M]
 *
 * Creates DIR/faultbench.PID of MIB MiB, maps it MAP_SHARED at a 2 MiB
 * aligned address and measures:
 *   first  - first touch (a write to every 4 KiB page of a fresh file);
 *   refault - the same pages again through a new mapping (the pages are
 *            resident, only the page tables are new).
 * Each as microseconds per 4 KiB page and per 2 MiB of memory made
 * accessible (the same touches, divided per 2 MiB: with 2 MiB mappings one
 * fault covers it).  -H: DIR is hugetlbfs (size rounded to 2 MiB).  -M:
 * madvise(MADV_HUGEPAGE) each mapping (where the kernel's THP setting is
 * "madvise", a filesystem's 2 MiB mappings need it).
 * Prints one CSV line per measure: label,measure,us_per_4k,us_per_2m,faults
 * where faults is the minor+major fault count seen by the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PAGE	4096UL
#define HUGE	(2UL << 20)

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static long faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

static int madv_huge;

/* Map @len bytes of @fd at a 2 MiB aligned address. */
static char *map_aligned(int fd, size_t len)
{
	char *area, *p;
	size_t off;

	area = mmap(NULL, len + HUGE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		return NULL;
	off = (HUGE - ((uintptr_t)area & (HUGE - 1))) & (HUGE - 1);
	p = mmap(area + off, len, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		munmap(area, len + HUGE);
		return NULL;
	}
	if (off)
		munmap(area, off);
	munmap(p + len, HUGE - off);
	if (madv_huge && madvise(p, len, MADV_HUGEPAGE))
		fprintf(stderr, "faultbench: MADV_HUGEPAGE: %s (going on)\n",
			strerror(errno));
	return p;
}

static double touch(char *p, size_t len, unsigned char v)
{
	double t0 = now_us();

	for (size_t o = 0; o < len; o += PAGE)
		((volatile char *)p)[o] = (char)v;
	return now_us() - t0;
}

static void report(const char *label, const char *what, double us,
		   size_t len, long nflt)
{
	double pages = (double)len / PAGE;

	printf("%s,%s,%.4f,%.2f,%ld\n", label, what, us / pages,
	       us / ((double)len / HUGE), nflt);
}

int main(int argc, char **argv)
{
	size_t mib = 256, len;
	int reps = 3, opt, hugetlb = 0;
	const char *label = "fs";
	char path[4096];
	double best_first = 0, best_refault = 0;
	long flt_first = 0, flt_refault = 0;

	while ((opt = getopt(argc, argv, "s:r:l:HM")) != -1) {
		switch (opt) {
		case 's': mib = strtoul(optarg, NULL, 0); break;
		case 'r': reps = atoi(optarg); break;
		case 'l': label = optarg; break;
		case 'H': hugetlb = 1; break;
		case 'M': madv_huge = 1; break;
		default:
			fprintf(stderr, "usage: faultbench DIR [-s MIB] [-r REPS] [-l LABEL] [-H] [-M]\n");
			return 2;
		}
	}
	if (optind != argc - 1 || mib == 0 || reps < 1) {
		fprintf(stderr, "usage: faultbench DIR [-s MIB] [-r REPS] [-l LABEL] [-H] [-M]\n");
		return 2;
	}
	len = mib << 20;
	if (hugetlb)
		len = (len + HUGE - 1) & ~(HUGE - 1);
	snprintf(path, sizeof(path), "%s/faultbench.%d", argv[optind], getpid());

	for (int r = 0; r < reps; r++) {
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		char *p;
		double us;
		long f0;

		if (fd < 0 || ftruncate(fd, (off_t)len) < 0) {
			fprintf(stderr, "faultbench: %s: %s\n", path, strerror(errno));
			return 1;
		}
		p = map_aligned(fd, len);
		if (!p) {
			fprintf(stderr, "faultbench: mmap %s: %s\n", path, strerror(errno));
			return 1;
		}
		f0 = faults();
		us = touch(p, len, (unsigned char)(r + 1));
		if (r == 0 || us < best_first) {
			best_first = us;
			flt_first = faults() - f0;
		}
		munmap(p, len);

		p = map_aligned(fd, len);
		if (!p) {
			fprintf(stderr, "faultbench: mmap %s: %s\n", path, strerror(errno));
			return 1;
		}
		f0 = faults();
		us = touch(p, len, (unsigned char)(r + 2));
		if (r == 0 || us < best_refault) {
			best_refault = us;
			flt_refault = faults() - f0;
		}
		if (((volatile char *)p)[len - PAGE] != (char)(r + 2)) {
			fprintf(stderr, "faultbench: data check failed\n");
			return 1;
		}
		munmap(p, len);
		close(fd);
		unlink(path);
	}
	report(label, "first", best_first, len, flt_first);
	report(label, "refault", best_refault, len, flt_refault);
	return 0;
}
