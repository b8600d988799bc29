#!/usr/bin/env bash
# Upload benchmark: a large file to the fake Baidu Netdisk over loopback, beside the same file to a local
# directory and one pipeline pass alone, at compression 0 and 1, in one run.
#
#   local backend   archiver backup to local:DIR (one pass, written to /dev/shm)
#   one pass        archiver encrypt FILE -o /dev/null: what pass 1 (hashes only) costs
#   baidu fake      archiver backup to baidu: (pass 1, precreate, pass 2 + slices in parallel, create)
#
# Prints MB/s (file bytes per wall second), CPU seconds and archiver's peak RSS. The fake runs as a separate
# process on the same 2 cores (its CPU is not counted), and stores what it receives in /dev/shm.
#
#   bash bench/baidu.sh [SIZE_MIB] [UPLOAD_CONCURRENCY] [VIP_TYPE]     (defaults 2048, 2, 0)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-2048}"
concurrency="${2:-2}"
vip="${3:-0}"
bash scripts/install-deps.sh
swift build -c release --scratch-path .build-release --product archiver >/dev/null
swift build -c release --scratch-path .build-release --product baidu-fake >/dev/null
bin="$(swift build -c release --scratch-path .build-release --show-bin-path)"
archiver="$bin/archiver"

data="bench/data"
work="${BENCH_OUT:-/dev/shm/archiver-bench-baidu}"
rm -rf "$work"
mkdir -p "$data" "$work/src"
[ -s "$data/random-$size_mib.bin" ] || python3 bench/gen-data.py random "$size_mib" "$data/random-$size_mib.bin"
ln -f "$data/random-$size_mib.bin" "$work/src/video.bin" 2>/dev/null || cp "$data/random-$size_mib.bin" "$work/src/video.bin"
recipient="$("$archiver" key generate --output "$work/key.txt" 2>/dev/null)"

# The fake, on a free port; it exits when this script's end of its stdin closes.
coproc FAKE { "$bin/baidu-fake" --data "$work/fake" --port 0 --app-name bench --vip-type "$vip" --exit-on-stdin-eof; }
read -r line <&"${FAKE[0]}"
url="${line##* }"
echo "fake: $url (vip_type $vip), upload_concurrency $concurrency"

# config BACKEND COMPRESSION: a fresh catalog and config for one measurement.
config() {
  rm -rf "$work/state" "$work/repo"
  mkdir -p "$work/repo"
  cat > "$work/config.yml" <<YML
catalog: $work/state/catalog.sqlite
backend: "$1"
recipients: [$recipient]
compression: $2
baidu:
  app_name: bench
  app_key: test-app-key
  secret_key: test-secret-key
  token_file: $work/token.json
  upload_concurrency: $concurrency
  endpoints: {oauth: "$url", api: "$url", upload: "$url"}
sources:
  - local: $work/src
    remote: data
YML
  chmod 600 "$work/config.yml"
}

bytes=$(stat -c %s "$work/src/video.bin")
# measure LABEL COMMAND...: one timed run, one table row.
measure() {
  local label="$1"; shift
  cat "$work/src/video.bin" > /dev/null
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { echo "$label failed:"; cat "$work/err"; exit 1; }
  read -r wall user sys rss < "$work/time"
  awk -v l="$label" -v b="$bytes" -v w="$wall" -v c="$(echo "$user + $sys" | bc)" -v r="$rss" 'BEGIN {
    printf "| %-34s | %8.0f MB/s | %7.2f s | %6.2f | %7.1f |\n", l, b / 1e6 / w, w, c, r / 1024 }'
}

echo "| $((size_mib)) MiB random file | rate | wall | CPU s | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|"
for level in 0 1; do
  config "local:$work/repo" "$level"
  "$archiver" init --config "$work/config.yml" >/dev/null 2>&1
  measure "local backend, --compress $level" "$archiver" backup --config "$work/config.yml"
  measure "one pass (encrypt), --compress $level" "$archiver" encrypt --compress "$level" -r "$recipient" -o /dev/null --force "$work/src/video.bin"
  config "baidu:run$level" "$level"
  bash bench/fake-token.sh "$url" | "$archiver" import-token --config "$work/config.yml" - >/dev/null
  "$archiver" init --config "$work/config.yml" >/dev/null 2>&1
  measure "baidu fake, --compress $level" "$archiver" backup --config "$work/config.yml"
  rm -rf "$work/repo"
done
python3 -c 'import sys,urllib.request as u; print(u.urlopen(sys.argv[1] + "/__fake/stats").read().decode())' "$url"
