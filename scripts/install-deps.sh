#!/bin/sh
# Install the Debian packages skyutild needs to build, test and run. Idempotent and quiet:
# installs only what is missing; uses sudo when not root; never prompts.
set -eu

BUILD="meson ninja-build pkg-config gcc libuv1-dev libmsgpack-dev libcmocka-dev libsystemd-dev
libssl-dev libjansson-dev scdoc binutils"
PYTHON="python3 python3-msgpack python3-pytest python3-psutil python3-setuptools"
TEST="util-linux procps systemd valgrind clang-format clang-14 libfuzzer-14-dev libclang-rt-14-dev
debhelper dh-python pybuild-plugin-pyproject python3-all lintian dpkg-dev prometheus-node-exporter"

case "${1:-all}" in
run) want="$BUILD $PYTHON" ;;
*) want="$BUILD $PYTHON $TEST" ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-deps: missing packages:$missing (run as root or install sudo)" >&2
	exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
