#!/bin/sh
# Install what is missing, build, start skyutild in the foreground on the default socket and
# probe it with the CLI. Ctrl-C stops the daemon (it removes its socket and exits 0).
set -eu
cd "$(dirname "$0")/.."

scripts/install-deps.sh run
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null

build/daemon/skyutild -v "$@" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon; exit $?' INT TERM
# Probe once the socket answers (the daemon logs where it listens).
i=0
until build/client/cli/skyutil --timeout 200 ping >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 $daemon 2>/dev/null; then
		echo "run: skyutild did not come up" >&2
		kill -TERM $daemon 2>/dev/null || true
		exit 1
	fi
	sleep 0.05
done
build/client/cli/skyutil hello
build/client/cli/skyutil facts
echo "run: skyutild is serving (pid $daemon); try build/client/cli/skyutil --help. Ctrl-C stops it." >&2
wait $daemon
