#!/bin/sh
# Every C file the project tracks is formatted with the root .clang-format (house style).
set -u
cd "${SKYUTIL_SRCDIR:?}" || exit 1
command -v clang-format >/dev/null 2>&1 || { echo "SKIP: clang-format not installed"; exit 77; }
# A checkout or a worktree (where .git is a file) of this project, not a tree inside another.
command -v git >/dev/null 2>&1 && [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ] ||
	{ echo "SKIP: not a git checkout"; exit 77; }
bad=0
for f in $(git ls-files '*.c' '*.h'); do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "not clang-formatted: $f (run: clang-format -i $f)"
		bad=1
	fi
done
exit $bad
