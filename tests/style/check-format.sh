#!/bin/sh
# Every C file the project tracks is formatted with the root .clang-format (house style).
set -u
cd "${SKYUTIL_SRCDIR:?}" || exit 1
command -v clang-format >/dev/null 2>&1 || { echo "SKIP: clang-format not installed"; exit 77; }
[ -d .git ] && command -v git >/dev/null 2>&1 || { echo "SKIP: not a git checkout"; exit 77; }
bad=0
for f in $(git ls-files '*.c' '*.h'); do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "not clang-formatted: $f (run: clang-format -i $f)"
		bad=1
	fi
done
exit $bad
