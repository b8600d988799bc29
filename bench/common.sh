#!/usr/bin/env bash
# Sourced by the bench scripts (from the repository's root): the binary they measure and the data sets they share.
#   ARCHIVER=path/to/archiver   measure this binary instead of building .build-release
#   BENCH_DATA=dir              keep the generated data sets there (default bench/data, ignored by git)

# bench_archiver: prints the absolute path of the archiver to measure, building the release one unless ARCHIVER.
bench_archiver() {
  if [ -z "${ARCHIVER:-}" ]; then
    swift build -c release --scratch-path .build-release --product archiver >/dev/null
    realpath "$(swift build -c release --scratch-path .build-release --show-bin-path)/archiver"
  else
    realpath "$ARCHIVER"
  fi
}

# bench_data: prints the absolute path of the data folder, creating it.
bench_data() {
  mkdir -p "${BENCH_DATA:-bench/data}"
  realpath "${BENCH_DATA:-bench/data}"
}

# bench_file KIND SIZE_MIB: prints the path of the generated file (KIND random | text), generating it when missing.
bench_file() {
  local file
  file="$(bench_data)/$1-$2.$([ "$1" = random ] && echo bin || echo txt)"
  if [ ! -s "$file" ]; then
    python3 bench/gen-data.py "$1" "$2" "$file.partial"
    mv "$file.partial" "$file"
  fi
  echo "$file"
}

# bench_tree COUNT: prints the path of the tree of COUNT small files, generating it when missing. Both generators
# write under a temporary name first, so that an interrupted run never leaves a partial data set to be reused.
bench_tree() {
  local dir
  dir="$(bench_data)/tree-$1"
  if [ ! -d "$dir" ]; then
    rm -rf "$dir.partial"
    python3 bench/gen-data.py tree "$1" "$dir.partial"
    mv "$dir.partial" "$dir"
  fi
  echo "$dir"
}
