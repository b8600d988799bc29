#!/usr/bin/env bash
# Retention benchmark: `archiver forget` over a catalog of 100,000 file versions (1,000 paths × 100 versions, one
# content and object each, runs 12 hours apart), with keep: {last: 3, daily: 7, weekly: 4, monthly: 12}.
# The catalog is a real one (`archiver init` and one backup), filled in bulk with sqlite3 in a second or two. Prints
# the dry run's time and the real pass's selection time (catalog work before any backend delete; the target is
# under 5 s) and total time. The objects are not on the target, so the deletes measure the per-object overhead of
# the local backend only.
#
#   bash bench/forget.sh [PATHS] [VERSIONS_PER_PATH]     (defaults 1000 and 100)
#   ARCHIVER=/path/to/archiver bash bench/forget.sh       (skip the release build)
#   BUILD_ONLY=1 bash bench/forget.sh                     (build the catalog, print where it is, stop)
set -euo pipefail
cd "$(dirname "$0")/.."
paths="${1:-1000}"
per_path="${2:-100}"
command -v sqlite3 >/dev/null || apt-get install -y -qq sqlite3 >/dev/null
. bench/common.sh
ARCHIVER="$(bench_archiver)"
work="${BENCH_OUT:-/dev/shm/archiver-bench-forget}"
rm -rf "$work"
mkdir -p "$work/src" "$work/usb"
echo "one small file" > "$work/src/readme.txt"
"$ARCHIVER" key generate --output "$work/key.txt" > "$work/recipient.txt" 2>/dev/null
cat > "$work/config.yml" <<YAML
catalog: $work/catalog.sqlite
backend: "local:$work/usb"
recipients: [$(cat "$work/recipient.txt")]
timezone: UTC
keep: {last: 3, daily: 7, weekly: 4, monthly: 12}
sources:
  - local: $work/src
    remote: home
YAML
"$ARCHIVER" init --config "$work/config.yml" >/dev/null 2>&1
"$ARCHIVER" backup --config "$work/config.yml" >/dev/null 2>&1

start=$(date +%s.%N)
sqlite3 "$work/catalog.sqlite" <<SQL
PRAGMA foreign_keys = ON;
BEGIN;
CREATE TEMP TABLE p AS SELECT (SELECT id FROM repositories LIMIT 1) AS repo,
    (SELECT coalesce(max(id), 0) FROM runs) AS run0, (SELECT coalesce(max(id), 0) FROM contents) AS c0;
CREATE TEMP TABLE n(i INTEGER PRIMARY KEY);
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < max($paths, $per_path))
INSERT INTO n SELECT i FROM r;
INSERT INTO runs (id, repository_id, started_at, finished_at, status, dry_run)
SELECT run0 + i, repo, 1735689600000000000 + i * 43200000000000, 1735689600000000000 + i * 43200000000000 + 60000000000,
    'completed', 0
FROM n, p WHERE i <= $per_path;
INSERT INTO contents (id, repository_id, plaintext_sha256, plaintext_size, encrypted, recipients, compression,
    format_id, stored_size, created_run)
SELECT c0 + (a.i - 1) * $per_path + k.i, repo, randomblob(32), 1000, 1, 'age1bench', 'gzip:6', 'bench', 1100, run0 + k.i
FROM n a, n k, p WHERE a.i <= $paths AND k.i <= $per_path;
INSERT INTO objects (repository_id, content_id, segment, name, stored_size, stored_sha256, plaintext_offset,
    plaintext_size)
SELECT repo, c.id, 0, repo || '/data/' || lower(hex(randomblob(1))) || '/' || lower(hex(randomblob(16))) || '.age',
    1100, randomblob(32), 0, 1000
FROM contents c, p WHERE c.id > c0;
INSERT INTO versions (repository_id, source, dir, name, display, kind, size, mtime_ns, ctime_ns, inode, mode, uid,
    gid, content_id, first_run, end_run)
SELECT repo, 'home', CAST('bench' AS BLOB), CAST('f' || a.i AS BLOB), 'home/bench/f' || a.i, 'file', 1000, k.i,
    k.i, a.i, 33188, 0, 0, c0 + (a.i - 1) * $per_path + k.i, run0 + k.i,
    CASE WHEN k.i < $per_path THEN run0 + k.i + 1 END
FROM n a, n k, p WHERE a.i <= $paths AND k.i <= $per_path;
COMMIT;
SQL
end=$(date +%s.%N)
versions=$(sqlite3 "$work/catalog.sqlite" "SELECT count(*) FROM versions")
printf 'built a catalog of %s versions in %.1f s\n' "$versions" "$(echo "$end - $start" | bc)"

[ -n "${BUILD_ONLY:-}" ] && { echo "catalog at $work/catalog.sqlite, config at $work/config.yml"; exit 0; }

start=$(date +%s.%N)
"$ARCHIVER" forget --dry-run --json --config "$work/config.yml" > "$work/dry.json"
end=$(date +%s.%N)
printf 'forget --dry-run: %.2f s in all; %s\n' "$(echo "$end - $start" | bc)" "$(cat "$work/dry.json")"

start=$(date +%s.%N)
"$ARCHIVER" forget --json --config "$work/config.yml" > "$work/forget.json"
end=$(date +%s.%N)
printf 'forget: %.2f s in all (with the deletes); %s\n' "$(echo "$end - $start" | bc)" "$(cat "$work/forget.json")"
left=$(sqlite3 "$work/catalog.sqlite" "SELECT count(*) FROM versions")
echo "versions left: $left"
