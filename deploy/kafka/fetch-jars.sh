#!/usr/bin/env bash
# Cache the Kafka broker jars and its command-line tools (kafka-tools) from Maven Central once, so tests,
# benchmarks and the stack (deploy/stack) start a real broker offline and operators run `make topics`/`groups`.
# Prints the libs directory as the last line of stdout; Maven's own output goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/pom.xml"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
dir="${RELIEF_CACHE:-$HOME/.cache/relief}/kafka-$version"
libs="$dir/libs"
marker="$dir/complete"
stamp="$(sha256sum "$pom" | cut -d' ' -f1)"

mkdir -p "$dir"
exec 9>"$dir/lock"
flock 9  # parallel test workers wait for one download instead of racing

if [[ "$(cat "$marker" 2>/dev/null)" != "$stamp" ]]; then
  rm -rf "$libs" "$marker" "$dir"/libs.tmp.*
  tmp="$(mktemp -d "$dir/libs.tmp.XXXXXX")"
  mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
    -DoutputDirectory="$tmp" -DincludeScope=runtime >&2
  mv "$tmp" "$libs"
  echo "$stamp" >"$marker"
fi

echo "$libs"
