#!/usr/bin/env python3
"""swapcmp-numpy.py PATH MIB: a numpy memmap of MIB MiB of float64 at PATH
(bench/swapcmp.sh's real program): filled in order, summed twice in order,
then 64 rounds of 65536 random gathers from its first eighth (a hot set);
every sum is checked against the closed form.  Exit 1 on a wrong sum."""
import sys

import numpy as np


def main():
    if len(sys.argv) != 3 or not sys.argv[2].isdigit() or int(sys.argv[2]) < 1:
        print("usage: swapcmp-numpy.py PATH MIB", file=sys.stderr)
        return 2
    n = int(sys.argv[2]) << 17          # float64 elements of MIB MiB
    chunk = 1 << 20
    a = np.memmap(sys.argv[1], dtype=np.float64, mode="w+", shape=(n,))
    for i in range(0, n, chunk):
        a[i:i + chunk] = np.arange(i, min(i + chunk, n), dtype=np.float64)
    want = float(n) * (n - 1) / 2
    for _ in range(2):
        s = 0.0
        for i in range(0, n, chunk):
            s += float(a[i:i + chunk].sum())
        if s != want:
            print(f"swapcmp-numpy: sum {s}, want {want}", file=sys.stderr)
            return 1
    rng = np.random.default_rng(16)
    hot = n // 8
    for _ in range(64):
        idx = rng.integers(0, hot, 65536)
        if not np.array_equal(a[idx], idx.astype(np.float64)):
            print("swapcmp-numpy: a gather read wrong values", file=sys.stderr)
            return 1
    del a
    return 0


if __name__ == "__main__":
    sys.exit(main())
