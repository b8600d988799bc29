#!/usr/bin/env bash
# Backup benchmark: archiver against restic, borg and rclone crypt on the same data in one run, like for like:
#   no compression: archiver --compress 0, restic --compression off, borg -C none, rclone crypt
#   fast compression: archiver --compress 1 (gzip), borg -C zlib,1
# Data: a 1 GiB incompressible file, a 1 GiB text-like file, a tree of 20,000 small files, then an unchanged rerun
# of the tree. Repositories live in /dev/shm so the figures measure the tools, not the disk. Prints MB/s (or
# files/s), CPU seconds and peak RSS, and each peer's time as a ratio to archiver's.
#
#   bash bench/backup.sh [SIZE_MIB] [FILES]     (defaults 1024 and 20000)
#   SETS=tree bash bench/backup.sh 1024 100000  (only the tree of small files: first backup and unchanged rerun)
#   SETS=rescan bash bench/backup.sh 1024 100000 (only the unchanged reruns of the tree)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-1024}"
files="${2:-20000}"
bash scripts/install-deps.sh
for tool in restic borg rclone; do
  command -v "$tool" >/dev/null || { echo "installing $tool"; apt-get install -y -qq "${tool/borg/borgbackup}" >/dev/null; }
done
swift build -c release --scratch-path .build-release --product archiver >/dev/null
archiver="$(swift build -c release --scratch-path .build-release --show-bin-path)/archiver"

data="bench/data"
work="${BENCH_OUT:-/dev/shm/archiver-bench-backup}"
rm -rf "$work"
mkdir -p "$data" "$work"
[ -s "$data/random-$size_mib.bin" ] || python3 bench/gen-data.py random "$size_mib" "$data/random-$size_mib.bin"
[ -s "$data/text-$size_mib.txt" ] || python3 bench/gen-data.py text "$size_mib" "$data/text-$size_mib.txt"
if [ ! -d "$data/tree-$files" ]; then
  python3 - "$data/tree-$files" "$files" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
words = ["photo", "video", "note", "backup", "family", "trip", "2024", "the", "and", "of"]
for i in range(count):
    d = os.path.join(root, f"d{i % 100:02d}", f"e{(i // 100) % 20:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06d}.txt"), "w") as f:
        f.write(" ".join(rng.choice(words) for _ in range(rng.randint(50, 1500))))
PY
fi
for set in "random-$size_mib.bin" "text-$size_mib.txt"; do
  mkdir -p "$data/single-$set" && ln -f "$data/$set" "$data/single-$set/$set" 2>/dev/null || cp -n "$data/$set" "$data/single-$set/"
done

export RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export RCLONE_CONFIG_BENCHCRYPT_TYPE=crypt RCLONE_CONFIG_BENCHCRYPT_REMOTE="$work/rclone"
RCLONE_CONFIG_BENCHCRYPT_PASSWORD="$(rclone obscure bench)"; export RCLONE_CONFIG_BENCHCRYPT_PASSWORD
recipient="$("$archiver" key generate --output "$work/key.txt" 2>/dev/null)"

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
  - local: $(realpath "$source")
    remote: data
YML
      "$archiver" init --config "$work/config.yml" >/dev/null 2>&1 ;;
    restic) restic init -q -r "$work/repo" >/dev/null ;;
    borg) borg init -e repokey "$work/repo/b" >/dev/null 2>&1 ;;
    rclone) ;;
  esac
}

# run_backup TOOL MODE SOURCE: one backup.
run_backup() {
  local tool="$1" mode="$2" source="$3"
  case "$tool" in
    archiver) "$archiver" backup --config "$work/config.yml" ;;
    restic) restic -q -r "$work/repo" backup --compression "$mode" "$source" ;;
    borg) borg create -C "$mode" "$work/repo/b::a$RANDOM$RANDOM" "$source" ;;
    rclone) rclone copy "$source" benchcrypt: ;;
  esac
}

archiver_wall=""
# measure LABEL TOOL MODE SOURCE UNIT(bytes|files) RERUN(0|1)
measure() {
  local label="$1" tool="$2" mode="$3" source="$4" unit="$5" rerun="$6"
  prepare "$tool" "$mode" "$source"
  if [ "$rerun" = 1 ]; then run_backup "$tool" "$mode" "$source" >/dev/null 2>&1; sleep 1.2; fi
  find "$source" -type f -print0 | xargs -0 cat > /dev/null
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" bash -c "$(declare -f run_backup); archiver='$archiver' work='$work'; run_backup $tool '$mode' '$source'" >/dev/null 2>"$work/err" \
    || { echo "$label failed:"; cat "$work/err"; return; }
  read -r wall user sys rss < "$work/time"
  local amount
  if [ "$unit" = files ]; then amount=$(find "$source" -type f | wc -l); else amount=$(du -sb "$source" | cut -f1); fi
  # Peers are compared with the archiver row just above them (the same data, the like-for-like mode).
  [ "$tool" = archiver ] && archiver_wall="$wall"
  local ratio="$archiver_wall"
  awk -v l="$label" -v s="$(basename "$source")$([ "$rerun" = 1 ] && echo ' (rerun)')" -v a="$amount" -v u="$unit" -v w="$wall" \
      -v c="$(echo "$user + $sys" | bc)" -v r="$rss" -v b="$ratio" 'BEGIN {
    rate = (u == "files") ? sprintf("%.0f files/s", a / w) : sprintf("%.0f MB/s", a / 1e6 / w)
    printf "| %-30s | %-24s | %14s | %6.2f s | %6.2f | %7.1f | %s |\n", l, s, rate, w, c, r / 1024, (b == "" ? "" : sprintf("%.2f", w / b))
  }'
}

echo "| tool | data | rate | wall | CPU s | peak RSS MiB | time / archiver's |"
echo "|---|---|---:|---:|---:|---:|---:|"
sets="${SETS:-large tree}"
[[ " $sets " == *" large "* ]] && for set in "single-random-$size_mib.bin" "single-text-$size_mib.txt"; do
  measure "archiver --compress 0" archiver 0 "$data/$set" bytes 0
  measure "restic --compression off" restic off "$data/$set" bytes 0
  measure "borg -C none" borg none "$data/$set" bytes 0
  measure "rclone crypt" rclone 0 "$data/$set" bytes 0
  measure "archiver --compress 1" archiver 1 "$data/$set" bytes 0
  measure "borg -C zlib,1" borg zlib,1 "$data/$set" bytes 0
done
if [[ " $sets " == *" tree "* ]]; then
  measure "archiver --compress 0" archiver 0 "$data/tree-$files" files 0
  measure "restic --compression off" restic off "$data/tree-$files" files 0
  measure "borg -C none" borg none "$data/tree-$files" files 0
  measure "rclone crypt" rclone 0 "$data/tree-$files" files 0
fi
[[ " $sets " == *" tree "* || " $sets " == *" rescan "* ]] || { rm -rf "$work"; exit 0; }
measure "archiver (unchanged rerun)" archiver 0 "$data/tree-$files" files 1
measure "restic (unchanged rerun)" restic off "$data/tree-$files" files 1
measure "borg (unchanged rerun)" borg none "$data/tree-$files" files 1
measure "rclone crypt (unchanged rerun)" rclone 0 "$data/tree-$files" files 1
rm -rf "$work"
