#!/usr/bin/env bash
# Prints a fresh refresh token issued by a running baidu-fake at URL, for `archiver import-token -`.
#   bash bench/fake-token.sh URL
set -euo pipefail
python3 -c 'import json,sys,urllib.request as u; print(json.load(u.urlopen(u.Request(sys.argv[1] + "/__fake/issue-token", data=b"{}", method="POST")))["refresh_token"])' "$1"
