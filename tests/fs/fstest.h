/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * fstest.h - shared helpers of the filesystem suite's test program.
 *
 * One multi-call binary, fstest, runs one case per invocation:
 *
 *	fstest CASE WORKDIR [ARGS...]
 *
 * WORKDIR is an empty directory on the filesystem under test that the case
 * may fill.  Exit status: 0 pass, 1 fail (a reason on stderr), 77 skip (a
 * reason on stderr).  A failed check ends the process at once: the runner
 * removes WORKDIR afterwards, so cases do not clean up after a failure.
 *
 * Environment (set by run-suite.sh): FS_FRONTEND (fuse|kmod|tmpfs),
 * USMFS_SIZE (bytes the mount may keep resident), USMFS_SWAP (none|file),
 * USMFS_NOSWAP_DIR (a second mount with swap=none), USMFS_NOSWAP_SIZE.
 */
#ifndef FSTEST_H
#define FSTEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define PAGE		4096UL
#define KIB		1024UL
#define MIB		(1024UL * 1024UL)

#define EXIT_PASS	0
#define EXIT_FAIL	1
#define EXIT_SKIP	77

/* Report and end the process (works the same in forked children). */
void fail_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
void skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Informational line on stderr (shown by the runner on failure or -v). */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define FAIL(...)	fail_at(__FILE__, __LINE__, __VA_ARGS__)

/* CHECK(cond, fmt, ...): fail with the message unless cond holds. */
#define CHECK(c, ...)							\
	do {								\
		if (!(c))						\
			fail_at(__FILE__, __LINE__, __VA_ARGS__);	\
	} while (0)

/* SYS(call): the call must not return a negative value; gives its value. */
#define SYS(call)							\
	({								\
		long _r = (long)(call);					\
		if (_r < 0)						\
			fail_at(__FILE__, __LINE__, "%s: %s", #call,	\
				errname(errno));			\
		_r;							\
	})

/* ERR(call, E): the call must fail (-1) with errno E. */
#define ERR(call, e)							\
	do {								\
		errno = 0;						\
		long _r = (long)(call);					\
		int _e = errno;						\
		if (_r != -1 || _e != (e))				\
			fail_at(__FILE__, __LINE__,			\
				"%s: expected -1/%s, got %ld/%s", #call,	\
				errname(e), _r, _r == -1 ? errname(_e) : "-"); \
	} while (0)

/* "ENOENT (No such file or directory)" */
const char *errname(int e);

/* A formatted path, allocated and never freed (cases are short-lived). */
const char *P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whole-buffer I/O; fail the case on error or short transfer. */
void write_full(int fd, const void *buf, size_t len);
void pwrite_full(int fd, const void *buf, size_t len, off_t off);
void pread_full(int fd, void *buf, size_t len, off_t off);
void read_full(int fd, void *buf, size_t len);
/* Create @path with exactly @len bytes of @buf. */
void put_file(const char *path, const void *buf, size_t len, mode_t mode);
void *xmalloc(size_t n);

/*
 * Pattern: byte at file offset o of stream @seed is byte (o % 8) of
 * mix(seed, o / 8).  Different seeds, offsets and pages all differ.
 */
void pattern_fill(void *buf, size_t len, uint64_t seed, uint64_t off);
/* Offset (relative to @buf) of the first wrong byte, or -1. */
long pattern_check(const void *buf, size_t len, uint64_t seed, uint64_t off);
/* True if every byte is zero. */
int all_zero(const void *buf, size_t len);

/* Environment. */
const char *frontend(void);		/* FS_FRONTEND, default "tmpfs" */
uint64_t env_bytes(const char *name, uint64_t dflt);	/* K/M/G suffixes */
uint64_t parse_bytes(const char *s, int *ok);

/* Processes. */
/* Exit status of @pid: 0..255, or 128 + signal. */
int wait_status(pid_t pid);
/* Fork; the child drops to uid/gid (no supplementary groups), runs fn and
 * exits with its return value.  Returns the child's wait_status(). */
int run_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg);
void need_root(void);

/* SIGBUS probing: 0 if the access worked, 1 if it raised SIGBUS. */
int probe_read(const volatile char *p, char *out);
int probe_write(volatile char *p, char v);

/* usmfs: skip the case unless @path has user.usm.stats. */
void need_usm(const char *path);
/* Numeric field @key of user.usm.stats of @path; fails if absent. */
uint64_t usm_stat(const char *path, const char *key);

/* The case table of the binary. */
struct fscase {
	const char *name;
	int (*fn)(const char *dir, int argc, char **argv);
	const char *help;
};

#define DECLARE_CASE(n) \
	int case_##n(const char *dir, int argc __attribute__((unused)), \
		     char **argv __attribute__((unused)))

#endif /* FSTEST_H */
