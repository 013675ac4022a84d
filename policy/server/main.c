// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * main.c - usm-policyd: options, --check, the event loop.
 *
 * The loop sleeps in epoll_wait() on two descriptors: /dev/usmfs (events)
 * and a signalfd (SIGTERM/SIGINT: detach and exit 0; SIGHUP: reload the
 * config).  It never polls with a timeout: all work comes from events.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "policyd.h"

#define PD_READ_EVENTS	64	/* events per read(2) */
#define PD_READ_ROUNDS	16	/* reads per wake-up before looking at signals */

/* ------------------------------------------------------------ logging */

int pd_log_level = PD_INFO;
unsigned long pd_log_count[PD_DEBUG + 1];

void pd_log(enum pd_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char buf[1024];
	va_list ap;

	pd_log_count[lvl]++;
	if ((int)lvl > pd_log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* One write per line: lines from a dying server stay whole. */
	fprintf(stderr, "usm-policyd: %s: %s\n", names[lvl], buf);
}

/* ------------------------------------------------------------- --check */

int pd_check_config(const char *path)
{
	struct usm_config *cfg = NULL;
	char err[1024] = "";
	int r;

	r = usm_config_load(path, USM_CONFIG_CHECK_STORES, &cfg, err, sizeof(err));
	if (r) {
		fprintf(stderr, "%s\n", err[0] ? err : strerror(-r));
		return 1;
	}
	printf("%s: OK (%zu stores, %zu rules, %zu thresholds, %zu plugins, watermarks %u%%/%u%%)\n",
	       path, cfg->nr_stores, cfg->nr_rules, cfg->nr_thresholds,
	       cfg->nr_plugins, cfg->low_pct, cfg->high_pct);
	usm_config_free(cfg);
	return 0;
}

/* ---------------------------------------------------------------- loop */

static int load_config(const char *path, struct usm_config **out)
{
	char err[1024] = "";
	int r;

	*out = NULL;
	if (!path)
		return 0;
	r = usm_config_load(path, 0, out, err, sizeof(err));
	if (r)
		pd_log(PD_ERR, "%s", err[0] ? err : strerror(-r));
	return r;
}

static void reload(struct policyd *pd)
{
	struct usm_config *cfg;

	if (!pd->config_path) {
		pd_log(PD_INFO, "SIGHUP: no config file to reload");
		return;
	}
	if (load_config(pd->config_path, &cfg)) {
		pd_log(PD_WARN, "SIGHUP: keeping the running config");
		return;
	}
	pd_reload(pd, cfg);
	usm_config_free(cfg);
}

/* Read and handle what is queued, a bounded number of rounds.
 * 0, or -errno when the channel failed. */
static int drain(struct policyd *pd, struct usmfs_event *evs)
{
	for (int round = 0; round < PD_READ_ROUNDS; round++) {
		ssize_t n = pd_chan_read(pd->ch, evs, PD_READ_EVENTS);

		if (n < 0) {
			pd_log(PD_ERR, "reading events: %s", strerror((int)-n));
			return (int)n;
		}
		if (n == 0)
			break;
		pd_handle_events(pd, evs, (size_t)n);
	}
	return 0;
}

int pd_run(struct policyd *pd)
{
	struct usmfs_event *evs = calloc(PD_READ_EVENTS, sizeof(*evs));
	struct epoll_event ev, got[2];
	sigset_t mask;
	int ep = -1, sfd = -1, r = 0;
	bool stop = false;

	if (!evs)
		return -ENOMEM;
	if (pd->ch->fd < 0) {
		r = -EINVAL;
		goto out;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		r = -errno;
		pd_log(PD_ERR, "signalfd/epoll: %s", strerror(errno));
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = pd->ch->fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, pd->ch->fd, &ev) < 0) {
		r = -errno;
		goto out;
	}
	ev.data.fd = sfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0) {
		r = -errno;
		goto out;
	}
	/* Whatever was queued before we waited (the replay after HELLO). */
	r = drain(pd, evs);
	while (!r && !stop) {
		int n = epoll_wait(ep, got, 2, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		for (int i = 0; i < n && !r; i++) {
			if (got[i].data.fd == sfd) {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP) {
						reload(pd);
					} else {
						pd_log(PD_INFO, "%s: detaching",
						       strsignal((int)si.ssi_signo));
						stop = true;
					}
				}
				continue;
			}
			if (got[i].events & (EPOLLERR | EPOLLHUP)) {
				pd_log(PD_ERR, "the channel was closed by the module");
				r = -EPIPE;
				break;
			}
			r = drain(pd, evs);
		}
	}
	/* Commands still queued (SWAPIN_DONE) go out before we detach. */
	pd_chan_flush(pd->ch);
out:
	if (ep >= 0)
		close(ep);
	if (sfd >= 0)
		close(sfd);
	free(evs);
	return r;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: usm-policyd [OPTIONS]\n"
		"       usm-policyd --check FILE\n"
		"The policy server of usmfs.ko: placement, eviction and swap of the\n"
		"module's pool pages, driven through %s.\n"
		"\n"
		"  -d, --device PATH   the module's channel (default %s)\n"
		"  -c, --config FILE   configuration (default %s if it exists)\n"
		"  -n, --check FILE    validate FILE, print what is wrong with FILE:LINE,\n"
		"                      exit 0 (valid) or 1\n"
		"  -v, --verbose       more messages (repeat for debug)\n"
		"  -q, --quiet         errors only\n"
		"  -h, --help          this text\n"
		"\n"
		"Signals: SIGTERM/SIGINT detach and exit 0 (the module keeps serving\n"
		"resident pages and keeps every swap slot); SIGHUP reloads the config's\n"
		"watermarks.\n",
		"/dev/" USMFS_DEVICE_NAME, "/dev/" USMFS_DEVICE_NAME,
		USM_CONFIG_DEFAULT_PATH);
}

int pd_main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "check", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *device = "/dev/" USMFS_DEVICE_NAME, *config = NULL;
	const char *check = NULL;
	struct usm_config *cfg = NULL;
	struct pd_chan ch;
	struct policyd pd;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:c:n:vqh", lopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			device = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'n':
			check = optarg;
			break;
		case 'v':
			if (pd_log_level < PD_DEBUG)
				pd_log_level++;
			break;
		case 'q':
			pd_log_level = PD_ERR;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "usm-policyd: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 1;
	}
	if (check)
		return pd_check_config(check);
	if (!config && access(USM_CONFIG_DEFAULT_PATH, F_OK) == 0)
		config = USM_CONFIG_DEFAULT_PATH;
	if (load_config(config, &cfg))
		return 1;

	r = pd_chan_open(&ch, device);
	if (r) {
		usm_config_free(cfg);
		return 1;
	}
	r = pd_chan_attach(&ch, USMFS_F_ALL);
	if (!r)
		r = pd_init(&pd, &ch, cfg);
	if (!r) {
		pd.config_path = config;
		r = pd_run(&pd);
		pd_log(r ? PD_ERR : PD_INFO,
		       "%s: %lu events (%lu rejected, %lu accesses, %lu skipped as listed), %lu swap-ins (%lu failed, %lu cancelled), %lu evictions asked, %lu commits; %lu resyncs (%lu pages moved, %lu seq gaps); round trips: %lu reads, %lu ioctls",
		       r ? "stopped" : "detached", pd.events, pd.rejected,
		       pd.accesses, pd.events_skipped, pd.swapins,
		       pd.swapin_errors, pd.swapins_cancelled,
		       pd.evict_cmds, pd.commit_cmds, pd.resyncs,
		       pd.resync_moved, pd.seq_gaps, ch.reads, ch.ioctls);
		pd_fini(&pd);
	}
	pd_chan_close(&ch);
	usm_config_free(cfg);
	return r ? 1 : 0;
}

#ifndef PD_NO_MAIN
int main(int argc, char **argv)
{
	return pd_main(argc, argv);
}
#endif
