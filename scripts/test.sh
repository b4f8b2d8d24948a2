#!/bin/sh
# Install what is missing, build with warnings as errors, and run every test.
#   scripts/test.sh             the README's test command (build dir: build/)
#   scripts/test.sh --sanitize  the same under AddressSanitizer + UBSan (build dir: build-asan/)
set -eu
cd "$(dirname "$0")/.."

builddir=build
opts="-Dwerror=true"
suites=""
if [ "${1:-}" = "--sanitize" ]; then
	builddir=build-asan
	# Also the build without libsystemd, so the native sd_notify/LISTEN_FDS code is tested too.
	opts="$opts -Db_sanitize=address,undefined -Db_lundef=false -Dsystemd=disabled"
	# Building Debian packages again under ASan proves nothing new and takes minutes.
	suites="--no-suite debian"
	export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi

scripts/install-deps.sh all
if [ -f "$builddir/build.ninja" ]; then
	# shellcheck disable=SC2086
	meson configure "$builddir" $opts >/dev/null
else
	# shellcheck disable=SC2086
	meson setup "$builddir" $opts >/dev/null
fi
meson compile -C "$builddir"
# shellcheck disable=SC2086
meson test -C "$builddir" --print-errorlogs --num-processes 2 $suites
