#!/usr/bin/env bash
# The daemon's memory over scheduled runs: `archiver daemon` with `schedule: "* * * * *"` over a tree holding one
# large file (default 4 GiB) and a few small ones, against the local backend and the fake Baidu Netdisk at
# vip_type 0 (4 MiB slices, 4 GB objects, so a 4 GiB file is two segments). After the third completed run it
# sends SIGTERM and prints the process's peak RSS (VmHWM) beside the bound the issue sets:
# 64 MiB + upload_concurrency x slice size.
#
#   bash bench/daemon-rss.sh [SIZE_MIB] [RUNS]          (defaults 4096, 3)
#   CHANGE=1 bash bench/daemon-rss.sh                   (append 1 MiB to the large file before every run after
#                                                        the first, so every run uploads it again)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-4096}"
runs="${2:-3}"
concurrency=2
bash scripts/install-deps.sh >/dev/null
swift build -c release --scratch-path .build-release --product archiver >/dev/null
swift build -c release --scratch-path .build-release --product baidu-fake >/dev/null
bin="$(swift build -c release --scratch-path .build-release --show-bin-path)"
archiver="$bin/archiver"

data="bench/data"
work="${BENCH_OUT:-/dev/shm/archiver-bench-daemon}"
rm -rf "$work"
mkdir -p "$data" "$work/src/docs"
[ -s "$data/random-$size_mib.bin" ] || python3 bench/gen-data.py random "$size_mib" "$data/random-$size_mib.bin"
cp "$data/random-$size_mib.bin" "$work/src/video.bin"
for i in $(seq 1 50); do head -c $((i * 1000)) /dev/urandom > "$work/src/docs/note-$i.txt"; done
recipient="$("$archiver" key generate --output "$work/key.txt" 2>/dev/null)"

coproc FAKE { "$bin/baidu-fake" --data "$work/fake" --port 0 --app-name bench --vip-type 0 --exit-on-stdin-eof; }
read -r line <&"${FAKE[0]}"
url="${line##* }"

# daemon BACKEND LABEL BOUND_MIB: runs the daemon until $runs runs completed, prints one table row.
daemon() {
  local backend="$1" label="$2" bound="$3"
  rm -rf "$work/state" "$work/repo" "$work/log"
  mkdir -p "$work/repo"
  cat > "$work/config.yml" <<YML
catalog: $work/state/catalog.sqlite
backend: "$backend"
recipients: [$recipient]
compression: auto
schedule: "* * * * *"
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
  if [[ "$backend" == baidu:* ]]; then
    bash bench/fake-token.sh "$url" | "$archiver" import-token --config "$work/config.yml" - >/dev/null
  fi
  "$archiver" init --config "$work/config.yml" >/dev/null 2>&1
  local started=$SECONDS
  "$archiver" daemon --config "$work/config.yml" 2>"$work/log" &
  local pid=$! done=0 hwm=0 anon=0 file=0 a f
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.2
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "$hwm")
    # The split of the resident set: private memory (heap, buffers) and mapped files (code and libraries,
    # clean pages the kernel can drop under pressure), each at its own peak.
    read -r a f < <(awk '/^RssAnon/ {a = $2} /^RssFile/ {f = $2} END {print a + 0, f + 0}' "/proc/$pid/status" 2>/dev/null || echo 0 0)
    [ "$a" -gt "$anon" ] && anon=$a
    [ "$f" -gt "$file" ] && file=$f
    # A run that did not complete would never count: stop and show why instead of waiting for ever.
    if grep -q "daemon: run \(partial\|failed\)" "$work/log"; then
      kill -TERM "$pid"; wait "$pid" || true
      echo "$label: a run did not complete:"; grep -v "^progress" "$work/log" | tail -20; exit 1
    fi
    local now_done
    now_done=$(grep -c "daemon: run completed" "$work/log" || true)
    if [ "$now_done" -gt "$done" ]; then
      done=$now_done
      if [ "$done" -ge "$runs" ]; then break; fi
      [ "${CHANGE:-0}" = 1 ] && head -c 1048576 /dev/urandom >> "$work/src/video.bin"
    fi
  done
  kill -TERM "$pid"; wait "$pid" || { echo "$label: the daemon did not exit 0"; cat "$work/log"; exit 1; }
  grep -q "run failed\|FAILED" "$work/log" && { echo "$label: a run failed"; cat "$work/log"; exit 1; }
  awk -v l="$label" -v r="$hwm" -v b="$bound" -v n="$done" -v s=$((SECONDS - started)) -v a="$anon" -v f="$file" 'BEGIN {
    printf "| %-26s | %d | %5d s | %7.1f | %7.1f | %7.1f | %5d | %s |\n", l, n, s, r / 1024, a / 1024, f / 1024, b, (r / 1024 <= b ? "yes" : "NO") }'
}

echo "| daemon, $size_mib MiB file + 50 small | runs | wall | peak RSS MiB | of it private (peak) | mapped files (peak) | bound MiB | within |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
daemon "local:$work/repo" "local backend" 64
daemon "baidu:daemon" "baidu fake, vip_type 0" $((64 + concurrency * 4))
