// SPDX-License-Identifier: GPL-2.0-only
/*
 * evictlat - fault latency on resident pages of a usmfs file, idle and
 * while eviction of OTHER files runs.
 *
 *   evictlat MNT [-r HOT_MIB] [-s STREAM_MIB] [-d SECONDS] [-P PRIO]
 *                [-C CONTROL_DIR] [-S STATS_FILE] [-l LABEL] [-T] [-v]
 *
 * A hot file MNT/evictlat-hot.PID of HOT_MIB MiB (8) is written, given
 * user.usm.prio=PRIO (7: the arbiter evicts lower classes first; -P -1
 * leaves it alone) and mapped MAP_SHARED read-only.  A round drops the
 * mapping's page table entries (madvise MADV_DONTNEED: the pages stay in
 * the file) and reads one byte every 64 KiB in a shuffled order, so each
 * read is one minor fault (a 64 KiB stride: fault-around maps at most 16
 * pages per fault; MADV_NOHUGEPAGE: no 2 MiB mapping), timed with
 * clock_gettime.
 *
 * A child streams 1 MiB writes over STREAM_MIB MiB (128: twice a 64 MiB
 * mount) of other files in MNT, round and round, so that the daemon evicts
 * without pause.  Once evictions are seen it is stopped (SIGSTOP), and the
 * phases take turns in slices of 0.25 s until each had SECONDS (3):
 *   idle     the child stopped and the daemon's balancing settled
 *   busy     the child running (SIGCONT): continuous eviction
 *   control  (with -C) a second child writing the same way to CONTROL_DIR
 *            (another usmfs mount, big enough never to evict): the same
 *            work without eviction, which tells how much of busy is only
 *            a writer and its filesystem keeping the machine busy
 * The mount's evictions come from user.usm.stats on MNT (the FUSE daemon
 * has it) and from the module's stats file (-S, by default
 * /sys/kernel/debug/usmfs/pool: its "mount dev=MAJ:MIN ... evictions=N"
 * line for MNT), the larger of the two; with neither, from the sum of the
 * streaming files' own user.usm.stats.
 * With -T the child empties each file (ftruncate) before writing it
 * again, so that every pass allocates new pages: on the module an
 * overwrite of a swapped page first brings it back, and the writer would
 * then mostly swap in rather than make the server evict.
 * Before the phases the hot file is read whole again (the stream's start
 * may have taken some of it), and before each slice the pages it times.
 * A busy slice starts only once the mount's evictions grow again (waited
 * for, up to 3 s), so that it runs while the server evicts.  Exits 4, after printing, when the busy
 * phase saw no eviction or the hot file lost pages during the phases: the
 * figure is then not valid.
 * Taking turns puts the host's own noise into every phase alike; what a
 * burst of load on a shared host does to a few slices is then taken out
 * by the slice figures: the p50 and p99 of each slice, and their median
 * over the phase's slices.
 * Prints CSV lines (no header):
 *   LABEL,PHASE,touches,faults_per_touch,p50_ns,p90_ns,p99_ns,p999_ns,
 *   mean_ns,evictions,hot_evictions,slice_p50_ns,slice_p99_ns
 * where p50..p999 are over all the phase's reads, evictions is the mount's
 * count during the phase's slices and hot_evictions the hot file's own (it
 * should stay 0), slice_* the medians of the slices' percentiles; then
 *   LABEL,ratio,busy/idle p50,busy/idle p99,control/idle p50,control/idle p99
 * from the slice figures.
 */
#define _GNU_SOURCE	/* syncfs */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define MIB		(1UL << 20)
#define PAGE		4096UL
#define STRIDE		(16 * PAGE)
#define MAX_SAMPLES	(4UL << 20)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

/* KEY= of a user.usm.stats string at @path, or -1. */
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

#define STREAM_FILES	4

static void stream_path(char *buf, size_t len, const char *dir, pid_t parent,
			int i)
{
	snprintf(buf, len, "%s/evictlat-stream.%d.%d", dir, (int)parent, i);
}

static const char *stats_file = "/sys/kernel/debug/usmfs/pool";

/* evictions= of @mnt's "mount dev=MAJ:MIN" line in the module's stats
 * file, or -1. */
static long long module_evictions(const char *mnt)
{
	char want[64], line[512], *p;
	long long e = -1;
	struct stat sb;
	FILE *f;

	if (stat(mnt, &sb))
		return -1;
	snprintf(want, sizeof(want), "mount dev=%u:%u ", major(sb.st_dev),
		 minor(sb.st_dev));
	f = fopen(stats_file, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)) &&
		    (p = strstr(line, " evictions=")))
			e = strtoll(p + 11, NULL, 10);
	fclose(f);
	return e;
}

/* Evictions on the mount so far: the larger of the root's figure and the
 * module's stats file (a module may not count in one of them yet), else
 * the streaming files' own (the child of this process streams into @mnt). */
static long long mount_evictions(const char *mnt)
{
	long long e = usm_stat(mnt, "evictions"), m = module_evictions(mnt);
	long long sum = 0;
	char path[4096];

	if (e >= 0 || m >= 0)
		return e > m ? e : m;
	for (int i = 0; i < STREAM_FILES; i++) {
		stream_path(path, sizeof(path), mnt, getpid(), i);
		e = usm_stat(path, "evictions");
		if (e > 0)
			sum += e;
	}
	return sum;
}

static int write_file(const char *path, size_t mib, int seed)
{
	char *buf = malloc(MIB);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || !buf) {
		free(buf);
		return -1;
	}
	for (size_t m = 0; m < mib; m++) {
		memset(buf, seed + (int)m, MIB);
		if (pwrite(fd, buf, MIB, (off_t)(m * MIB)) != (ssize_t)MIB) {
			close(fd);
			free(buf);
			return -1;
		}
	}
	free(buf);
	return fd;
}

/* -T: the streaming child empties each file before writing it again. */
static int stream_truncate;

/* The child of a busy phase: write round and round until killed. */
static void stream(const char *dir, size_t mib)
{
	char path[4096], *buf = malloc(MIB);
	int fd[STREAM_FILES];
	size_t per = (mib + STREAM_FILES - 1) / STREAM_FILES;

	if (!buf)
		_exit(1);
	for (int i = 0; i < STREAM_FILES; i++) {
		stream_path(path, sizeof(path), dir, getppid(), i);
		fd[i] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd[i] < 0)
			_exit(1);
	}
	for (unsigned int pass = 1;; pass++) {
		for (int i = 0; i < STREAM_FILES; i++) {
			/* new pages each pass: an overwrite of a swapped page
			 * would bring it back first (the module swaps in even
			 * for a whole-page write), and the writer would then
			 * mostly swap in instead of making the server evict */
			if (stream_truncate && pass > 1 && ftruncate(fd[i], 0))
				_exit(1);
			for (size_t m = 0; m < per; m++) {
				memset(buf, (int)(pass + m), MIB);
				if (pwrite(fd[i], buf, MIB, (off_t)(m * MIB)) < 0)
					_exit(errno == ENOSPC ? 3 : 1);
			}
		}
	}
}

static void unlink_stream(const char *dir, pid_t parent)
{
	char path[4096];

	for (int i = 0; i < STREAM_FILES; i++) {
		stream_path(path, sizeof(path), dir, parent, i);
		unlink(path);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

#define MAX_SLICES	1024

struct phase {
	const char *name;
	uint64_t *ns;
	size_t n;
	long faults;
	long long evictions, hot_evictions;
	uint64_t s50[MAX_SLICES], s99[MAX_SLICES];	/* per slice */
	int nslices;
	uint64_t m50, m99;	/* medians of s50, s99 */
};

static uint64_t pct(const uint64_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);

	return n ? v[i < n ? i : n - 1] : 0;
}

/* Rounds of drop-and-touch for @secs seconds, appended to @ph. */
static void measure(struct phase *ph, const char *p, size_t len, double secs,
		    size_t *order, size_t norder)
{
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9), *cp;
	volatile const char *vp = (volatile const char *)p;
	unsigned int sum = 0;
	size_t n0 = ph->n, k;
	long f0 = minflt();

	while (now_ns() < end && ph->n + norder <= MAX_SAMPLES) {
		madvise((void *)p, len, MADV_DONTNEED);
		for (size_t k = norder - 1; k > 0; k--) {
			size_t j = (size_t)rand() % (k + 1), t = order[k];

			order[k] = order[j];
			order[j] = t;
		}
		for (size_t k = 0; k < norder; k++) {
			uint64_t t0 = now_ns();

			sum += (unsigned char)vp[order[k] * STRIDE];
			ph->ns[ph->n++] = now_ns() - t0;
		}
	}
	ph->faults += minflt() - f0;
	(void)sum;
	k = ph->n - n0;
	cp = malloc((k ? k : 1) * sizeof(*cp));
	if (cp && k && ph->nslices < MAX_SLICES) {
		memcpy(cp, ph->ns + n0, k * sizeof(*cp));
		qsort(cp, k, sizeof(*cp), cmp_u64);
		ph->s50[ph->nslices] = pct(cp, k, 0.50);
		ph->s99[ph->nslices] = pct(cp, k, 0.99);
		ph->nslices++;
	}
	free(cp);
}

/* Median of the slices' percentiles. */
static uint64_t slice_median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return n ? v[n / 2] : 0;
}

static void print_phase(const char *label, const struct phase *ph)
{
	double mean = 0;

	for (size_t i = 0; i < ph->n; i++)
		mean += (double)ph->ns[i];
	mean = ph->n ? mean / (double)ph->n : 0;
	printf("%s,%s,%zu,%.2f,%llu,%llu,%llu,%llu,%.0f,%lld,%lld,%llu,%llu\n", label,
	       ph->name, ph->n, ph->n ? (double)ph->faults / (double)ph->n : 0,
	       (unsigned long long)pct(ph->ns, ph->n, 0.50),
	       (unsigned long long)pct(ph->ns, ph->n, 0.90),
	       (unsigned long long)pct(ph->ns, ph->n, 0.99),
	       (unsigned long long)pct(ph->ns, ph->n, 0.999), mean,
	       ph->evictions, ph->hot_evictions,
	       (unsigned long long)ph->m50, (unsigned long long)ph->m99);
	fflush(stdout);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A streaming child into @dir, stopped; for @mnt, once it evicts (waited
 * for, bounded).  The child's pid, or -1. */
static pid_t start_stream(const char *dir, size_t mib, const char *mnt)
{
	long long e0 = mnt ? mount_evictions(mnt) : 0;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* a stopped writer must not outlive us holding files open */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		stream(dir, mib);
		_exit(0);
	}
	for (int i = 0; mnt && i < 1000; i++) {
		int st;

		if (mount_evictions(mnt) > e0)
			break;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			/* a full mount that does not evict: ENOSPC */
			fprintf(stderr, "evictlat: the writer stopped (%s) before "
				"anything was evicted\n",
				WIFEXITED(st) && WEXITSTATUS(st) == 3 ? "ENOSPC" : "error");
			return 0;
		}
		if (i == 999)
			fprintf(stderr, "evictlat: no eviction after 10 s of streaming\n");
		sleep_ms(10);
	}
	kill(pid, SIGSTOP);
	return pid;
}

/*
 * After a writer stops: push the page cache's dirty pages to the daemon
 * (they would reach it later and evict in another phase), then wait
 * (bounded) until the mount's evictions stay put for 60 ms.
 */
static void settle(const char *mnt)
{
	long long last = -1;
	int dfd = open(mnt, O_RDONLY | O_DIRECTORY);

	if (dfd >= 0) {
		syncfs(dfd);
		close(dfd);
	}

	for (int i = 0, still = 0; i < 200 && still < 6; i++) {
		long long e = mount_evictions(mnt);

		still = e == last ? still + 1 : 0;
		last = e;
		sleep_ms(10);
	}
}

/* -v: what the mount and its files hold, when a busy slice evicted nothing. */
static void dump_state(const char *mnt, const char *hotpath)
{
	char path[4096], buf[1024], line[512];
	ssize_t n;
	FILE *f;

	for (int i = -1; i < STREAM_FILES; i++) {
		if (i < 0)
			snprintf(path, sizeof(path), "%s", hotpath);
		else
			stream_path(path, sizeof(path), mnt, getpid(), i);
		n = getxattr(path, "user.usm.stats", buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "evictlat: %s: %s\n", path, n > 0 ? buf : "-");
	}
	n = getxattr(mnt, "user.usm.stats", buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	fprintf(stderr, "evictlat: %s: %s\n", mnt, n > 0 ? buf : "-");
	f = fopen(stats_file, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "mount ", 6) || !strncmp(line, "used", 4) ||
		    !strncmp(line, "deferred", 8))
			fprintf(stderr, "evictlat: pool: %s", line);
	if (f)
		fclose(f);
}

static void stop_stream(pid_t pid, const char *dir)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink_stream(dir, getpid());
}

static void usage(void)
{
	fprintf(stderr, "usage: evictlat MNT [-r HOT_MIB] [-s STREAM_MIB] [-d SECONDS] "
		"[-P PRIO] [-C CONTROL_DIR] [-S STATS_FILE] [-l LABEL] [-T] [-v]\n");
	exit(2);
}

#define SLICE_S	0.25

int main(int argc, char **argv)
{
	size_t hot = 8, smib = 128, len, norder, *order;
	const char *label = "usmfs", *mnt, *control = NULL;
	struct phase ph[3] = {
		{ .name = "idle" }, { .name = "busy" }, { .name = "control" },
	};
	pid_t child[3] = { 0, 0, 0 };
	double secs = 3;
	int prio = 7, opt, fd, nph, slices, verbose = 0, rc = 0;
	long long hot_lost;
	char hotpath[4096];
	char *p;

	while ((opt = getopt(argc, argv, "r:s:d:P:C:S:l:Tv")) != -1) {
		switch (opt) {
		case 'r': hot = strtoul(optarg, NULL, 0); break;
		case 's': smib = strtoul(optarg, NULL, 0); break;
		case 'd': secs = atof(optarg); break;
		case 'P': prio = atoi(optarg); break;
		case 'C': control = optarg; break;
		case 'S': stats_file = optarg; break;
		case 'l': label = optarg; break;
		case 'T': stream_truncate = 1; break;
		case 'v': verbose = 1; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || !hot || !smib || secs <= 0)
		usage();
	mnt = argv[optind];
	if (module_evictions(mnt) >= 0)
		fprintf(stderr, "evictlat: %s: evictions from %s too\n", mnt, stats_file);
	else if (usm_stat(mnt, "evictions") < 0)
		fprintf(stderr, "evictlat: %s: no mount-wide user.usm.stats nor %s: "
			"counting the streaming files' evictions\n", mnt, stats_file);
	len = hot * MIB;
	norder = len / STRIDE;
	nph = control ? 3 : 2;
	snprintf(hotpath, sizeof(hotpath), "%s/evictlat-hot.%d", mnt, getpid());
	fd = write_file(hotpath, hot, 1);
	if (fd < 0) {
		fprintf(stderr, "evictlat: %s: %s\n", hotpath, strerror(errno));
		return 1;
	}
	if (prio >= 0) {
		char v[16];

		snprintf(v, sizeof(v), "%d", prio);
		if (fsetxattr(fd, "user.usm.prio", v, strlen(v), 0))
			fprintf(stderr, "evictlat: user.usm.prio=%s: %s (going on)\n",
				v, strerror(errno));
	}
	fsync(fd);
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	/* 4 KiB faults only: where a filesystem maps 2 MiB at once (usmfs.ko
	 * on 6.12+) one touch in 32 would fault and the rest would not */
	if (p != MAP_FAILED)
		madvise(p, len, MADV_NOHUGEPAGE);
	order = malloc(norder * sizeof(*order));
	for (int i = 0; i < nph; i++)
		ph[i].ns = malloc(MAX_SAMPLES * sizeof(*ph[i].ns));
	if (p == MAP_FAILED || !order || !ph[0].ns || !ph[1].ns ||
	    (control && !ph[2].ns)) {
		fprintf(stderr, "evictlat: mmap %s: %s\n", hotpath, strerror(errno));
		return 1;
	}
	for (size_t k = 0; k < norder; k++) {
		order[k] = k;
		(void)((volatile const char *)p)[k * STRIDE];
	}
	srand(1);

	child[1] = start_stream(mnt, smib, mnt);
	if (control && child[1] > 0)
		child[2] = start_stream(control, smib, NULL);
	if (child[1] < 0 || child[2] < 0) {
		fprintf(stderr, "evictlat: fork: %s\n", strerror(errno));
		if (child[1] > 0)
			stop_stream(child[1], mnt);
		return 1;
	}
	settle(mnt);
	/* The phases time faults on resident pages: bring back what the
	 * start of the stream took from the hot file (a server may take
	 * from prio 7 when the other files cannot give enough). */
	hot_lost = usm_stat(hotpath, "evictions");
	for (size_t k = 0; k < norder * (STRIDE / PAGE); k++)
		(void)((volatile const char *)p)[k * PAGE];
	if (hot_lost > 0)
		fprintf(stderr, "evictlat: the hot file lost %lld pages while the "
			"stream started (swapped now: %lld bytes)\n", hot_lost,
			usm_stat(hotpath, "swapped"));
	slices = (int)(secs / SLICE_S + 0.5);
	for (int r = 0; r < slices; r++) {
		for (int i = 0; i < nph; i++) {
			struct phase *q = &ph[i];
			long long e0, h0;

			/* untimed: the pages a slice touches are resident
			 * (a server may have taken some between slices) */
			for (size_t k = 0; k < norder; k++)
				(void)((volatile const char *)p)[k * STRIDE];
			if (child[i] > 0) {
				kill(child[i], SIGCONT);
				sleep_ms(30);
			}
			/* busy: the slice starts once the server evicts
			 * (bounded: 3 s), not while the writer still fills
			 * the room the last eviction left */
			if (i == 1 && child[i] > 0) {
				e0 = mount_evictions(mnt);
				for (int w = 0; w < 300 && mount_evictions(mnt) == e0; w++)
					sleep_ms(10);
			}
			e0 = mount_evictions(mnt);
			h0 = usm_stat(hotpath, "evictions");
			measure(q, p, len, SLICE_S, order, norder);
			e0 = mount_evictions(mnt) - e0;
			q->evictions += e0;
			q->hot_evictions += usm_stat(hotpath, "evictions") - h0;
			if (verbose)
				fprintf(stderr, "evictlat: slice %d %s: %lld evictions\n",
					r, q->name, e0);
			if (verbose && i == 1 && e0 == 0)
				dump_state(mnt, hotpath);
			if (child[i] > 0) {
				kill(child[i], SIGSTOP);
				settle(mnt);
			}
		}
	}
	if (child[1] > 0)
		stop_stream(child[1], mnt);
	else
		unlink_stream(mnt, getpid());
	if (child[2] > 0)
		stop_stream(child[2], control);

	for (int i = 0; i < nph; i++) {
		qsort(ph[i].ns, ph[i].n, sizeof(*ph[i].ns), cmp_u64);
		ph[i].m50 = slice_median(ph[i].s50, ph[i].nslices);
		ph[i].m99 = slice_median(ph[i].s99, ph[i].nslices);
		print_phase(label, &ph[i]);
	}
	{
		double i50 = (double)ph[0].m50, i99 = (double)ph[0].m99;
		struct phase *b = &ph[1], *c = &ph[2];

		printf("%s,ratio,%.2f,%.2f", label,
		       i50 > 0 ? (double)b->m50 / i50 : 0,
		       i99 > 0 ? (double)b->m99 / i99 : 0);
		if (control)
			printf(",%.2f,%.2f\n",
			       i50 > 0 ? (double)c->m50 / i50 : 0,
			       i99 > 0 ? (double)c->m99 / i99 : 0);
		else
			printf(",,\n");
	}
	/* A busy phase in which nothing was evicted measured a writer, not
	 * eviction: say so and fail (the figure is not valid). */
	if (ph[1].evictions <= 0) {
		fprintf(stderr, "evictlat: no eviction during the busy phase: "
			"the figure is not valid\n");
		rc = 4;
	}
	if (ph[1].hot_evictions > 0 || ph[0].hot_evictions > 0 ||
	    (control && ph[2].hot_evictions > 0)) {
		fprintf(stderr, "evictlat: the hot file lost pages during the phases\n");
		rc = 4;
	}
	munmap(p, len);
	close(fd);
	unlink(hotpath);
	for (int i = 0; i < 3; i++)
		free(ph[i].ns);
	free(order);
	return rc;
}
