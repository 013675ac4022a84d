// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * metabench - metadata operations per second on one directory.
 *
 *	metabench DIR [-n FILES] [-a APPENDS] [-l LABEL] [-o OPS]
 *
 * Phases, each timed over FILES files (default 2000) in a fresh
 * subdirectory of DIR:
 *
 *   create  open(O_CREAT | O_EXCL | O_WRONLY) + close of a new file
 *   stat    stat(2) of each file
 *   chmod   chmod(2) of each file (0644 <-> 0600)
 *   rename  rename(2) of each file to a new name in the same directory
 *   unlink  unlink(2) of each file
 *   owc     open(O_CREAT | O_TRUNC | O_WRONLY) + 100-byte write + close
 *           (new files; removed afterwards, untimed)
 *   append  APPENDS (default 20000) 4-byte write(2)s to one O_APPEND file
 *
 * -o takes a comma-separated subset, in that order.  Prints one CSV line
 * per phase: LABEL,OP,COUNT,SECONDS,OPS_PER_S,US_PER_OP.  Every call is
 * checked: a failure ends the run (exit 1) rather than giving a rate for
 * work not done; the append phase checks the file's final size.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES	1000000L

static char base[PATH_MAX - 64];	/* names fit in PATH_MAX */
static const char *label = "fs";
static long nfiles = 2000, nappends = 20000;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "metabench: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void name(char *buf, size_t len, const char *pfx, long i)
{
	snprintf(buf, len, "%s/%s%ld", base, pfx, i);
}

static void report(const char *op, long count, double secs)
{
	if (secs <= 0)
		secs = 1e-9;
	printf("%s,%s,%ld,%.6f,%.1f,%.3f\n", label, op, count, secs,
	       (double)count / secs, secs * 1e6 / (double)count);
	fflush(stdout);
}

static void do_create(const char *pfx, bool write100)
{
	static const char buf[100] = "metabench";
	char p[PATH_MAX];
	int flags = O_CREAT | O_WRONLY | (write100 ? O_TRUNC : O_EXCL);

	for (long i = 0; i < nfiles; i++) {
		int fd;

		name(p, sizeof(p), pfx, i);
		fd = open(p, flags | O_CLOEXEC, 0644);
		if (fd < 0)
			die("open", p);
		if (write100 && write(fd, buf, sizeof(buf)) != sizeof(buf))
			die("write", p);
		if (close(fd))
			die("close", p);
	}
}

static void do_stat(void)
{
	char p[PATH_MAX];
	struct stat st;

	for (long i = 0; i < nfiles; i++) {
		name(p, sizeof(p), "f", i);
		if (stat(p, &st))
			die("stat", p);
	}
}

static void do_chmod(void)
{
	char p[PATH_MAX];

	for (long i = 0; i < nfiles; i++) {
		name(p, sizeof(p), "f", i);
		if (chmod(p, (i & 1) ? 0600 : 0640))
			die("chmod", p);
	}
}

static void do_rename(void)
{
	char p[PATH_MAX], q[PATH_MAX];

	for (long i = 0; i < nfiles; i++) {
		name(p, sizeof(p), "f", i);
		name(q, sizeof(q), "r", i);
		if (rename(p, q))
			die("rename", p);
	}
}

static void do_unlink(const char *pfx)
{
	char p[PATH_MAX];

	for (long i = 0; i < nfiles; i++) {
		name(p, sizeof(p), pfx, i);
		if (unlink(p))
			die("unlink", p);
	}
}

static double do_append(void)
{
	char p[PATH_MAX];
	struct stat st;
	double t0, t1;
	int fd;

	name(p, sizeof(p), "append", 0);
	fd = open(p, O_CREAT | O_WRONLY | O_APPEND | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("open", p);
	t0 = now();
	for (long i = 0; i < nappends; i++)
		if (write(fd, "abc\n", 4) != 4)
			die("append to", p);
	t1 = now();
	if (fstat(fd, &st))
		die("fstat", p);
	if (st.st_size != 4 * nappends) {
		fprintf(stderr, "metabench: %s is %lld bytes, wrote %ld\n", p,
			(long long)st.st_size, 4 * nappends);
		exit(1);
	}
	close(fd);
	if (unlink(p))
		die("unlink", p);
	return t1 - t0;
}

static bool want(const char *ops, const char *op)
{
	size_t l = strlen(op);

	for (const char *s = ops; s && *s; s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL)
		if (!strncmp(s, op, l) && (s[l] == ',' || s[l] == '\0'))
			return true;
	return false;
}

static long arg_long(const char *s, const char *what, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > max) {
		fprintf(stderr, "metabench: bad %s '%s' (1..%ld)\n", what, s, max);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *ops = "create,stat,chmod,rename,unlink,owc,append";
	double t;
	int c;

	while ((c = getopt(argc, argv, "n:a:l:o:")) != -1) {
		switch (c) {
		case 'n': nfiles = arg_long(optarg, "file count", MAX_FILES); break;
		case 'a': nappends = arg_long(optarg, "append count", 100 * MAX_FILES); break;
		case 'l': label = optarg; break;
		case 'o': ops = optarg; break;
		default:
			fprintf(stderr, "usage: metabench DIR [-n FILES] [-a APPENDS] [-l LABEL] [-o OPS]\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: metabench DIR [-n FILES] [-a APPENDS] [-l LABEL] [-o OPS]\n");
		return 2;
	}
	if ((size_t)snprintf(base, sizeof(base), "%s/mb.%d", argv[optind],
			     (int)getpid()) >= sizeof(base)) {
		fprintf(stderr, "metabench: path too long\n");
		return 2;
	}
	if (mkdir(base, 0755))
		die("mkdir", base);

	/* stat, chmod, rename and unlink need the files create makes */
	if (want(ops, "create") || want(ops, "stat") || want(ops, "chmod") ||
	    want(ops, "rename") || want(ops, "unlink")) {
		t = now();
		do_create("f", false);
		if (want(ops, "create"))
			report("create", nfiles, now() - t);
		if (want(ops, "stat")) {
			t = now();
			do_stat();
			report("stat", nfiles, now() - t);
		}
		if (want(ops, "chmod")) {
			t = now();
			do_chmod();
			report("chmod", nfiles, now() - t);
		}
		t = now();
		do_rename();
		if (want(ops, "rename"))
			report("rename", nfiles, now() - t);
		t = now();
		do_unlink("r");
		if (want(ops, "unlink"))
			report("unlink", nfiles, now() - t);
	}
	if (want(ops, "owc")) {
		t = now();
		do_create("w", true);
		report("owc", nfiles, now() - t);
		do_unlink("w");
	}
	if (want(ops, "append"))
		report("append", nappends, do_append());
	if (rmdir(base))
		die("rmdir", base);
	return 0;
}
