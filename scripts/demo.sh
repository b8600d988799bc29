#!/usr/bin/env bash
# The main job on bundled example data, with no account: installs what is missing, builds, makes a key, backs up
# examples/data to a local folder standing in for a USB disk, changes a file and backs up again, restores both
# states, compares every byte, and verifies the stored objects. Then the same to Baidu Netdisk, played by
# baidu-fake (a local fake of Baidu's API on 127.0.0.1): login, backup, restore, compare.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build --product archiver
swift build --product baidu-fake
archiver="$(swift build --show-bin-path)/archiver"
fake="$(swift build --show-bin-path)/baidu-fake"

work="$(mktemp -d /tmp/archiver-demo.XXXXXX)"
echo "== working in $work"
cp -a examples/data "$work/data"
mkdir -p "$work/usb"
recipient="$("$archiver" key generate --output "$work/key.txt" 2>/dev/null)"
export ARCHIVER_CONFIG="$work/config.yml"

echo "== archiver init"
"$archiver" init --backend "local:$work/usb" --source "$work/data=examples" --recipient "$recipient" \
  --identity "$work/key.txt"
echo "== archiver backup"
"$archiver" backup
echo "== archiver backup (nothing changed)"
"$archiver" backup
echo "== change a file, add one, back up again"
sleep 1
echo "a line added after the first backup" >> "$work/data/documents/notes.txt"
echo "new" > "$work/data/documents/new.txt"
"$archiver" backup
"$archiver" status

echo "== archiver restore (latest) and compare"
"$archiver" restore --identity "$work/key.txt" --to "$work/restored"
diff -r "$work/data" "$work/restored/examples"
echo "== archiver versions examples/documents/notes.txt"
"$archiver" versions examples/documents/notes.txt
first="$("$archiver" versions examples/documents/notes.txt | awk 'NR == 1 { sub(":", "", $2); print $2 }')"
"$archiver" restore --identity "$work/key.txt" --version "$first" --to "$work/first"
cmp "$work/first/examples/documents/notes.txt" examples/data/documents/notes.txt
echo "== archiver verify --deep"
"$archiver" verify --deep --identity "$work/key.txt"
echo "== the stored objects open with stock age and gunzip:"
object="$(find "$work/usb" -name '*.gz.age' -path '*/data/*' | head -1)"
age -d -i "$work/key.txt" "$object" | gunzip > "$work/stock-tools.out"; head -c 200 "$work/stock-tools.out"; echo " ..."

echo "== Baidu Netdisk (baidu-fake on 127.0.0.1 stands in for Baidu's servers)"
coproc FAKE { "$fake" --data "$work/baidu-fake" --port 0 --app-name archiver-demo --auto-approve --device-interval 1 --exit-on-stdin-eof; }
read -r line <&"${FAKE[0]}"
url="${line##* }"
cat > "$work/baidu.yml" <<YML
catalog: $work/baidu-catalog.sqlite
backend: "baidu:"
recipients: [$recipient]
identity: $work/key.txt
sources:
  - local: $work/data
    remote: examples
baidu:
  app_name: archiver-demo
  app_key: test-app-key
  secret_key: test-secret-key
  token_file: $work/baidu-token.json
  endpoints: {oauth: "$url", api: "$url", upload: "$url"}
YML
chmod 600 "$work/baidu.yml"
export ARCHIVER_CONFIG="$work/baidu.yml"
echo "== archiver auth baidu (the fake approves the device code by itself)"
"$archiver" auth baidu
"$archiver" init
echo "== archiver backup to Baidu"
"$archiver" backup
"$archiver" status
echo "== archiver restore from Baidu and compare"
"$archiver" restore --to "$work/restored-baidu"
diff -r "$work/data" "$work/restored-baidu/examples"
echo "demo: backed up, changed, backed up, restored both states and verified; backed up to Baidu (fake) and restored: all identical"
