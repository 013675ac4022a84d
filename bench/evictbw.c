// SPDX-License-Identifier: GPL-2.0-only
/*
 * evictbw - swap-out throughput of a usmfs mount, and the sequential write
 * bandwidth of the filesystem its swap file lives on (the baseline).
 *
 *   evictbw evict MNT -w WS_MIB [-p PASSES] [-S SWAPFILE] [-l LABEL]
 *   evictbw reclaim MNT -m MIB [-S SWAPFILE] [-l LABEL]
 *   evictbw base FILE -m MIB [-l LABEL]
 *
 * evict: writes MNT/evictbw.PID, WS_MIB MiB (a working set bigger than the
 * mount), PASSES times over, in 1 MiB pwrite()s, then fsync()s it.  A
 * sampler thread reads the mount's user.usm.stats (on MNT) every 5 ms; the
 * eviction window runs from the last sample before evictions started to
 * the sample where they last grew (after the writer ended, the daemon
 * still balances down to its low watermark: that is waited for, bounded).
 *   evict_MiBps   = evicted bytes / window  (the swap file's page cache)
 *   durable_MiBps = evicted bytes / (window + fsync of SWAPFILE)
 * The second is what the baseline's durable figure compares with: both end
 * with the bytes on the disk.
 *
 * reclaim: the eviction path alone, without a writer's FUSE traffic: writes
 * MIB MiB (that fit in the mount) to MNT/evictbw.PID, fsync()s it, then
 * times setxattr user.usm.reclaim=all on it (every page goes to the swap
 * file in the daemon's batches) and the fsync of SWAPFILE after it.
 *
 * base: writes MIB MiB to FILE (a fresh file, removed after) in 1 MiB
 * pwrite()s, then fdatasync()s it:
 *   buffered_MiBps = MiB / time of the writes
 *   durable_MiBps  = MiB / time of the writes and the fdatasync
 *
 * One CSV line each (no header):
 *   evict: LABEL,evict,ws_mib,written_mib,writer_s,evicted_mib,window_s,
 *          evict_MiBps,sync_s,durable_MiBps,swapins
 *   reclaim: LABEL,reclaim,0,written_mib,0,evicted_mib,reclaim_s,
 *          evict_MiBps,sync_s,durable_MiBps,0
 *   base:  LABEL,base,0,written_mib,write_s,0,0,buffered_MiBps,sync_s,
 *          durable_MiBps,0
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define MIB		(1UL << 20)
#define PAGE		4096UL
#define SAMPLE_NS	5000000L	/* 5 ms */
#define MAX_SAMPLES	(1 << 17)	/* 650 s at 5 ms */
#define SETTLE_S	0.3		/* evictions still for this long: done */
#define SETTLE_MAX_S	20.0

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The value of KEY= in a user.usm.stats string, or -1. */
static long long stat_field(const char *s, const char *key)
{
	size_t kl = strlen(key);
	const char *p = s;

	while ((p = strstr(p, key))) {
		if ((p == s || p[-1] == ' ') && p[kl] == '=')
			return strtoll(p + kl + 1, NULL, 10);
		p += kl;
	}
	return -1;
}

struct mstats {
	long long evictions, swapins, used, frames, high;
};

static int read_stats(const char *mnt, struct mstats *m)
{
	char buf[512];
	ssize_t n = getxattr(mnt, "user.usm.stats", buf, sizeof(buf) - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	m->evictions = stat_field(buf, "evictions");
	m->swapins = stat_field(buf, "swapins");
	m->used = stat_field(buf, "used");
	m->frames = stat_field(buf, "frames");
	m->high = stat_field(buf, "high");
	return m->evictions < 0 ? -EPROTO : 0;
}

struct sample {
	double t;
	long long ev;
};

static struct {
	const char *mnt;
	struct sample *s;
	atomic_size_t n;
	atomic_bool stop;
	int err;
} smp;

static void *sampler(void *arg)
{
	struct timespec ts = { 0, SAMPLE_NS };
	struct mstats m;

	(void)arg;
	while (!atomic_load(&smp.stop)) {
		size_t i = atomic_load(&smp.n);
		int r = read_stats(smp.mnt, &m);

		if (r) {
			smp.err = r;
			break;
		}
		if (i < MAX_SAMPLES) {
			smp.s[i].t = now_s();
			smp.s[i].ev = m.evictions;
			atomic_store(&smp.n, i + 1);
		}
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int write_all(int fd, const char *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Fill @buf with bytes that differ per pass and per page (no zero page). */
static void fill(char *buf, unsigned int pass, size_t mib)
{
	for (size_t o = 0; o < MIB; o += sizeof(uint64_t)) {
		uint64_t v = ((uint64_t)pass << 48) ^ ((uint64_t)mib << 20) ^ o ^
			     0x9e3779b97f4a7c15ULL;

		memcpy(buf + o, &v, sizeof(v));
	}
}

static double fsync_time(const char *path)
{
	int fd = open(path, O_RDONLY);
	double t0 = now_s(), t;

	if (fd < 0 || fsync(fd)) {
		fprintf(stderr, "evictbw: fsync %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	t = now_s() - t0;
	close(fd);
	return t;
}

static int run_evict(const char *mnt, size_t ws, unsigned int passes,
		     const char *swapfile, const char *label)
{
	char path[4096], *buf;
	struct mstats m0, m1;
	pthread_t th;
	double t0, t1, ta = 0, tb = 0, tsync = 0, last_change;
	long long e0, elast;
	size_t i, n, first = 0;
	int fd, r;

	if (read_stats(mnt, &m0)) {
		fprintf(stderr, "evictbw: %s: no user.usm.stats (not a usmfs mount root?)\n", mnt);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/evictbw.%d", mnt, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	buf = aligned_alloc(PAGE, MIB);
	smp.s = calloc(MAX_SAMPLES, sizeof(*smp.s));
	if (fd < 0 || !buf || !smp.s) {
		fprintf(stderr, "evictbw: %s: %s\n", path, strerror(errno));
		return 1;
	}
	smp.mnt = mnt;
	if (pthread_create(&th, NULL, sampler, NULL)) {
		fprintf(stderr, "evictbw: cannot start the sampler\n");
		return 1;
	}
	t0 = now_s();
	for (unsigned int p = 0; p < passes; p++) {
		for (size_t mb = 0; mb < ws; mb++) {
			fill(buf, p, mb);
			r = write_all(fd, buf, MIB, (off_t)(mb * MIB));
			if (r) {
				fprintf(stderr, "evictbw: write %s: %s\n", path, strerror(-r));
				return 1;
			}
		}
	}
	if (fsync(fd)) {
		fprintf(stderr, "evictbw: fsync %s: %s\n", path, strerror(errno));
		return 1;
	}
	t1 = now_s();

	/* The daemon balances on after the writer: wait until evictions
	 * stay put and the pool is back under its high watermark. */
	last_change = now_s();
	elast = -1;
	for (;;) {
		struct timespec ts = { 0, 20000000L };
		double t = now_s();

		if (read_stats(mnt, &m1))
			break;
		if (m1.evictions != elast) {
			elast = m1.evictions;
			last_change = t;
		} else if (t - last_change >= SETTLE_S &&
			   m1.used * 100 <= m1.frames * m1.high) {
			break;
		}
		if (t - t1 > SETTLE_MAX_S)
			break;
		nanosleep(&ts, NULL);
	}
	atomic_store(&smp.stop, true);
	pthread_join(th, NULL);
	if (smp.err) {
		fprintf(stderr, "evictbw: sampler: %s\n", strerror(-smp.err));
		return 1;
	}

	/* The window: last sample before the first eviction .. the sample
	 * of the last increase. */
	n = atomic_load(&smp.n);
	e0 = m0.evictions;
	for (i = 0; i < n; i++)
		if (smp.s[i].ev > e0) {
			first = i;
			break;
		}
	if (i == n || n < 2) {
		fprintf(stderr, "evictbw: no eviction seen (evictions=%lld)\n", e0);
		return 1;
	}
	ta = first ? smp.s[first - 1].t : t0;
	tb = smp.s[first].t;
	for (i = first + 1; i < n; i++)
		if (smp.s[i].ev > smp.s[i - 1].ev)
			tb = smp.s[i].t;
	elast = smp.s[n - 1].ev;
	if (m1.evictions > elast)
		elast = m1.evictions;

	if (swapfile && (tsync = fsync_time(swapfile)) < 0)
		return 1;
	{
		double evmib = (double)(elast - e0) * PAGE / MIB;
		double win = tb - ta;

		printf("%s,evict,%zu,%zu,%.3f,%.1f,%.3f,%.1f,%.3f,%.1f,%lld\n",
		       label, ws, ws * passes, t1 - t0, evmib, win,
		       win > 0 ? evmib / win : 0, tsync,
		       win + tsync > 0 ? evmib / (win + tsync) : 0,
		       m1.swapins - m0.swapins);
	}
	close(fd);
	unlink(path);
	free(buf);
	free(smp.s);
	return 0;
}

static int run_reclaim(const char *mnt, size_t mib, const char *swapfile,
		       const char *label)
{
	char path[4096], *buf = aligned_alloc(PAGE, MIB);
	struct mstats m0, m1;
	double t0, t1, tsync = 0;
	int fd, r;

	snprintf(path, sizeof(path), "%s/evictbw.%d", mnt, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !buf || read_stats(mnt, &m0)) {
		fprintf(stderr, "evictbw: %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (size_t mb = 0; mb < mib; mb++) {
		fill(buf, 0, mb);
		r = write_all(fd, buf, MIB, (off_t)(mb * MIB));
		if (r) {
			fprintf(stderr, "evictbw: write %s: %s\n", path, strerror(-r));
			return 1;
		}
	}
	if (fsync(fd) || read_stats(mnt, &m0)) {
		fprintf(stderr, "evictbw: fsync %s: %s\n", path, strerror(errno));
		return 1;
	}
	t0 = now_s();
	if (fsetxattr(fd, "user.usm.reclaim", "all", 3, 0)) {
		fprintf(stderr, "evictbw: reclaim %s: %s\n", path, strerror(errno));
		return 1;
	}
	t1 = now_s();
	if (swapfile && (tsync = fsync_time(swapfile)) < 0)
		return 1;
	if (read_stats(mnt, &m1))
		return 1;
	{
		double evmib = (double)(m1.evictions - m0.evictions) * PAGE / MIB;

		printf("%s,reclaim,0,%zu,0,%.1f,%.3f,%.1f,%.3f,%.1f,0\n", label,
		       mib, evmib, t1 - t0, evmib / (t1 - t0), tsync,
		       evmib / (t1 - t0 + tsync));
	}
	close(fd);
	unlink(path);
	free(buf);
	return 0;
}

static int run_base(const char *file, size_t mib, const char *label)
{
	char *buf = aligned_alloc(PAGE, MIB);
	double t0, t1, t2;
	int fd, r;

	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !buf) {
		fprintf(stderr, "evictbw: %s: %s\n", file, strerror(errno));
		return 1;
	}
	t0 = now_s();
	for (size_t mb = 0; mb < mib; mb++) {
		fill(buf, 0, mb);
		r = write_all(fd, buf, MIB, (off_t)(mb * MIB));
		if (r) {
			fprintf(stderr, "evictbw: write %s: %s\n", file, strerror(-r));
			unlink(file);
			return 1;
		}
	}
	t1 = now_s();
	if (fdatasync(fd)) {
		fprintf(stderr, "evictbw: fdatasync %s: %s\n", file, strerror(errno));
		unlink(file);
		return 1;
	}
	t2 = now_s();
	close(fd);
	unlink(file);
	free(buf);
	printf("%s,base,0,%zu,%.3f,0,0,%.1f,%.3f,%.1f,0\n", label, mib, t1 - t0,
	       (double)mib / (t1 - t0), t2 - t1, (double)mib / (t2 - t0));
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: evictbw evict MNT -w WS_MIB [-p PASSES] [-S SWAPFILE] [-l LABEL]\n"
		"       evictbw reclaim MNT -m MIB [-S SWAPFILE] [-l LABEL]\n"
		"       evictbw base FILE -m MIB [-l LABEL]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *label = "usmfs", *swapfile = NULL, *mode, *target;
	size_t ws = 0, mib = 0;
	unsigned int passes = 1;
	int opt;

	if (argc < 3)
		usage();
	mode = argv[1];
	target = argv[2];
	optind = 3;
	while ((opt = getopt(argc, argv, "w:p:S:m:l:")) != -1) {
		switch (opt) {
		case 'w': ws = strtoul(optarg, NULL, 0); break;
		case 'p': passes = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'S': swapfile = optarg; break;
		case 'm': mib = strtoul(optarg, NULL, 0); break;
		case 'l': label = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (!strcmp(mode, "evict") && ws && passes)
		return run_evict(target, ws, passes, swapfile, label);
	if (!strcmp(mode, "reclaim") && mib)
		return run_reclaim(target, mib, swapfile, label);
	if (!strcmp(mode, "base") && mib)
		return run_base(target, mib, label);
	usage();
	return 2;
}
