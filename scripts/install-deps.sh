#!/usr/bin/env bash
# Installs the Debian packages archiver builds and tests with, when they are missing.
# Runs apt-get as root (directly, or through sudo when available).
set -euo pipefail

packages=(
  zlib1g-dev      # the system zlib the Codecs target links
  libzstd-dev     # the system libzstd the Codecs target links (CZstd), for zstd payloads
  zstd            # stock zstd for interoperability tests and the benchmark's `zstd | age` peer
  libssl-dev      # the system OpenSSL: ChaCha20-Poly1305 for the age payload (CShims)
  libsqlite3-dev  # the system SQLite GRDB uses for the catalog
  age             # stock age, for interoperability tests and the benchmark
  gzip pigz       # stock gzip for interoperability tests; pigz for the benchmark
  strace          # proves an unchanged backup opens no source file
  time            # /usr/bin/time -f %M for peak RSS in benchmarks
  sqlite3         # PRAGMA integrity_check of the catalog in the crash trials
  python3
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
