#!/usr/bin/env python3
"""Summarise one fio JSON result as a CSV row fragment.

usage: fio-summary.py RESULT.json
prints: bw_MiBps,iops,lat_p50_us,lat_p99_us   (read+write combined; the
latency percentiles are those of the direction with more I/O)
"""
import json
import sys


def main():
    with open(sys.argv[1]) as f:
        text = f.read()
    # fio may print warnings before the JSON document.
    data = json.loads(text[text.index("{"):])
    job = data["jobs"][0]
    bw = iops = 0.0
    best = None
    for d in ("read", "write"):
        s = job[d]
        bw += s["bw"] / 1024.0
        iops += s["iops"]
        if s["total_ios"] and (best is None or s["total_ios"] > best["total_ios"]):
            best = s
    p50 = p99 = 0.0
    if best is not None:
        pct = best.get("clat_ns", {}).get("percentile", {})
        p50 = pct.get("50.000000", 0) / 1000.0
        p99 = pct.get("99.000000", 0) / 1000.0
    print(f"{bw:.1f},{iops:.0f},{p50:.2f},{p99:.2f}")


if __name__ == "__main__":
    main()
