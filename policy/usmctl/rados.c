// SPDX-License-Identifier: GPL-2.0-only
/*
 * rados.c - usmctl rados SPEC [--remove ID]: the "rados:" stores this
 * machine has in a pool, in use or left over by an earlier mount, and the
 * removal of a left-over one (docs/stores.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <usm/swap.h>

#include "usmctl.h"

struct listing {
	int json, n;
};

static int print_store(const struct usm_rados_store *s, void *arg)
{
	struct listing *l = arg;
	char when[32] = "?";
	time_t t = (time_t)s->created;
	struct tm tm;

	if (s->created && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (l->json) {
		printf("%s{\"id\":\"%s\",\"name\":\"%s\",\"host\":\"%s\","
		       "\"created\":%lld,\"objects\":%lu,\"in_use\":%s,\"pid\":%ld}",
		       l->n ? "," : "", s->id, s->name, s->host, s->created,
		       s->objects, s->in_use ? "true" : "false", s->pid);
	} else {
		printf("%-20s %-12s %-20s %8lu  %s\n", s->id,
		       s->name[0] ? s->name : "?", when, s->objects,
		       s->in_use ? "in use" : "left over");
	}
	l->n++;
	return 0;
}

int cmd_rados(int argc, char **argv, int json)
{
	struct listing l = { .json = json };
	const char *spec, *id = NULL;
	char err[1024] = "";
	size_t removed;
	int r;

	if (argc == 3 && !strcmp(argv[1], "--remove")) {
		id = argv[2];
	} else if (argc != 1) {
		fprintf(stderr, "usage: usmctl rados rados:POOL[/NS][:conf=F:user=U:"
			"keyring=K] [--remove ID]\n");
		return 2;
	}
	spec = argv[0];
	if (strncmp(spec, "rados:", 6)) {
		fprintf(stderr, "usmctl: %s: not a rados: store spec\n", spec);
		return 2;
	}
	if (id) {
		r = usm_rados_remove(spec, id, &removed, err, sizeof(err));
		if (r) {
			fprintf(stderr, "usmctl: %s\n", err);
			return 1;
		}
		printf("removed store %s: %zu object(s) of pages and its header\n",
		       id, removed);
		return 0;
	}
	if (json)
		printf("[");
	else
		printf("%-20s %-12s %-20s %8s  %s\n", "ID", "NAME", "CREATED",
		       "OBJECTS", "STATE");
	r = usm_rados_stores(spec, print_store, &l, err, sizeof(err));
	if (json)
		printf("]\n");
	if (r) {
		fprintf(stderr, "usmctl: %s\n", err);
		return 1;
	}
	return 0;
}
