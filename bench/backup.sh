#!/usr/bin/env bash
# Backup and restore benchmark: archiver against restic, borg, rclone crypt and `pigz | age` on the same data in one
# run, like for like. Each peer's time is divided by archiver's on the same data in the same mode:
#   no compression: archiver compression 0     against restic --compression off, borg -C none, rclone crypt
#   gzip level 1:   archiver compression 1     against borg -C zlib,1 and `pigz -1 -p 2 < file | age -r`; plus
#                   `pigz -1 -p 2 < file > /dev/null` alone (no encryption, no output), the bound that the
#                   issue's "at least 0.8 × pigz -1 -p 2" target is read against (printed under the tables)
#   zstd level 3:   archiver compression zstd  against restic --compression auto (restic's zstd), borg -C zstd,3
# Data, generated once by bench/gen-data.py into BENCH_DATA: a SIZE_MIB incompressible file, a SIZE_MIB text-like
# file, a tree of FILES small files and a tree of RESCAN_FILES small files. Repositories and restores live in
# /dev/shm so the figures measure the tools, not the disk. Prints MB/s (or files/s), CPU seconds and peak RSS, and
# each peer's time as a ratio to archiver's; then the restores as a second table with the same columns, then one
# line per target of the issue that the rows do not show directly (gzip 1 against pigz alone, the rescan times).
#
#   bash bench/backup.sh [SIZE_MIB] [FILES] [RESCAN_FILES]   (defaults 1024, 20000, 100000: the whole suite)
#   SETS="large restore" bash bench/backup.sh               (only some parts: SETS is a list of these words)
#     large    the two large files: compression 0 and gzip 1 rows with their peers
#     zstd     the two large files: zstd rows with their peers
#     tree     the tree of FILES: first backup, then the unchanged rerun
#     rescan   the tree of RESCAN_FILES: unchanged rerun only (the first backup is made but not measured)
#     restore  after each measured first backup (large, zstd, tree), restore it into /dev/shm, time it and compare
#              it with the source (diff -r); a restore that differs is marked WRONG and the script exits 1
#   default SETS="large zstd tree rescan restore"; without `restore` only backups are measured.
#   SETS=tree bash bench/backup.sh 1024 100000     (the 100,000-file tree: first backup and unchanged rerun)
#   SETS=rescan bash bench/backup.sh 1024          (the issue's "unchanged rescan of 100,000 files")
#   ARCHIVER=path/to/archiver    use this binary instead of building .build-release
#   BENCH_DATA=dir               where the data sets are kept (default bench/data, ignored by git)
#   BENCH_OUT=dir                scratch for repositories and restores (default /dev/shm/archiver-bench-backup)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-1024}"
files="${2:-20000}"
rescan_files="${3:-100000}"
sets=" ${SETS:-large zstd tree rescan restore} "
has() { [[ "$sets" == *" $1 "* ]]; }

bash scripts/install-deps.sh
for tool in restic borg rclone age pigz; do
  command -v "$tool" >/dev/null || { echo "installing $tool"; apt-get install -y -qq "${tool/borg/borgbackup}" >/dev/null; }
done
. bench/common.sh
archiver="$(bench_archiver)"

# Absolute paths: the restore checks need to know where restic and borg put a source (under its full path).
data="$(bench_data)"
work="${BENCH_OUT:-/dev/shm/archiver-bench-backup}"
rm -rf "$work"
mkdir -p "$work"
work="$(realpath "$work")"

# large_set KIND: prints a folder holding only the SIZE_MIB file of KIND (random | text); the tools back up folders.
large_set() {
  local file dir
  file="$(bench_file "$1" "$size_mib")"
  dir="$data/single-${file##*/}"
  mkdir -p "$dir"
  [ -s "$dir/${file##*/}" ] || ln -f "$file" "$dir/" 2>/dev/null || cp "$file" "$dir/"
  echo "$dir"
}

export RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export RCLONE_CONFIG_BENCHCRYPT_TYPE=crypt RCLONE_CONFIG_BENCHCRYPT_REMOTE="$work/rclone"
RCLONE_CONFIG_BENCHCRYPT_PASSWORD="$(rclone obscure bench)"; export RCLONE_CONFIG_BENCHCRYPT_PASSWORD
recipient="$("$archiver" key generate --output "$work/key.txt" 2>/dev/null)"
export archiver work recipient

# Tools: archiver, restic, borg, rclone (crypt), pipe (`pigz -1 -p 2 | age`), pigz (pigz alone, nothing stored).
# MODE is the tool's own spelling of the compression (archiver's `compression:`, restic's --compression, borg's -C).

# prepare TOOL MODE SOURCE: a fresh repository for one measurement.
prepare() {
  local tool="$1" mode="$2" source="$3"
  rm -rf "$work/repo" "$work/rclone" "$work/state"
  mkdir -p "$work/repo"
  case "$tool" in
    archiver)
      cat > "$work/config.yml" <<YML
catalog: $work/state/catalog.sqlite
backend: "local:$work/repo"
recipients: [$recipient]
compression: $mode
sources:
  - local: $source
    remote: data
YML
      "$archiver" init --config "$work/config.yml" >/dev/null 2>&1 ;;
    restic) restic init -q -r "$work/repo" >/dev/null ;;
    borg) borg init -e repokey "$work/repo/b" >/dev/null 2>&1 ;;
    rclone | pipe | pigz) ;;
  esac
}

# run_backup TOOL MODE SOURCE: one backup. The pipe rows read the one file of a large set.
run_backup() {
  local tool="$1" mode="$2" source="$3"
  local file=("$source"/*)
  case "$tool" in
    archiver) "$archiver" backup --config "$work/config.yml" ;;
    restic) restic -q -r "$work/repo" backup --compression "$mode" "$source" ;;
    borg) borg create -C "$mode" "$work/repo/b::a$RANDOM$RANDOM" "$source" ;;
    rclone) rclone copy "$source" benchcrypt: ;;
    pipe) pigz -1 -p 2 < "${file[0]}" | age -r "$recipient" > "$work/repo/out.age" ;;
    pigz) pigz -1 -p 2 < "${file[0]}" > /dev/null ;;
  esac
}

# run_restore TOOL DEST NAME: restores the last backup into DEST (NAME: borg's archive, or the pipe's file name).
run_restore() {
  local tool="$1" dest="$2" name="$3"
  case "$tool" in
    archiver) "$archiver" restore --config "$work/config.yml" --identity "$work/key.txt" --to "$dest" ;;
    restic) restic -q -r "$work/repo" restore latest --target "$dest" ;;
    borg) cd "$dest" && borg extract "$work/repo/b::$name" ;;
    rclone) rclone copy benchcrypt: "$dest" ;;
    pipe) age -d -i "$work/key.txt" < "$work/repo/out.age" | pigz -d > "$dest/$name" ;;
  esac
}
export -f run_backup run_restore

# restored_root TOOL SOURCE DEST: where TOOL's restore into DEST puts the copy of SOURCE.
restored_root() {
  case "$1" in
    archiver) echo "$3/data" ;;         # the source's `remote:` name
    restic | borg) echo "$3$2" ;;       # the source's full path under DEST
    rclone | pipe) echo "$3" ;;
  esac
}

# timed FUNCTION ARGS...: runs run_backup or run_restore in a fresh bash under /usr/bin/time and sets wall, cpu
# (user + sys seconds) and rss (KiB, the largest process); on failure sets why (the exit status and stderr's end).
timed() {
  if ! /usr/bin/time -f "%e %U %S %M" -o "$work/time" bash -c 'set -o pipefail; "$@"' _ "$@" >/dev/null 2>"$work/err"
  then
    why="$(head -n 1 "$work/time"; tail -n 5 "$work/err")"
    return 1
  fi
  local user sys
  read -r wall user sys rss < "$work/time"
  cpu="$(echo "$user + $sys" | bc)"
}

header() {
  echo "| tool | data | rate | wall | CPU s | peak RSS MiB | time / archiver's |"
  echo "|---|---|---:|---:|---:|---:|---:|"
}

# row LABEL DATA AMOUNT UNIT(bytes|files) BASE: one table row from wall, cpu and rss; BASE is archiver's wall on the
# like-for-like row (empty when that row failed: no ratio then).
row() {
  # The label goes through the environment: awk -v would turn its `\|` (markdown's escaped pipe) into `|`.
  ROW_LABEL="$1" awk -v s="$2" -v a="$3" -v u="$4" -v b="$5" -v w="$wall" -v c="$cpu" -v r="$rss" 'BEGIN {
    l = ENVIRON["ROW_LABEL"]
    rate = (w <= 0) ? "-" : (u == "files") ? sprintf("%.0f files/s", a / w) : sprintf("%.0f MB/s", a / 1e6 / w)
    ratio = (b == "" || b <= 0) ? "" : sprintf("%.2f", w / b)
    printf "| %-40s | %-24s | %14s | %7.2f s | %6.2f | %7.1f | %s |\n", l, s, rate, w, c, r / 1024, ratio
  }'
}

problems=()
# problem MESSAGE: remembered for the end of the run, where it is printed again and turns the exit status to 1.
problem() {
  problems+=("$1")
  echo "!!! $1" >&2
}

# Peers are compared with the archiver row of their group (same data, like-for-like mode), measured just before.
archiver_wall="" archiver_restore_wall="" last_wall=""
# measure LABEL TOOL MODE SOURCE UNIT(bytes|files) RERUN(0|1): a fresh repository and one measured backup (after an
# unmeasured first one when RERUN); for a first backup with `restore` in SETS, then the measured restore of it.
measure() {
  local label="$1" tool="$2" mode="$3" source="$4" unit="$5" rerun="$6"
  local name amount
  name="$(basename "$source")"
  [ "$rerun" = 0 ] || name="$name (rerun)"
  if [ "$unit" = files ]; then amount=$(find "$source" -type f | wc -l); else amount=$(du -sbL "$source" | cut -f1); fi
  prepare "$tool" "$mode" "$source"
  if [ "$rerun" = 1 ]; then
    if ! run_backup "$tool" "$mode" "$source" >/dev/null 2>"$work/err"; then
      [ "$tool" = archiver ] && archiver_wall=""
      problem "$label on $name failed in the first, unmeasured backup: $(tail -n 5 "$work/err")"
      return 0
    fi
    sleep 1.2
  fi
  find "$source" -type f -print0 | xargs -0 cat > /dev/null
  last_wall=""
  [ "$tool" = archiver ] && archiver_wall=""
  if ! timed run_backup "$tool" "$mode" "$source"; then
    problem "$label on $name failed: $why"
    return 0
  fi
  last_wall="$wall"
  [ "$tool" = archiver ] && archiver_wall="$wall"
  row "$label" "$name" "$amount" "$unit" "$archiver_wall"
  if [ "$rerun" = 1 ] || [ "$tool" = pigz ] || ! has restore; then return 0; fi

  local dest="$work/restore" what="" rlabel="$label restore"
  rm -rf "$dest"
  mkdir -p "$dest"
  case "$tool" in
    borg) what="$(borg list --last 1 --short "$work/repo/b")" ;;
    pipe) local file=("$source"/*); what="$(basename "${file[0]}")"; rlabel="age -d \| pigz -d restore" ;;
  esac
  [ "$tool" = archiver ] && archiver_restore_wall=""
  if ! timed run_restore "$tool" "$dest" "$what"; then
    problem "$rlabel on $name failed: $why"
  else
    [ "$tool" = archiver ] && archiver_restore_wall="$wall"
    # A fast restore of the wrong bytes is worthless: every restore is compared with its source.
    if ! diff -r -q "$(restored_root "$tool" "$source" "$dest")" "$source" >"$work/diff" 2>&1; then
      problem "$rlabel on $name: the restored copy differs from the source ($(head -n 3 "$work/diff" | tr '\n' ' '))"
      rlabel="$rlabel **WRONG**"
    fi
    row "$rlabel" "$name" "$amount" "$unit" "$archiver_restore_wall" >> "$work/restore-rows"
  fi
  rm -rf "$dest"
}

notes=()
# finish: the restore table, the ratio notes and any problem, then the scratch folder goes; exit status 1 if a
# measurement failed or a restore was wrong.
finish() {
  local status=$?
  if [ -s "$work/restore-rows" ]; then
    echo
    echo "restore (time / archiver's: over archiver's restore of the same data and mode):"
    header
    cat "$work/restore-rows"
  fi
  [ ${#notes[@]} -eq 0 ] || { echo; printf '%s\n' "${notes[@]}"; }
  if [ ${#problems[@]} -gt 0 ]; then
    echo
    echo "!!! ${#problems[@]} PROBLEM(S): the rows above are incomplete or wrong"
    printf '!!! %s\n' "${problems[@]}"
    status=1
  fi
  rm -rf "$work"
  exit "$status"
}
trap finish EXIT

header
if has large || has zstd; then
  for kind in random text; do
    set_dir="$(large_set "$kind")"
    if has large; then
      measure "archiver --compress 0" archiver 0 "$set_dir" bytes 0
      measure "restic --compression off" restic off "$set_dir" bytes 0
      measure "borg -C none" borg none "$set_dir" bytes 0
      measure "rclone crypt" rclone 0 "$set_dir" bytes 0
      measure "archiver --compress 1" archiver 1 "$set_dir" bytes 0
      gzip_wall="$archiver_wall"
      measure "borg -C zlib,1" borg zlib,1 "$set_dir" bytes 0
      measure "pigz -1 -p 2 \| age -r" pipe 1 "$set_dir" bytes 0
      measure "pigz -1 -p 2 alone (no age, no output)" pigz 1 "$set_dir" bytes 0
      if [ -n "$gzip_wall" ] && [ -n "$last_wall" ]; then
        notes+=("$(awk -v p="$last_wall" -v a="$gzip_wall" -v f="$(basename "$set_dir")" 'BEGIN {
          printf "gzip 1 backup rate / pigz -1 -p 2 alone = %s on %s (target: at least 0.80 on the text file)",
            (a > 0 ? sprintf("%.2f", p / a) : "-"), f }')")
      fi
    fi
    if has zstd; then
      measure "archiver --compress zstd" archiver zstd "$set_dir" bytes 0
      measure "restic --compression auto (zstd)" restic auto "$set_dir" bytes 0
      measure "borg -C zstd,3" borg zstd,3 "$set_dir" bytes 0
    fi
  done
fi
if has tree; then
  set_dir="$(bench_tree "$files")"
  measure "archiver --compress 0" archiver 0 "$set_dir" files 0
  measure "restic --compression off" restic off "$set_dir" files 0
  measure "borg -C none" borg none "$set_dir" files 0
  measure "rclone crypt" rclone 0 "$set_dir" files 0
fi
# The unchanged rerun of the tree, then the rescan tree (skipped when it is the same tree, already measured).
for count in $(has tree && echo "$files") $(has rescan && { has tree && [ "$rescan_files" = "$files" ] || echo "$rescan_files"; }); do
  set_dir="$(bench_tree "$count")"
  measure "archiver (unchanged rerun)" archiver 0 "$set_dir" files 1
  rerun_walls="archiver ${last_wall:-failed} s"
  measure "restic (unchanged rerun)" restic off "$set_dir" files 1
  rerun_walls="$rerun_walls, restic ${last_wall:-failed} s"
  measure "borg (unchanged rerun)" borg none "$set_dir" files 1
  rerun_walls="$rerun_walls, borg ${last_wall:-failed} s"
  measure "rclone crypt (unchanged rerun)" rclone 0 "$set_dir" files 1
  notes+=("unchanged rerun of $count files: $rerun_walls (target at 100,000: archiver at most 1.5 s and faster than both)")
done
