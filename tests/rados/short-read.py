#!/usr/bin/env python3
# short-read.py prep FILE OFF / check FILE OFF (tests/rados/run.sh, stage 4)
#
# prep: read the page at OFF with O_DIRECT, so that the daemon holds it
# (the pages after it stay in the cluster) and the kernel does not cache it.
# check (the cluster down): a buffered 64K read at OFF may give the page at
# OFF (resident) and must fail or stop there; a page of zeroes after it is
# the kernel filling a short FUSE reply, wrong data.  Exit 0 ok, 1 wrong.
import mmap, os, sys

what, path, off = sys.argv[1], sys.argv[2], int(sys.argv[3])
if what == "prep":
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 4096)
    n = os.preadv(fd, [buf], off)
    sys.exit(0 if n == 4096 else 1)
fd = os.open(path, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
try:
    d = os.pread(fd, 65536, off)
except OSError as e:
    print(f"the read failed: {e.strerror}")
    sys.exit(0)
zero = [i for i in range(0, len(d), 4096) if d[i:i + 4096].count(0) == len(d[i:i + 4096])]
print(f"the read gave {len(d)} bytes, {len(zero)} page(s) of zeroes")
sys.exit(1 if zero else 0)
