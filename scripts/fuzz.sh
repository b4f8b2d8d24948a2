#!/bin/sh
# Bounded fuzzing run (CI): build every fuzz target with clang-14, libFuzzer, AddressSanitizer
# and UBSan, fuzz each for FUZZ_SECONDS (default 60) from its seed corpus, and fail on any
# crash, leak, timeout, out-of-memory or sanitizer report. Prints the executions each target
# reached. The corpus in the repository is never modified: new inputs go to a scratch copy,
# and a failing input is kept under $FUZZ_OUT (default build-fuzz/artifacts) to be minimized
# (fuzz-TARGET -minimize_crash=1 FILE) and committed to tests/fuzz/corpus/TARGET/crash-NAME.
#
#   FUZZ_SECONDS=300 scripts/fuzz.sh            five minutes per target
#   FUZZ_TARGETS="proto conn" scripts/fuzz.sh   only these targets
#   FUZZ_JOBS=2 scripts/fuzz.sh                 run two targets at a time
set -eu
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
builddir=${FUZZ_BUILDDIR:-build-fuzz}
targets=${FUZZ_TARGETS:-"proto conn procfs cgroup cgvalues cli-json"}
out=${FUZZ_OUT:-$builddir/artifacts}
jobs=${FUZZ_JOBS:-1}
cc=${FUZZ_CC:-clang-14}

case $seconds in '' | *[!0-9]*) echo "fuzz: FUZZ_SECONDS must be a number" >&2; exit 2 ;; esac
case $jobs in '' | 0 | *[!0-9]*) echo "fuzz: FUZZ_JOBS must be a positive number" >&2; exit 2 ;; esac
command -v "$cc" >/dev/null || { echo "fuzz: $cc not found (apt-get install clang-14 libfuzzer-14-dev)" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then
	# The request-path target connects as a peer that owns no process, which needs root.
	echo "fuzz: run as root (the conn target changes its effective uid to connect)" >&2
	exit 2
fi

# Everything, libraries included, carries coverage instrumentation; only the targets link
# libFuzzer itself (tests/fuzz/meson.build adds -fsanitize=fuzzer for -Dfuzzing=true).
opts="-Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link -Ddocs=disabled"
if [ -f "$builddir/build.ninja" ]; then
	# shellcheck disable=SC2086
	meson configure "$builddir" $opts >/dev/null
else
	# shellcheck disable=SC2086
	CC=$cc meson setup "$builddir" $opts >/dev/null
fi
exes=""
for t in $targets; do
	exes="$exes tests/fuzz/fuzz-$t"
done
# shellcheck disable=SC2086
ninja -C "$builddir" $exes >/dev/null

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
mkdir -p "$out"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/skyutil-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM

dict_for() {
	case $1 in
	proto | conn) echo tests/fuzz/msgpack.dict ;;
	cli-json) echo tests/fuzz/json.dict ;;
	*) echo tests/fuzz/text.dict ;;
	esac
}

# Fuzz one target; writes its verdict line to $scratch/$1.result.
fuzz_one() {
	t=$1
	corpus=$scratch/$t/corpus
	log=$scratch/$t/log
	mkdir -p "$corpus"
	cp tests/fuzz/corpus/"$t"/* "$corpus"/
	case $t in proto | conn) cp proto/vectors/*.bin "$corpus"/ ;; esac
	status=0
	"$builddir/tests/fuzz/fuzz-$t" "$corpus" \
		-max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -max_len=65536 \
		-dict="$(dict_for "$t")" -print_final_stats=1 \
		-artifact_prefix="$out/$t-" >"$log" 2>&1 || status=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(sed -n 's/^#[0-9]*.*DONE *cov: \([0-9]*\).*/\1/p' "$log" | tail -n 1)
	if [ "$status" -ne 0 ] || grep -q -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' \
		-e 'runtime error:' -e 'invariant broken' "$log"; then
		echo "FAIL $t ${execs:-?} ${cov:-?} $status" >"$scratch/$t.result"
		cp "$log" "$out/$t.log"
	else
		echo "ok $t ${execs:-?} ${cov:-?} 0" >"$scratch/$t.result"
	fi
}

echo "fuzz: $seconds s per target, $jobs at a time: $targets"
running=0
for t in $targets; do
	fuzz_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait

failed=0
printf '%-10s %-6s %14s %8s\n' target result executions coverage
for t in $targets; do
	read -r verdict name execs cov status <"$scratch/$t.result"
	printf '%-10s %-6s %14s %8s\n' "$name" "$verdict" "$execs" "$cov"
	if [ "$verdict" != ok ]; then
		failed=1
		echo "fuzz: $t failed (exit $status); log: $out/$t.log" >&2
		grep -A 30 -m 1 -e 'ERROR:' -e 'runtime error:' -e 'invariant broken' -e 'deadly signal' \
			"$out/$t.log" >&2 || tail -n 30 "$out/$t.log" >&2
		ls "$out/$t-"* 2>/dev/null >&2 || true
	fi
done
exit $failed
