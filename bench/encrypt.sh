#!/usr/bin/env bash
# Benchmark of `archiver encrypt` against gzip | age, pigz | age, zstd | age and age alone, on the same files in one
# run.
# Prints MB/s (input bytes per wall second), CPU seconds (user + sys) and peak RSS (largest process).
#
#   bash bench/encrypt.sh [SIZE_MIB]      (default 1024: a 1 GiB incompressible and a 1 GiB text-like file)
#   ARCHIVER= and BENCH_DATA= as in bench/common.sh; BENCH_REPEAT=1 for single runs
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-1024}"
bash scripts/install-deps.sh
. bench/common.sh
archiver="$(bench_archiver)"
# Outputs go to memory (/dev/shm) so the figures measure the tools, not the disk.
out="${BENCH_OUT:-/dev/shm/archiver-bench}"
mkdir -p "$out"
random_file="$(bench_file random "$size_mib")"
text_file="$(bench_file text "$size_mib")"
rm -f "$out/key.txt"
recipient="$("$archiver" key generate --output "$out/key.txt" 2>/dev/null)"

# measure NAME FILE COMMAND...: runs COMMAND $repeat times with the file cached and prints one table row with
# the fastest run (a shared 2-core machine is noisy; the best of three is what the tool can do).
repeat="${BENCH_REPEAT:-3}"
measure() {
  local name="$1" file="$2"; shift 2
  cat "$file" > /dev/null
  local best="" wall user sys rss
  for _ in $(seq "$repeat"); do
    rm -f "$out/o"
    /usr/bin/time -f "%e %U %S %M" -o "$out/time" "$@" > /dev/null 2>"$out/stderr" || { cat "$out/stderr"; exit 1; }
    read -r w u s r < "$out/time"
    if [ -z "$best" ] || awk -v a="$w" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best="$w"; wall="$w"; user="$u"; sys="$s"; rss="$r"
    fi
  done
  local bytes; bytes=$(stat -c %s "$file")
  local stored; stored=$(stat -c %s "$out/o")
  awk -v n="$name" -v f="$(basename "$file")" -v b="$bytes" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v o="$stored" \
    'BEGIN { printf "| %-34s | %-16s | %8.0f | %6.2f | %8.1f | %6.3f |\n", n, f, b / 1e6 / w, u + s, r / 1024, o / b }'
}

echo "| command | input | MB/s | CPU s | peak RSS MiB | stored/input |"
echo "|---|---|---:|---:|---:|---:|"
for file in "$random_file" "$text_file"; do
  measure "archiver encrypt --compress 0" "$file" "$archiver" encrypt -r "$recipient" --compress 0 --force "$file" -o "$out/o"
  measure "age -r" "$file" age -r "$recipient" -o "$out/o" "$file"
  measure "archiver encrypt --compress 1" "$file" "$archiver" encrypt -r "$recipient" --compress 1 --force "$file" -o "$out/o"
  measure "gzip -1 \| age -r" "$file" bash -c "gzip -1 -c '$file' | age -r '$recipient' -o '$out/o'"
  measure "pigz -1 -p 2 \| age -r" "$file" bash -c "pigz -1 -p 2 -c '$file' | age -r '$recipient' -o '$out/o'"
  measure "archiver encrypt --compress auto" "$file" "$archiver" encrypt -r "$recipient" --compress auto --force "$file" -o "$out/o"
  measure "archiver encrypt --compress 6" "$file" "$archiver" encrypt -r "$recipient" --compress 6 --force "$file" -o "$out/o"
  # zstd level 3 (zstd's default) beside stock zstd on two threads, the like-for-like peer.
  measure "archiver encrypt --compress zstd" "$file" "$archiver" encrypt -r "$recipient" --compress zstd --force "$file" -o "$out/o"
  measure "zstd -T2 -3 \| age -r" "$file" bash -c "zstd -q -T2 -3 -c '$file' | age -r '$recipient' -o '$out/o'"
done
echo
echo "decrypt:"
echo "| command | input | MB/s | CPU s | peak RSS MiB | stored/input |"
echo "|---|---|---:|---:|---:|---:|"
for file in "$random_file" "$text_file"; do
  "$archiver" encrypt -r "$recipient" --compress 1 --force "$file" -o "$out/enc.gz.age"
  measure "archiver decrypt (gzip -1 payload)" "$out/enc.gz.age" "$archiver" decrypt -i "$out/key.txt" --force "$out/enc.gz.age" -o "$out/o"
  measure "age -d \| gunzip" "$out/enc.gz.age" bash -c "age -d -i '$out/key.txt' '$out/enc.gz.age' | gzip -dc > '$out/o'"
  "$archiver" encrypt -r "$recipient" --compress zstd --force "$file" -o "$out/enc.zst.age"
  measure "archiver decrypt (zstd -3 payload)" "$out/enc.zst.age" "$archiver" decrypt -i "$out/key.txt" --force "$out/enc.zst.age" -o "$out/o"
  measure "age -d \| zstd -d" "$out/enc.zst.age" bash -c "age -d -i '$out/key.txt' '$out/enc.zst.age' | zstd -q -dc > '$out/o'"
done
rm -f "$out/o" "$out/enc.gz.age" "$out/enc.zst.age"
