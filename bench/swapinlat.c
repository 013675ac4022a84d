// SPDX-License-Identifier: GPL-2.0-only
/*
 * swapinlat - read latency on a usmfs FUSE mount under memory pressure,
 * split into page-cache hits and reads that had to be swapped in.
 *
 *   swapinlat MNT -w WS_MIB [-z THETA] [-d SECONDS] [-l LABEL]
 *
 * Writes MNT/swapinlat.PID, WS_MIB MiB (a working set bigger than the
 * mount), waits for the daemon's balancing to settle, then reads random
 * 4 KiB pages for SECONDS (5) with pread(), pages chosen by Zipf(THETA)
 * (1.1) over a fixed shuffle of the file's pages.  Before each read,
 * mincore() on a mapping of the file (never touched) says whether the page
 * is in the kernel's page cache: if it is, the read is a hit; if not, the
 * read goes to the daemon, which on this mount means a swap-in (the daemon
 * drops the kernel's copy only when it evicts the page, and the host has
 * no memory pressure of its own).  The mount's swapins count over the same
 * reads checks that: agree = swapins / misses should be close to 1 (the
 * file is read with POSIX_FADV_RANDOM: no readahead brings in pages that
 * were not asked for).
 *
 * One CSV line (no header):
 *   LABEL,ws_mib,reads,miss_pct,hit_p50_us,hit_p99_us,swapin_p50_us,
 *   swapin_p90_us,swapin_p99_us,swapin_p999_us,evictions,swapins,agree
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define MIB		(1UL << 20)
#define PAGE		4096UL
#define MAX_SAMPLES	(8UL << 20)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static long long usm_stat(const char *path, const char *key)
{
	char buf[512];
	size_t kl = strlen(key);
	ssize_t n = getxattr(path, "user.usm.stats", buf, sizeof(buf) - 1);
	const char *p = buf;

	if (n < 0)
		return -1;
	buf[n] = '\0';
	while ((p = strstr(p, key))) {
		if ((p == buf || p[-1] == ' ') && p[kl] == '=')
			return strtoll(p + kl + 1, NULL, 10);
		p += kl;
	}
	return -1;
}

/* xorshift64*: the same sequence on every run. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static double rnd01(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (double)((rng * 2685821657736338717ULL) >> 11) / (double)(1ULL << 53);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static double pct_us(const uint64_t *v, size_t n, double q)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return (double)v[i < n ? i : n - 1] / 1000.0;
}

int main(int argc, char **argv)
{
	const char *label = "usmfs", *mnt;
	size_t ws = 0, npages, nhit = 0, nmiss = 0, *perm;
	double theta = 1.1, secs = 5, *cdf, sum = 0;
	uint64_t *hit, *miss, end;
	long long e0, s0, last = -1;
	char path[4096], *buf, *map;
	int opt, fd;

	while ((opt = getopt(argc, argv, "w:z:d:l:")) != -1) {
		switch (opt) {
		case 'w': ws = strtoul(optarg, NULL, 0); break;
		case 'z': theta = atof(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'l': label = optarg; break;
		default:
			fprintf(stderr, "usage: swapinlat MNT -w WS_MIB [-z THETA] [-d SECONDS] [-l LABEL]\n");
			return 2;
		}
	}
	if (optind != argc - 1 || !ws || theta <= 0 || secs <= 0) {
		fprintf(stderr, "usage: swapinlat MNT -w WS_MIB [-z THETA] [-d SECONDS] [-l LABEL]\n");
		return 2;
	}
	mnt = argv[optind];
	if (usm_stat(mnt, "swapins") < 0) {
		fprintf(stderr, "swapinlat: %s: no user.usm.stats (not a usmfs mount root?)\n", mnt);
		return 1;
	}
	npages = ws * MIB / PAGE;
	snprintf(path, sizeof(path), "%s/swapinlat.%d", mnt, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	buf = aligned_alloc(PAGE, MIB);
	perm = malloc(npages * sizeof(*perm));
	cdf = malloc(npages * sizeof(*cdf));
	hit = malloc(MAX_SAMPLES * sizeof(*hit));
	miss = malloc(MAX_SAMPLES * sizeof(*miss));
	if (fd < 0 || !buf || !perm || !cdf || !hit || !miss) {
		fprintf(stderr, "swapinlat: %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (size_t m = 0; m < ws; m++) {
		for (size_t o = 0; o < MIB; o += 8)
			memcpy(buf + o, &(uint64_t){ m * MIB + o + 1 }, 8);
		if (pwrite(fd, buf, MIB, (off_t)(m * MIB)) != (ssize_t)MIB) {
			fprintf(stderr, "swapinlat: write %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	fsync(fd);
	/* the daemon's balancing after the writes */
	for (int i = 0, still = 0; i < 500 && still < 10; i++) {
		struct timespec ts = { 0, 20000000L };
		long long e = usm_stat(mnt, "evictions");

		still = e == last ? still + 1 : 0;
		last = e;
		nanosleep(&ts, NULL);
	}
	/* no readahead: a read brings in its own page only, as fio's
	 * random jobs ask too (fadvise_hint) */
	posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	map = mmap(NULL, ws * MIB, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		fprintf(stderr, "swapinlat: mmap %s: %s\n", path, strerror(errno));
		return 1;
	}

	/* rank r (0 = hottest) lives at page perm[r] */
	for (size_t i = 0; i < npages; i++)
		perm[i] = i;
	for (size_t i = npages - 1; i > 0; i--) {
		size_t j = (size_t)(rnd01() * (double)(i + 1)), t;

		if (j > i)
			j = i;
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (size_t i = 0; i < npages; i++) {
		sum += 1.0 / pow((double)(i + 1), theta);
		cdf[i] = sum;
	}

	e0 = usm_stat(mnt, "evictions");
	s0 = usm_stat(mnt, "swapins");
	end = now_ns() + (uint64_t)(secs * 1e9);
	while (now_ns() < end && nhit < MAX_SAMPLES && nmiss < MAX_SAMPLES) {
		double u = rnd01() * sum;
		size_t lo = 0, hi = npages - 1, pg;
		unsigned char vec = 0;
		uint64_t t0, t1;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		pg = perm[lo];
		if (mincore(map + pg * PAGE, PAGE, &vec)) {
			fprintf(stderr, "swapinlat: mincore: %s\n", strerror(errno));
			return 1;
		}
		t0 = now_ns();
		if (pread(fd, buf, PAGE, (off_t)(pg * PAGE)) != (ssize_t)PAGE) {
			fprintf(stderr, "swapinlat: read %s: %s\n", path, strerror(errno));
			return 1;
		}
		t1 = now_ns();
		if (*(uint64_t *)buf != pg * PAGE + 1) {
			fprintf(stderr, "swapinlat: page %zu: wrong data\n", pg);
			return 1;
		}
		if (vec & 1)
			hit[nhit++] = t1 - t0;
		else
			miss[nmiss++] = t1 - t0;
	}
	{
		long long ev = usm_stat(mnt, "evictions") - e0;
		long long si = usm_stat(mnt, "swapins") - s0;
		size_t n = nhit + nmiss;

		qsort(hit, nhit, sizeof(*hit), cmp_u64);
		qsort(miss, nmiss, sizeof(*miss), cmp_u64);
		printf("%s,%zu,%zu,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%lld,%lld,%.2f\n",
		       label, ws, n, n ? 100.0 * (double)nmiss / (double)n : 0,
		       pct_us(hit, nhit, 0.5), pct_us(hit, nhit, 0.99),
		       pct_us(miss, nmiss, 0.5), pct_us(miss, nmiss, 0.9),
		       pct_us(miss, nmiss, 0.99), pct_us(miss, nmiss, 0.999),
		       ev, si, nmiss ? (double)si / (double)nmiss : 0);
	}
	munmap(map, ws * MIB);
	close(fd);
	unlink(path);
	free(buf);
	free(perm);
	free(cdf);
	free(hit);
	free(miss);
	return 0;
}
