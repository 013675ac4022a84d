# usmfs - top-level build.
#
#   make            build libusmpolicy, tools, the FUSE daemon (and usmfs.ko
#                   when KDIR or the running kernel's headers are there)
#   make deps       install the Debian packages the build and tests need
#   make test       deps + build + every test stage; ends "N passed, N failed"
#   make demo       the FUSE demo (needs no module)
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX	?= /usr/local
DESTDIR	?=
export PREFIX DESTDIR

# Packages for building and testing userspace and the FUSE frontend; the
# kernel lane's (tests/vm: kernels, qemu, the debug kernel's build) are
# installed on top by make -C tests/vm deps-debug.  librados-dev: the "rados:"
# store; ceph-mon, ceph-osd, ceph-common: the one-node cluster of make
# test-rados (tests/rados/cluster.sh).
DEPS	:= build-essential pkg-config clang valgrind attr fio fuse3 \
	   libfuse3-dev libcmocka-dev libinih-dev liburing-dev \
	   python3 python3-numpy sqlite3 procps util-linux psmisc stress-ng gnuplot-nox \
	   rsync tar acl e2fsprogs \
	   librados-dev ceph-mon ceph-osd ceph-common

SUBDIRS	:= policy usmfs mount-helpers

.PHONY: all deps build test test-unit test-valgrind test-fuse test-kmod \
	test-kmod-guest test-debug test-debug-quick test-debug-torture test-torture test-rados test-all test-preload test-mount test-cli test-conform test-bench install uninstall clean \
	demo bench bench-quick check-clang
all: build

deps:
	@missing=""; \
	for p in $(DEPS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "deps: all present"; \
	fi
	@if [ -f tests/vm/Makefile ]; then $(MAKE) -C tests/vm deps-debug; fi
	@bench/libfuse.sh || echo "deps: libfuse 3.18 not built: make bench runs without memfs_ll"

build:
	@for d in $(SUBDIRS); do \
		if [ -f $$d/Makefile ]; then $(MAKE) -C $$d all || exit 1; fi; \
	done

# Userspace must also build warning-free with clang.
check-clang:
	$(MAKE) -C policy CC=clang O=$(CURDIR)/policy/build-clang all
	@if [ -f usmfs/Makefile ]; then $(MAKE) -C usmfs CC=clang O=$(CURDIR)/usmfs/build-clang all; fi

test-unit:
	$(MAKE) -C tests/unit lib all
	$(MAKE) -C tests/unit run

test-valgrind:
	$(MAKE) -C tests/unit VALGRIND=1 lib all
	$(MAKE) -C tests/unit VALGRIND=1 run

test-fuse: build
	@if [ -f tests/fs/Makefile ]; then $(MAKE) -C tests/fs test-fuse; \
	 else echo "fuse: 0 passed, 0 failed (no suite yet)"; fi

test-preload: build
	$(MAKE) -C usmfs/preload test

test-mount: build
	$(MAKE) -C mount-helpers test

test-cli: build
	tests/cli/test-usmctl.sh

test-conform: build
	@if [ -f tests/conform/Makefile ]; then $(MAKE) -C tests/conform test-fuse; \
	 else echo "conform: 0 passed, 0 failed (no lane yet)"; fi

# The benchmarks' own code (bench/check.sh: parsers, plots, the eviction
# tools on a small FUSE mount; ~20 s, no guest, no timing checked).
test-bench: build
	$(MAKE) -C bench check

# The "rados:" store against a one-node Ceph cluster on 127.0.0.1 that
# tests/rados/run.sh starts and stops (unit tests, fio through a FUSE
# mount, an OSD outage, left-over stores; 2m40s to 5m45s at load 15).  A
# stage of make test: it fits CI's 90 minutes with the rest (~34 min).
test-rados: build
	$(MAKE) -C tests/unit lib all
	$(MAKE) -C tests/rados all
	tests/rados/run.sh

test-kmod:
	@if [ -f tests/vm/Makefile ]; then $(MAKE) -C tests/vm test; \
	 else echo "kmod: 0 passed, 0 failed (no lane yet)"; fi

# The module's own guest checks (pool sources, options, /dev/usmfs, the
# channel fuzzer, usm-policyd attach): reuse the kernels and modules the
# lane above fetched and built, so they run after it.
test-kmod-guest:
	$(MAKE) -C kmod test

# The lane's module checks on the debug kernel (lockdep, KASAN, DEBUG_VM,
# kmemleak), built once from linux-source-6.1 into .cache/vm/debug.
test-debug:
	$(MAKE) -C tests/vm test-debug

# Stage kdebug of make test (tests/vm/debug-stage.sh): on the debug kernel,
# the lane's server steps (VM_QUICK=1: its first part only mounts; the
# suite, fio and conformance checks of that part run on the quick kernels),
# its kmemleak scan and dmesg check, then the torture test.
test-debug-quick:
	$(MAKE) -C tests/vm deps-debug
	tests/vm/debug-stage.sh

# The torture test alone on the debug kernel (evictions, swap-ins, kills,
# server restarts, remounts, with KASAN, lockdep, DEBUG_VM and kmemleak),
# the kernel and module built by the lane without its guest.
test-debug-torture:
	$(MAKE) -C tests/vm deps-debug
	cd tests/vm && VM_PREP_ONLY=1 ./lane.sh debug
	tests/vm/torture.sh debug

# The torture test (tests/vm/torture.sh): everything at once for TORTURE_S
# seconds (default 120) on the kernels the lane built (TORTURE_KERNELS).  make
# test runs it on 6.1; make test-all on 6.12, 7.x and the debug kernel too.
TORTURE_KERNELS ?= 6.1
test-torture:
	$(MAKE) -C tests/vm KERNELS="$(TORTURE_KERNELS)" test-torture

# Every stage runs even if an earlier one failed; the summary adds them up.
# Each has a time limit (NAME@SECONDS, tests/run-stages.sh), and none runs
# past TEST_DEADLINE when .ci/run sets it, so a hung stage costs its limit
# and the summary is always printed.
test: deps
	@if [ -x tests/vm/debug-prebuild.sh ]; then tests/vm/debug-prebuild.sh; fi
	@tests/run-stages.sh \
		"build@900:$(MAKE) build" \
		"clang@900:$(MAKE) check-clang" \
		"unit@900:$(MAKE) test-unit" \
		"valgrind@1200:$(MAKE) test-valgrind" \
		"fuse@1200:$(MAKE) test-fuse" \
		"conform@1200:$(MAKE) test-conform" \
		"preload@600:$(MAKE) test-preload" \
		"mount@600:$(MAKE) test-mount" \
		"cli@600:$(MAKE) test-cli" \
		"bench@600:$(MAKE) test-bench" \
		"rados@900:$(MAKE) test-rados" \
		"kmod@4500:$(MAKE) test-kmod" \
		"kguest@2400:$(MAKE) test-kmod-guest" \
		"torture@1500:$(MAKE) test-torture" \
		"kdebug@4500:$(MAKE) test-debug-quick"

# make test, then what does not fit CI's 90 minutes: the debug kernel's
# whole lane with the whole suite and the conformance check (its guest alone
# ran 56 minutes under TCG here, 2026-12-07) and the torture test on 6.12 and
# 7.x.  make test starts the debug kernel's
# build (~13 CPU-minutes) in the background at nice 10
# (tests/vm/debug-prebuild.sh) so that it overlaps the host stages.
test-all: deps
	@$(MAKE) test; r=$$?; \
	 tests/run-stages.sh \
		"kdebug-lane@5400:$(MAKE) test-debug VM_DEBUG_FS_ONLY=" \
		"torture-more@3600:$(MAKE) test-torture TORTURE_KERNELS='6.12 7'" && \
	 exit $$r

demo: deps build
	@if [ -x bench/demo.sh ]; then bench/demo.sh; else echo "demo: not there yet"; exit 1; fi

bench: deps build
	$(MAKE) -C bench all

bench-quick: deps build
	$(MAKE) -C bench quick

install: build
	@for d in $(SUBDIRS); do \
		if [ -f $$d/Makefile ]; then $(MAKE) -C $$d install || exit 1; fi; \
	done

uninstall:
	@for d in $(SUBDIRS); do \
		if [ -f $$d/Makefile ]; then $(MAKE) -C $$d uninstall || exit 1; fi; \
	done

clean:
	@for d in $(SUBDIRS) tests/unit tests/fs tests/vm kmod bench; do \
		if [ -f $$d/Makefile ]; then $(MAKE) -C $$d clean; fi; \
	done
	rm -rf policy/build-clang usmfs/build-clang
