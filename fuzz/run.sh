#!/usr/bin/env bash
# Builds the libFuzzer executable in its own build folder and runs each fuzz target for SECONDS (default 600) from
# its seed corpus, then prints each target's final coverage and speed.
#
#   fuzz/run.sh [SECONDS] [TARGET…]      targets: age-header age-stream gzip config baidu-json (default: all)
#   JOBS=2 fuzz/run.sh                   two targets at a time
#
# New inputs go to fuzz/out/corpus/<target>/ (not committed; copy small interesting ones to fuzz/corpus/<target>/).
# A crash, leak or timeout input goes to fuzz/crashes/<target>/, which the ordinary test suite replays
# (Tests/FuzzReplayTests), so commit it with the fix. Exit status: 0 when no target found anything.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(age-header age-stream gzip config baidu-json)

# -sanitize=fuzzer instruments every Swift module for coverage and links libFuzzer (from the toolchain's clang
# runtime), which brings its own main: so the executable is compiled with -parse-as-library and only defines
# LLVMFuzzerTestOneInput. The sanitizer flags reach every Swift module, so the build folder is never shared
# with ordinary builds.
build=(swift build -c debug --scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library)
echo "building: ${build[*]}" >&2
"${build[@]}" >&2
bin="$("${build[@]}" --show-bin-path)/archiver-fuzz"

max_len() {
    case "$1" in
        age-stream) echo 140000 ;;  # two full 64 KiB chunks and a bit, so chunk boundaries are reachable
        gzip) echo 32768 ;;
        *) echo 8192 ;;
    esac
}

# Runs one target and writes its summary line to out/<target>.summary; the exit status says whether it found anything.
fuzz_one() {
    local target="$1" log="out/$1.log" dict=() rc
    mkdir -p "out/corpus/$target" "crashes/$target" "corpus/$target"
    [ -f "dict/$target.dict" ] && dict=("-dict=dict/$target.dict")
    echo "fuzzing $target for $seconds s (log: fuzz/$log)" >&2
    set +e
    FUZZ_TARGET="$target" "$bin" "out/corpus/$target" "corpus/$target" \
        -max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="crashes/$target/" -print_final_stats=1 "${dict[@]}" >"$log" 2>&1
    rc=$?
    set -e
    local last cov ft runs speed found
    last="$(grep -E '^#[0-9]+.*cov:' "$log" | tail -n 1 || true)"
    cov="$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")"
    ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")"
    runs="$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log")"
    speed="$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log")"
    found="$(find "crashes/$target" -type f ! -name '.*' | wc -l | tr -d ' ')"
    [ "$rc" -eq 0 ] || echo "$target: libFuzzer exited $rc; see fuzz/$log and fuzz/crashes/$target/" >&2
    printf '%-11s %6s s  cov: %-6s ft: %-7s runs: %-10s exec/s: %-7s crash inputs: %s\n' \
        "$target" "$seconds" "${cov:-?}" "${ft:-?}" "${runs:-?}" "${speed:-?}" "$found" >"out/$target.summary"
    return "$rc"
}

# JOBS targets at a time (default 1: each target gets a core to itself on a small machine).
mkdir -p out
status=0
pids=()
for target in "${targets[@]}"; do
    rm -f "out/$target.summary"
    fuzz_one "$target" &
    pids+=($!)
    if [ "${#pids[@]}" -ge "${JOBS:-1}" ]; then
        wait "${pids[0]}" || status=1
        pids=("${pids[@]:1}")
    fi
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for target in "${targets[@]}"; do cat "out/$target.summary"; done
exit "$status"
