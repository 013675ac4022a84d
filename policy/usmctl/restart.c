// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * restart.c - usmctl restart MOUNT: replace the daemon of a FUSE mount
 * with the binary now installed, without unmounting (docs/fuse.md,
 * "Restarts").  The mount's root stats name its supervisor; SIGHUP asks
 * it for the replacement, and the stats say when a new daemon serves and
 * whether the installed binary did not take over (refused the mount's
 * state, or did not serve in time).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "usmctl.h"

#define RESTART_WAIT_MS	60000
#define RESTART_POLL_MS	100

int cmd_restart(const char *mnt)
{
	long long sup, pid0, r0, ref0, waited;
	struct probe pr;

	if (probe_mount(mnt, &pr, 5000) || !pr.stats[0] ||
	    kv_get(pr.stats, "daemon_pid") <= 0) {
		fprintf(stderr, "usmctl: %s: not a responding usmfs FUSE mount\n",
			mnt);
		return 1;
	}
	sup = kv_get(pr.stats, "supervisor_pid");
	pid0 = kv_get(pr.stats, "daemon_pid");
	r0 = kv_get(pr.stats, "restarts");
	ref0 = kv_get(pr.stats, "restarts_refused");
	if (sup <= 1) {
		fprintf(stderr, "usmctl: %s: its daemon has no supervisor "
			"(-o norestart, or the supervisor is gone)\n", mnt);
		return 1;
	}
	if (kill((pid_t)sup, SIGHUP)) {
		fprintf(stderr, "usmctl: %s: supervisor %lld: %s\n", mnt, sup,
			strerror(errno));
		return 1;
	}
	for (waited = 0; waited < RESTART_WAIT_MS; waited += RESTART_POLL_MS) {
		poll(NULL, 0, RESTART_POLL_MS);
		if (probe_mount(mnt, &pr, 2000) || !pr.stats[0])
			continue;	/* between daemons */
		if (kv_get(pr.stats, "restarts_refused") > ref0) {
			fprintf(stderr, "usmctl: %s: the installed daemon "
				"did not take over (it refused the mount's "
				"state, another version, or did not serve "
				"within swapin_timeout: see the daemon's "
				"log); the previous one serves again (pid "
				"%lld)\n", mnt, kv_get(pr.stats, "daemon_pid"));
			return 1;
		}
		if (kv_get(pr.stats, "restarts") > r0 &&
		    kv_get(pr.stats, "daemon_pid") != pid0) {
			printf("%s: daemon %lld replaced by %lld (restarts=%lld)\n",
			       mnt, pid0, kv_get(pr.stats, "daemon_pid"),
			       kv_get(pr.stats, "restarts"));
			return 0;
		}
	}
	fprintf(stderr, "usmctl: %s: no new daemon after %d s\n", mnt,
		RESTART_WAIT_MS / 1000);
	return 1;
}
