#!/usr/bin/env bash
# Entry point of `make bench`: installs the peers (rclone, unison) and the
# servers of the network cells (sshd, Apache, versitygw) when they are
# missing and we may, builds the harness and runs it.
#   BENCH_FILES=10000 make bench      quick run (default 100000 files)
#   BENCH_HUGE=1 make bench           also the 1,000,000-file set
#   BENCH_WORK=/some/dir make bench   work dir (default $TMPDIR/dovetail-bench)
#   BENCH_ARGS="-reps 3 -keep"        more flags for bench/benchrun (see -h)
set -euo pipefail
cd "$(dirname "$0")/.."

work=${BENCH_WORK:-${TMPDIR:-/tmp}/dovetail-bench}
mkdir -p "$work"

net=1
case " ${BENCH_ARGS:-} " in *" -no-net "* | *" -no-net=true "* | *" --no-net "*) net=0 ;; esac

missing=()
for t in rclone unison; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
if ((net)); then
	[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
	[ -x /usr/sbin/apache2 ] || missing+=(apache2)
fi
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

gobin=$(go env GOPATH | cut -d: -f1)/bin
if ((net)) && ! command -v versitygw >/dev/null 2>&1 && [ ! -x "$gobin/versitygw" ]; then
	echo "bench: installing versitygw v1.8.0 with go install (log: $work/go-install.log)" >&2
	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 >"$work/go-install.log" 2>&1 ||
		echo "bench: could not install versitygw; the S3 cells will say 'not available'" >&2
fi

[ -x bin/dovetail ] || make build
go build -o "$work/benchrun" ./bench/benchrun
# shellcheck disable=SC2086
exec "$work/benchrun" -bin bin/dovetail -work "$work" -files "${BENCH_FILES:-100000}" \
	-doc docs/benchmarks.md ${BENCH_ARGS:-}
