// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * t-fork - after fork() parent and child have separate heaps (as with
 * anonymous memory), in malloc'ed and in mmap'ed memory, even with a
 * thread running in the parent; the child gets its own heap file.
 *	t-fork DIR		the fork checks (exit 0 = all good)
 *	t-fork DIR exec		fork, child execs "t-fork DIR child PPID"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MB (1UL << 20)
static int fails;

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "t-fork[%d]:%d: %s\n", \
	getpid(), __LINE__, #c); fails++; } } while (0)

static int all(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

static int heap_file(const char *dir, pid_t pid)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s.%d.heap", dir,
		 program_invocation_short_name, (int)pid);
	return stat(path, &st) == 0;
}

static volatile int stop;
static void *spinner(void *arg)
{
	char *p = arg;

	while (!stop)
		p[0]++;	/* another thread writing the heap during fork */
	return NULL;
}

int main(int argc, char **argv)
{
	const char *dir = argv[1];
	unsigned char *m, *a;
	pthread_t th;
	char *tp;
	pid_t pid;
	int st;

	if (argc < 2)
		return 2;
	if (argc > 3 && !strcmp(argv[2], "child")) {
		/* The exec'd image has its own file; the pre-exec one is gone. */
		CHECK(heap_file(dir, getpid()));
		m = malloc(4 * MB);
		memset(m, 1, 4 * MB);
		free(m);
		return fails ? 1 : 0;
	}
	CHECK(heap_file(dir, getpid()));
	m = malloc(8 * MB);
	a = mmap(NULL, 8 * MB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tp = malloc(100);
	CHECK(m && a != MAP_FAILED && tp);
	memset(m, 0x11, 8 * MB);
	memset(a, 0x22, 8 * MB);
	pthread_create(&th, NULL, spinner, tp);

	if (argc > 2 && !strcmp(argv[2], "exec")) {
		char ppid[32];

		snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
		pid = fork();
		if (pid == 0) {
			execl(argv[0], argv[0], dir, "child", ppid, (char *)NULL);
			_exit(127);
		}
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		CHECK(!heap_file(dir, pid));
		stop = 1;
		pthread_join(th, NULL);
		CHECK(all(m, 8 * MB, 0x11) && all(a, 8 * MB, 0x22));
		return fails ? 1 : 0;
	}

	pid = fork();
	if (pid == 0) {
		int f = 0;

		/* The child sees the heap as it was at fork()... */
		f += !all(m, 8 * MB, 0x11) || !all(a, 8 * MB, 0x22);
		f += !heap_file(dir, getpid());
		/* ...and its writes stay its own. */
		memset(m, 0x33, 8 * MB);
		memset(a, 0x44, 8 * MB);
		sleep(1);
		f += !all(m, 8 * MB, 0x33) || !all(a, 8 * MB, 0x44);
		free(m);
		m = malloc(16 * MB);
		memset(m, 0x55, 16 * MB);
		exit(f ? 1 : 0);	/* exit(): the file is unlinked */
	}
	CHECK(pid > 0);
	usleep(200 * 1000);
	/* Parent writes while the child runs: the child must not see it. */
	memset(m, 0x66, MB);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(all(m, MB, 0x66) && all(m + MB, 7 * MB, 0x11));
	CHECK(all(a, 8 * MB, 0x22));
	CHECK(!heap_file(dir, pid));
	stop = 1;
	pthread_join(th, NULL);
	/* _exit() in a fork child also removes its file. */
	pid = fork();
	if (pid == 0)
		_exit(heap_file(dir, getpid()) ? 0 : 1);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	      WEXITSTATUS(st) == 0);
	CHECK(!heap_file(dir, pid));

	/* A child that closes every fd (as daemons do), opens files that may
	 * take the freed numbers, and goes on allocating and forking: the
	 * library must neither write to those files nor lose data. */
	pid = fork();
	if (pid == 0) {
		char path[4096], buf[16] = "";
		unsigned char *big;
		int fd, f = 0, i;

		for (i = 3; i < 4096; i++)
			close(i);
		snprintf(path, sizeof(path), "%s/victim.%d", dir, getpid());
		for (i = 0; i < 1000; i++) {	/* fill the low numbers */
			fd = open(path, O_RDWR | O_CREAT, 0600);
			if (fd < 0)
				break;
		}
		if (write(fd, "keep", 4) != 4)
			f++;
		for (i = 0; i < 50; i++) {	/* grow, free: ftruncate, punch */
			big = malloc(4 * MB);
			memset(big, i, 4 * MB);
			free(big);
		}
		f += !all(m, MB, 0x66) || !all(a, 8 * MB, 0x22);
		pid = fork();	/* the grandchild's heap: a private copy */
		if (pid == 0) {
			memset(m, 0x77, MB);
			_exit(all(a, 8 * MB, 0x22) ? 0 : 1);
		}
		f += waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		     WEXITSTATUS(st) != 0;
		f += !all(m, MB, 0x66);
		if (pread(fd, buf, sizeof(buf), 0) != 4 || memcmp(buf, "keep", 4))
			f++;
		{
			struct stat sb;

			f += fstat(fd, &sb) < 0 || sb.st_size != 4;
		}
		unlink(path);
		exit(f ? 1 : 0);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	      WEXITSTATUS(st) == 0);
	CHECK(all(m, MB, 0x66) && all(a, 8 * MB, 0x22));
	free(m);
	munmap(a, 8 * MB);
	return fails ? 1 : 0;
}
