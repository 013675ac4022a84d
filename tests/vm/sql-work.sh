#!/bin/sh
# sql-work.sh ROWS: the sqlite3 workload of issue 16 as SQL on stdout, used
# by the lane's srv-sqlite step (server-guest.sh) and bench/swapcmp.sh.
# WAL mode, a 2 MiB page cache; ROWS rows of 1 KiB inserted in one
# transaction, a third updated, half deleted, a checkpoint that truncates
# the WAL, VACUUM, integrity_check, a row count after each step.  What it
# prints when all is well: sql-work.sh ROWS --want.
n=${1:?usage: sql-work.sh ROWS [--want]}
case $n in *[!0-9]*|'') echo "sql-work.sh: ROWS must be a number" >&2; exit 2 ;; esac
if [ "${2:-}" = --want ]; then
	printf 'wal\nrows1|%s\nrows2|%s\nrows3|%s\n0|0|0\nok\nrows4|%s\n' \
		"$n" "$n" $((n / 2)) $((n / 2))
	exit 0
fi
cat <<EOT
PRAGMA journal_mode=WAL;
PRAGMA cache_size=-2000;
CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<$n)
INSERT INTO t SELECT x, randomblob(1024) FROM c;
COMMIT;
SELECT 'rows1', count(*) FROM t;
UPDATE t SET v = randomblob(1024) WHERE id % 3 = 0;
SELECT 'rows2', count(*) FROM t;
DELETE FROM t WHERE id % 2 = 0;
SELECT 'rows3', count(*) FROM t;
PRAGMA wal_checkpoint(TRUNCATE);
VACUUM;
PRAGMA integrity_check;
SELECT 'rows4', count(*) FROM t;
EOT
