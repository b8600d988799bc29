#!/usr/bin/env bash
# SIGTERM trials: starts `archiver daemon` against the fake Baidu (slow slices, so uploads are always in flight),
# sends SIGTERM at a random moment, and checks it exits 0 within shutdown_timeout (2 s here) plus 5 s of slack;
# then a one-shot backup finishes the job and the restore must equal the source.
#
#   bash scripts/shutdown-trials.sh [TRIALS]     (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
trials="${1:-20}"
swift build --product archiver >/dev/null
swift build --product baidu-fake >/dev/null
bin="$(swift build --show-bin-path)"
work="$(mktemp -d /tmp/archiver-trials.XXXXXX)"
mkdir -p "$work/src"
head -c $((24 << 20)) /dev/urandom > "$work/src/video.bin"
for i in $(seq 1 30); do head -c 5000 /dev/urandom > "$work/src/small-$i.bin"; done
recipient="$("$bin/archiver" key generate --output "$work/key.txt" 2>/dev/null)"
coproc FAKE { "$bin/baidu-fake" --data "$work/fake" --port 0 --exit-on-stdin-eof; }
read -r line <&"${FAKE[0]}"
url="${line##* }"
cat > "$work/config.yml" <<YML
catalog: $work/catalog.sqlite
backend: "baidu:"
recipients: [$recipient]
identity: $work/key.txt
compression: 0
shutdown_timeout: 2s
schedule: "@daily"
sources:
  - local: $work/src
    remote: src
baidu:
  app_name: e2bdy
  app_key: test-app-key
  secret_key: test-secret-key
  token_file: $work/token.json
  endpoints: {oauth: "$url", api: "$url", upload: "$url"}
YML
chmod 600 "$work/config.yml"
export ARCHIVER_CONFIG="$work/config.yml" ARCHIVER_BAIDU_RETRY_SCALE=0.01
control() { python3 -c 'import sys,urllib.request as u; print(u.urlopen(u.Request(sys.argv[1] + "/__fake/" + sys.argv[2], data=sys.argv[3].encode(), method="POST")).read().decode())' "$url" "$1" "$2"; }
control issue-token '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])' | "$bin/archiver" import-token - >/dev/null
"$bin/archiver" init >/dev/null 2>&1
control faults '{"endpoint": "superfile2", "error": "slow:150", "count": 100000}' >/dev/null
ok=0
for trial in $(seq 1 "$trials"); do
  "$bin/archiver" daemon --nice 0 --io-priority normal >"$work/daemon-$trial.log" 2>&1 &
  pid=$!
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.3, 4.0), 2))')"
  start=$(date +%s.%N)
  kill -TERM "$pid"
  status=0; wait "$pid" || status=$?
  took=$(echo "$(date +%s.%N) - $start" | bc)
  within=$(echo "$took < 7" | bc)
  printf "trial %2d: exit %d after %.2f s\n" "$trial" "$status" "$took"
  if [ "$status" -eq 0 ] && [ "$within" -eq 1 ]; then ok=$((ok + 1)); fi
done
control clear-faults '{}' >/dev/null
"$bin/archiver" backup >/dev/null 2>&1
"$bin/archiver" restore --to "$work/restored" >/dev/null 2>&1
diff -r "$work/src" "$work/restored/src" && echo "restore after the trials equals the source"
echo "$ok of $trials trials exited 0 within the bound (2 s + 5 s slack)"
[ "$ok" -eq "$trials" ]
