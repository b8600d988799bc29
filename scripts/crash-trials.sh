#!/usr/bin/env bash
# Crash trials: `archiver backup` is killed with SIGKILL at a random moment, then run again to completion, and
# the result is checked, N times per backend:
#   (a) a restore into a fresh folder equals the source (every file, byte for byte, nothing extra);
#   (b) the catalog passes `PRAGMA integrity_check`, right after the kill (on a copy) and after the rerun;
#   (c) every object the catalog claims exists with its size and stored SHA-256 (`verify --stored`) and decrypts
#       to its plaintext SHA-256 (`verify --deep`).
# The tree has ~200 small files (some empty, nested folders) and one large file: for Baidu (the fake, 64 KiB
# slices, 1 MiB largest object) it spans several segments of many slices each. Before each run a few files
# change (appends, replacements, truncations, new and deleted files, a block of the large file), and in some
# trials again between the kill and the rerun, so resumes meet changed files. One trial in four kills the
# resumed run too before the final one. Every tenth trial starts a fresh repository (a full first backup).
# The kill delay is drawn uniformly over the run's typical duration, measured first.
#
#   scripts/crash-trials.sh [N] [local|baidu|both]     (N default 100, backend default both)
#
# Environment: SCRATCH (build folder, default .build), CONFIGURATION (debug or release, default debug), BIN (a
# folder holding archiver and baidu-fake already built: nothing is built),
# SEED (random seed, default the time), KEEP=1 (keep the work folders), BIG_LOCAL / BIG_BAIDU (large file bytes),
# TMPDIR (where the work folders go, default /tmp).
# Exits non-zero when any trial loses or damages a file or fails a check.
set -euo pipefail
cd "$(dirname "$0")/.."
trials="${1:-100}"
which="${2:-both}"
case "$which" in local | baidu | both) ;; *) echo "backend must be local, baidu or both" >&2; exit 64 ;; esac
scratch="${SCRATCH:-.build}"
configuration="${CONFIGURATION:-debug}"
seed="${SEED:-$(date +%s)}"
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing: run scripts/install-deps.sh" >&2; exit 1; }

if [ -n "${BIN:-}" ]; then
  bin="$(cd "$BIN" && pwd)"
  configuration="prebuilt ($bin)"
else
  build=(swift build -c "$configuration" --scratch-path "$scratch")
  "${build[@]}" --product archiver >/dev/null
  "${build[@]}" --product baidu-fake >/dev/null
  bin="$("${build[@]}" --show-bin-path)"
fi
archiver="$bin/archiver"
helper="$(pwd)/scripts/crash-trials.py"
export ARCHIVER_BAIDU_RETRY_SCALE=0.01
RANDOM=$((seed % 32768))
echo "crash trials: $trials per backend ($which), build: $configuration, seed $seed"

# A uniform random number of seconds in [0, limit), to the millisecond.
uniform() { python3 -c "import random,sys; random.seed(sys.argv[2]); print(f'{random.uniform(0, float(sys.argv[1])):.3f}')" "$1" "$RANDOM$RANDOM"; }

# integrity CATALOG: prints "ok" or the problems; works on a copy so the kill's state is left for the rerun.
integrity() {
  local copy
  copy="$(mktemp -d)"
  cp "$1" "$copy/c.sqlite"
  [ -f "$1-wal" ] && cp "$1-wal" "$copy/c.sqlite-wal"
  sqlite3 "$copy/c.sqlite" "PRAGMA integrity_check;" 2>&1 | tr '\n' ' ' | sed 's/ $//'
  rm -rf "$copy"
}

run_backend() {
  local kind="$1" work big
  work="$(mktemp -d "${TMPDIR:-/tmp}/archiver-crash-$kind.XXXXXX")"
  if [ "$kind" = local ]; then big="${BIG_LOCAL:-$((8 << 20))}"; else big="${BIG_BAIDU:-$(((3 << 20) + 12345))}"; fi
  python3 "$helper" make "$work/src" "$big" "$seed" || return 1
  local recipient fake_pid="" url=""
  recipient="$("$archiver" key generate --output "$work/key.txt" 2>/dev/null)"
  if [ "$kind" = baidu ]; then
    mkfifo "$work/fake-in"
    "$bin/baidu-fake" --data "$work/fake" --port 0 --slice-size 65536 --max-file-size 1048576 \
      --exit-on-stdin-eof <"$work/fake-in" >"$work/fake-out" 2>"$work/fake.log" &
    fake_pid=$!
    exec {fake_stdin}>"$work/fake-in"
    for _ in $(seq 1 300); do grep -q listening "$work/fake-out" 2>/dev/null && break; sleep 0.1; done
    url="$(sed -n 's/.*listening on //p' "$work/fake-out")"
  fi

  local generation=0 config="$work/config.yml" catalog
  # write_config GENERATION: a fresh catalog and a fresh target (folder or Baidu subfolder) per generation.
  write_config() {
    catalog="$work/state-$1/catalog.sqlite"
    local backend="local:$work/target-$1"
    [ "$kind" = baidu ] && backend="baidu:g$1"
    mkdir -p "$work/target-$1"
    cat >"$config" <<YML
catalog: $catalog
backend: "$backend"
recipients: [$recipient]
identity: $work/key.txt
compression: auto
sources:
  - local: $work/src
    remote: home
YML
    if [ "$kind" = baidu ]; then
      cat >>"$config" <<YML
baidu:
  app_name: e2bdy
  app_key: test-app-key
  secret_key: test-secret-key
  token_file: $work/token.json
  upload_concurrency: 2
  slice_size: 65536
  max_object_size: 1MiB
  endpoints: {oauth: "$url", api: "$url", upload: "$url"}
YML
    fi
    chmod 600 "$config"
    "$archiver" init --config "$config" >/dev/null 2>&1
  }
  if [ "$kind" = baidu ]; then
    write_config 0
    curl -s -X POST -d '{}' "$url/__fake/issue-token" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])' \
      | "$archiver" import-token --config "$config" - >/dev/null
  fi

  # The typical durations: a first backup, then one after the changes a trial makes, in a throwaway repository.
  write_config 0
  local start full incremental
  start=$(date +%s.%N)
  "$archiver" backup --config "$config" >/dev/null 2>&1
  full=$(echo "$(date +%s.%N) - $start" | bc)
  python3 "$helper" mutate "$work/src" "$seed" big >/dev/null
  start=$(date +%s.%N)
  "$archiver" backup --config "$config" >/dev/null 2>&1
  incremental=$(echo "$(date +%s.%N) - $start" | bc)
  printf "%s: a first backup takes %.2f s, a trial's backup %.2f s (large file %d bytes)\n" \
    "$kind" "$full" "$incremental" "$big"

  local trial recovered=0 lost=0 corrupt=0 extra=0 failed=0 landed=0 missed=0
  for trial in $(seq 1 "$trials"); do
    local limit="$incremental" note="" line status
    if [ $((trial % 10)) -eq 1 ]; then
      generation=$((generation + 1))
      write_config "$generation"
      limit="$full"
      note="fresh repository;"
    else
      note="changed: $(python3 "$helper" mutate "$work/src" "$seed$trial" big);"
    fi
    local kills=1 k
    [ $((RANDOM % 4)) -eq 0 ] && kills=2
    for k in $(seq 1 "$kills"); do
      # A run that ends before its kill took less than the delay: change the files again (so there is work)
      # and draw again below that delay, at most six times.
      local delay pid attempt window="$limit"
      for attempt in 1 2 3 4 5 6; do
        delay="$(uniform "$window")"
        "$archiver" backup --config "$config" >"$work/killed.log" 2>&1 &
        pid=$!
        sleep "$delay"
        if kill -KILL "$pid" 2>/dev/null; then
          wait "$pid" 2>/dev/null || true
          landed=$((landed + 1))
          note="$note kill at ${delay}s;"
          break
        fi
        wait "$pid" 2>/dev/null || true
        note="$note done before ${delay}s;"
        window="$delay"
        [ "$attempt" -lt 6 ] && python3 "$helper" mutate "$work/src" "$seed$trial$k$attempt" big >/dev/null
      done
      local after
      after="$(integrity "$catalog")"
      [ "$after" = ok ] || note="$note integrity after the kill: $after;"
      if [ $((RANDOM % 3)) -eq 0 ]; then
        local big_too=""
        [ $((RANDOM % 2)) -eq 0 ] && big_too=big
        note="$note then changed: $(python3 "$helper" mutate "$work/src" "$seed$trial$k" $big_too);"
      fi
    done
    [[ "$note" == *"kill at"* ]] || missed=$((missed + 1))

    local ok=1 compared=""
    status=0
    "$archiver" backup --config "$config" >"$work/rerun.log" 2>&1 || status=$?
    [ "$status" -eq 0 ] || { ok=0; note="$note rerun exit $status: $(tail -n 3 "$work/rerun.log" | tr '\n' ' ');"; }
    rm -rf "$work/restored"
    "$archiver" restore --config "$config" --to "$work/restored" >"$work/restore.log" 2>&1 \
      || { ok=0; note="$note restore failed: $(tail -n 3 "$work/restore.log" | tr '\n' ' ');"; }
    compared="$(python3 "$helper" compare "$work/src" "$work/restored/home" 2>>"$work/compare.log")" || ok=0
    read -r _ _ _ l _ c _ e <<<"$compared"
    lost=$((lost + l)); corrupt=$((corrupt + c)); extra=$((extra + e))
    local check
    check="$(integrity "$catalog")"
    [ "$check" = ok ] || { ok=0; note="$note integrity: $check;"; }
    [[ "$note" == *"integrity after the kill"* ]] && ok=0
    "$archiver" verify --stored --config "$config" >"$work/verify.log" 2>&1 \
      || { ok=0; note="$note verify --stored: $(tail -n 2 "$work/verify.log" | tr '\n' ' ');"; }
    "$archiver" verify --deep --config "$config" >"$work/verify.log" 2>&1 \
      || { ok=0; note="$note verify --deep: $(tail -n 2 "$work/verify.log" | tr '\n' ' ');"; }
    if [ "$ok" -eq 1 ]; then recovered=$((recovered + 1)); line="recovered"; else failed=$((failed + 1)); line="FAILED"; fi
    printf "%s trial %3d: %s (%s) %s\n" "$kind" "$trial" "$line" "$compared" "$note"
  done

  if [ -n "$fake_pid" ]; then exec {fake_stdin}>&-; wait "$fake_pid" 2>/dev/null || true; fi
  echo "$kind: trials $trials, kills $landed (trials without one: $missed), recovered $recovered," \
    "lost files $lost, corrupt files $corrupt, extra files $extra, failed trials $failed"
  if [ "${KEEP:-0}" = 1 ]; then echo "$kind: work folder kept: $work"; else rm -rf "$work"; fi
  [ "$failed" -eq 0 ]
}

result=0
if [ "$which" = local ] || [ "$which" = both ]; then run_backend local || result=1; fi
if [ "$which" = baidu ] || [ "$which" = both ]; then run_backend baidu || result=1; fi
exit "$result"
