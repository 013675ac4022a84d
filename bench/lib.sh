# bench/lib.sh: the parsers that turn the tools' raw output into the CSV
# rows of bench/results (sourced by run.sh and vm.sh; bench/check.sh runs
# them on fixed input).  bash; each reads a file or stdin and writes rows.

# parse_fio KERNEL RESULTS: CSV rows (without ratio) from the guest's
# "vmb: fio,JOB,ENGINE,NJ,FS,<terse v3>" lines.  Terse v3: read block at
# fields 6.. (6 io KiB, 7 bw KiB/s, 8 iops, 18-37 clat percentiles in us),
# write block at 47.. (47 io KiB, 48 bw, 49 iops, 59-78 percentiles).
# Bandwidth and IOPS are read+write; the percentiles are those of the
# direction that moved more data (as bench/fio-summary.py does).  Several
# runs of one job on one fs (FIO_REPS) give their mean.
parse_fio() {
	grep '^vmb: fio,' "$2" | sed 's/^vmb: fio,//' | awk -v k="$1" '
	function pct(base, want,   i, kv) {
		for (i = base; i < base + 20; i++) {
			split(t[i], kv, "%=")
			if (kv[1] + 0 == want) return kv[2] + 0
		}
		return 0
	}
	{
		split($0, c, ",")
		rest = substr($0, length(c[1] c[2] c[3] c[4]) + 5)
		n = split(rest, t, ";")
		if (n < 80 || t[1] != 3) next
		bw = (t[7] + t[48]) / 1024
		iops = t[8] + t[49]
		base = (t[47] > t[6]) ? 59 : 18
		key = c[1] "," c[2] "," c[3] "," c[4]
		if (!(key in cnt)) order[++nk] = key
		cnt[key]++; sbw[key] += bw; siops[key] += iops
		sp50[key] += pct(base, 50); sp99[key] += pct(base, 99)
	}
	END {
		for (i = 1; i <= nk; i++) { x = order[i]; m = cnt[x]
			printf "%s,%s,%.1f,%.0f,%.2f,%.2f\n", k, x, sbw[x] / m,
				siops[x] / m, sp50[x] / m, sp99[x] / m }
	}'
}

# ratios_fio ROWS: append the usmfs/tmpfs bandwidth ratio (tmpfs: 1.00).
ratios_fio() {
	awk -F, '
	{ row[NR] = $0; key[NR] = $1 "," $2 "," $3 "," $4; fs[NR] = $5
	  if ($5 == "tmpfs") base[$1 "," $2 "," $3 "," $4] = $6 }
	END { for (i = 1; i <= NR; i++) {
		b = base[key[i]]; split(row[i], f, ",")
		if (fs[i] == "tmpfs") r = "1.00"
		else if (b > 0) r = sprintf("%.2f", f[6] / b)
		else r = "nan"
		print row[i] "," r } }' "$1"
}

# faults_ratios [PREFIX]: faultbench CSV lines (fs,measure,us_per_4k,
# us_per_2m,faults) on stdin, each with the tmpfs and the hugetlbfs time of
# the same measure over its own appended (>1: faster; nan without such a
# line or a time), PREFIX first.  Per 4 KiB and per 2 MiB are the same
# touches divided differently: one ratio serves both.
faults_ratios() {
	awk -F, -v pfx="${1:-}" '
	function r(b, t) { return (t > 0 && b > 0) ? sprintf("%.2f", b / t) : "nan" }
	{ row[NR] = $0; if ($1 == "tmpfs") base[$2] = $3; if ($1 == "hugetlbfs") huge[$2] = $3 }
	END { for (i = 1; i <= NR; i++) { split(row[i], f, ",")
		print pfx row[i] "," r(base[f[2]], f[3]) "," r(huge[f[2]], f[3]) } }'
}

# parse_faults KERNEL RESULTS: the guest's "vmb: fault," lines with ratios.
parse_faults() {
	grep '^vmb: fault,' "$2" | sed 's/^vmb: fault,//' | faults_ratios "$1,"
}

# evlat_ratios: evictlat CSV lines on stdin (LABEL,PHASE,...; the ratio
# lines are dropped), each with p50 and p99 against the idle phase of the
# same label appended, from the medians of the slices' percentiles (fields
# 12 and 13).
evlat_ratios() {
	awk -F, '
	$2 == "ratio" { next }
	$2 == "idle" { i50[$1] = $12; i99[$1] = $13 }
	{ r[++n] = $0; k[n] = $1; p50[n] = $12; p99[n] = $13 }
	END { for (j = 1; j <= n; j++)
		printf "%s,%.2f,%.2f\n", r[j], i50[k[j]] ? p50[j] / i50[k[j]] : 0,
			i99[k[j]] ? p99[j] / i99[k[j]] : 0 }'
}

# parse_evlat RESULTS: the guest's "vmb: evlat," lines with their ratios.
parse_evlat() {
	grep '^vmb: evlat,' "$1" | sed 's/^vmb: evlat,//' | evlat_ratios
}

# meta_medians LOAD: metabench lines (FS,OP,COUNT,SECONDS,OPS_PER_S,
# US_PER_OP; one per round) on stdin; per FS and OP in first-seen order:
# FS,OP,COUNT,ROUNDS,median ops/s,median us/op,ratio of the median ops/s
# to tmpfs's (nan without tmpfs),LOAD.
meta_medians() {
	awk -F, -v load="$1" '
	function med(list,   v, k, i, j, t) {
		k = split(list, v, " ")
		for (i = 2; i <= k; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
		return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
	}
	NF == 6 { key = $1 "," $2; if (!(key in n)) order[++no] = key
		n[key]++; cnt[key] = $3; ops[key] = ops[key] " " $5; us[key] = us[key] " " $6 }
	END {
		for (i = 1; i <= no; i++) { k = order[i]; split(k, f, ",")
			o[k] = med(ops[k]); u[k] = med(us[k]) }
		for (i = 1; i <= no; i++) { k = order[i]; split(k, f, ",")
			b = o["tmpfs," f[2]]
			printf "%s,%s,%d,%.1f,%.3f,%s,%s\n", k, cnt[k], n[k], o[k], u[k],
				(b > 0 ? sprintf("%.3f", o[k] / b) : "nan"), load }
	}'
}
