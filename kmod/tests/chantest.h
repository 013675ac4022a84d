/* SPDX-License-Identifier: GPL-2.0-only */
/* chantest.h - what chantest.c and chanswap.c share. */
#ifndef CHANTEST_H
#define CHANTEST_H

#include <stdint.h>
#include <stdio.h>

#include "../include/uapi/linux/usmfs.h"

#define DEV "/dev/usmfs"

extern int failed;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "chantest: %s:%d: ", __func__, __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failed = 1;						\
	}								\
} while (0)

int xopen(void);
int hello(int fd, struct usmfs_hello *h, uint64_t features);
int next_event(int fd, struct usmfs_event *ev);
long pool_stat(const char *key);
uint32_t cmd1(int fd, struct usmfs_cmd *c);
int t_swapin(const char *dir);
int t_swaprace(const char *dir, int rounds);
int t_mapcmp(const char *file, const char *ref);

#endif
