#!/usr/bin/env bash
# Entry point of `make bench`: installs the peers (rclone, unison) when they
# are missing and we may, builds the harness and runs it.
#   BENCH_FILES=10000 make bench      quick run (default 100000 files)
#   BENCH_HUGE=1 make bench           also the 1,000,000-file set
#   BENCH_WORK=/some/dir make bench   work dir (default $TMPDIR/dovetail-bench)
#   BENCH_ARGS="-reps 3 -keep"        more flags for bench/benchrun (see -h)
set -euo pipefail
cd "$(dirname "$0")/.."

work=${BENCH_WORK:-${TMPDIR:-/tmp}/dovetail-bench}
mkdir -p "$work"

missing=()
for t in rclone unison; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
if ((${#missing[@]})); then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "bench: installing ${missing[*]} with apt-get (log: $work/apt.log)" >&2
		{ apt-get install -y "${missing[@]}" || { apt-get update && apt-get install -y "${missing[@]}"; }; } \
			>"$work/apt.log" 2>&1 ||
			echo "bench: could not install ${missing[*]}; their cells will say 'not available'" >&2
	else
		echo "bench: ${missing[*]} not installed (and not root): their cells will say 'not available'" >&2
	fi
fi

[ -x bin/dovetail ] || make build
go build -o "$work/benchrun" ./bench/benchrun
# shellcheck disable=SC2086
exec "$work/benchrun" -bin bin/dovetail -work "$work" -files "${BENCH_FILES:-100000}" \
	-doc docs/benchmarks.md ${BENCH_ARGS:-}
