#!/bin/bash
# Plot bench/results/*.csv to PNG with gnuplot: usmfs/tmpfs ratios per fio
# job, per metadata operation and per small-write engine, fault cost per
# filesystem, miss ratio per policy, swap-out throughput
# against the swap filesystem's bandwidth, swap-in latency per policy.
set -eu
res=$1
cd "$res"

# ratio_bars NAME TITLE: NAME.dat (label ratio) as bars against tmpfs's 1
ratio_bars() {
	gnuplot <<GP
set terminal pngcairo size 900,420 noenhanced
set output '$1.png'
set title '$2'
set style data histograms
set style fill solid 0.8
set yrange [0:*]
set ylabel 'usmfs / tmpfs'
set xtics rotate by -35
set grid ytics
plot '$1.dat' using 2:xtic(1) title 'ratio', 1 with lines dt 2 title 'tmpfs'
GP
}
if [ -s fio.csv ]; then
	awk -F, 'NR > 1 && $5 == "usmfs" { print $2 "-" $3 "-" $4 "j", $10 }' fio.csv > fio.dat
	ratio_bars fio "usmfs (FUSE) bandwidth as a ratio of tmpfs, same run"
fi
if [ -s meta.csv ]; then
	# per operation, each filesystem's ops/s as a ratio of tmpfs's
	awk -F, 'NR > 1 && $1 != "tmpfs" { print $2, $1, $7 }' meta.csv > meta.dat
	gnuplot <<'GP'
set terminal pngcairo size 900,420 noenhanced
set output 'meta.png'
set title 'metadata operations per second as a ratio of tmpfs, same run (median of the rounds)'
set style data histograms
set style histogram clustered
set style fill solid 0.8
set yrange [0:*]
set ylabel 'ops/s / tmpfs ops/s'
set grid ytics
set key outside
systems = system("awk '{print $2}' meta.dat | awk '!s[$0]++' | tr '\\n' ' '")
plot for [f in systems] '< awk -v f='.f.' ''$2 == f'' meta.dat' using 3:xtic(1) title f
GP
fi
if [ -s smallw.csv ]; then
	awk -F, 'NR > 1 && $5 == "usmfs" { print $3, $10 }' smallw.csv > smallw.dat
	ratio_bars smallw "usmfs (FUSE) 4 KiB random writes as a ratio of tmpfs, same run"
fi
if [ -s faults.csv ]; then
	awk -F, 'NR > 1 { print $1 "-" $2, $3 }' faults.csv > faults.dat
	gnuplot <<'GP'
set terminal pngcairo size 900,420 noenhanced
set output 'faults.png'
set title 'page-fault cost, microseconds per 4 KiB page (lower is better)'
set style data histograms
set style fill solid 0.8
set logscale y
set xtics rotate by -35
set grid ytics
plot 'faults.dat' using 2:xtic(1) title 'us per 4 KiB'
GP
fi
if [ -s replay.csv ]; then
	awk -F, 'NR > 1 && $2 == 10 { print $1, $3, $4 }' replay.csv > replay.dat
	gnuplot <<'GP'
set terminal pngcairo size 900,420 noenhanced
set output 'replay.png'
set title 'miss ratio per eviction policy, cache = 10% of footprint (lower is better)'
set style data histograms
set style histogram clustered
set style fill solid 0.8
set xtics rotate by -35
set grid ytics
set key outside
policies = system("awk '{print $2}' replay.dat | awk '!s[$0]++' | tr '\\n' ' '")
traces = system("awk '{print $1}' replay.dat | awk '!s[$0]++' | tr '\\n' ' '")
plot for [p in policies] '< awk -v p='.p.' ''$2 == p'' replay.dat' using 3:xtic(1) title p
GP
fi
if [ -s swapout.csv ]; then
	# per policy and set: the median of the rounds, and their range
	awk -F, '
	function med(list,   v, k, i, j, t) {
		k = split(list, v, " ")
		for (i = 2; i <= k; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
		lo = v[1]; hi = v[k]
		return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
	}
	NR > 1 && $1 != "base" { key = $2 "-" ($1 == "reclaim" ? "reclaim" : $3 "M")
		if (!(key in seen)) { seen[key] = 1; order[++n] = key }
		d[key] = d[key] " " $14; b[key] = b[key] " " $15 }
	END { for (i = 1; i <= n; i++) { k = order[i]
		md = med(d[k]); dl = lo; dh = hi; mb = med(b[k])
		print k, md, dl, dh, mb, lo, hi } }' swapout.csv > swapout.dat
	gnuplot <<'GP'
set terminal pngcairo size 900,420 noenhanced
set output 'swapout.png'
set title 'swap-out / swap filesystem write bandwidth (median of the rounds, range)'
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.8
set yrange [0:1<*]
set ylabel 'usmfs eviction / baseline'
set xtics rotate by -35
set grid ytics
set key outside
plot 'swapout.dat' using 2:3:4:xtic(1) title 'vs write+fdatasync', '' using 5:6:7 title 'vs buffered write', 0.8 with lines dt 2 title 'target 0.8'
GP
fi
if [ -s swapin.csv ]; then
	awk -F, 'NR > 1 { print $1 "-" $2 "M", $8, $10 }' swapin.csv > swapin.dat
	gnuplot <<'GP'
set terminal pngcairo size 900,420 noenhanced
set output 'swapin.png'
set title 'swap-in read latency under pressure, microseconds (lower is better)'
set style data histograms
set style histogram clustered
set style fill solid 0.8
set logscale y
set xtics rotate by -35
set grid ytics
set key outside
plot 'swapin.dat' using 2:xtic(1) title 'p50', '' using 3 title 'p99'
GP
fi
rm -f fio.dat meta.dat smallw.dat faults.dat replay.dat swapout.dat swapin.dat
