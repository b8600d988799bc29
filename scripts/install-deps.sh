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

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
apt_install() {
  echo "installing: $*"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi

# The Python libraries encrypt2bdy encrypted with, for the tests that decrypt its .e2bdy files
# (Tests/Fixtures/e2bdy/make_e2bdy.py): cryptography (Fernet) and pyAesCrypt, from PyPI for the user.
# Debian's own python3 refuses user installs without --break-system-packages (PEP 668); they go to
# ~/.local, not into the system's packages.
python_modules=(cryptography pyAesCrypt)
if ! python3 -c "import cryptography, pyAesCrypt" 2>/dev/null; then
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  echo "installing for $(command -v python3): ${python_modules[*]}"
  python3 -m pip install --user --quiet "${python_modules[@]}" 2>/dev/null \
    || python3 -m pip install --user --quiet --break-system-packages "${python_modules[@]}"
  python3 -c "import cryptography, pyAesCrypt"
fi
