#!/bin/sh
# Build in release mode and run every benchmark against a daemon of its own; prints one table
# and writes build-bench/bench/results.json and results.md.
#   scripts/bench.sh           full run (~5-10 min; as root it may widen kernel.pid_max for the
#                              50 000-watch row and restores it afterwards)
#   scripts/bench.sh --quick   short mode (well under 90 s), the one CI checks
set -eu
cd "$(dirname "$0")/.."

mode=""
case "${1:-}" in
--quick) mode="--quick" ;;
"") ;;
*)
	echo "usage: scripts/bench.sh [--quick]" >&2
	exit 2
	;;
esac

builddir=build-bench
scripts/install-deps.sh all
if [ -f "$builddir/build.ninja" ]; then
	meson configure "$builddir" -Dbuildtype=release >/dev/null
else
	meson setup "$builddir" -Dbuildtype=release >/dev/null
fi
meson compile -C "$builddir"
# shellcheck disable=SC2086
exec /usr/bin/python3 bench/run_bench.py --build-dir "$builddir" $mode
