#!/usr/bin/env bash
# tests/programs/run-program.sh NAME: runs a real program from Debian's
# packages natively, under gpm, or in pass-through (GPM_TEST_MODE, as the
# behaviour tests), checks its exit status and the lines it must print, and
# shows its output on failure. Exit 77 (skip) when the program is absent.
#   sysbench_mutex  sysbench --threads=8 mutex run
#   stress_ng       stress-ng --mutex 2 --sem 2 -t $GPM_STRESS_SECONDS
#                   --metrics-brief (3 s by default, to keep CI short; the
#                   issue's manual run uses 10)
#   stress_ng_futex stress-ng --pthread 2 --futex 2 -t $GPM_STRESS_SECONDS
#                   --metrics-brief: raw futexes (emulated under gpm) and
#                   thread churn, with stress-ng's own checks of thread ids
set -uo pipefail
name=$1
case $name in
sysbench_mutex)
    prog=sysbench
    cmd=(sysbench --threads=8 mutex run)
    want=('total time:' 'total number of events:')
    ;;
stress_ng)
    prog=stress-ng
    cmd=(stress-ng --mutex 2 --sem 2 -t "${GPM_STRESS_SECONDS:-3}" --metrics-brief)
    want=('successful run completed' ' mutex ' ' sem ')
    ;;
stress_ng_futex)
    prog=stress-ng
    cmd=(stress-ng --pthread 2 --futex 2 -t "${GPM_STRESS_SECONDS:-3}" --metrics-brief)
    want=('successful run completed' ' pthread ' ' futex ')
    ;;
*)
    echo "run-program.sh: unknown program $name" >&2
    exit 2
    ;;
esac
command -v "$prog" >/dev/null || { echo "$prog not installed: skipped"; exit 77; }

envs=()
case ${GPM_TEST_MODE:-native} in
native) ;;
gpm) envs=(LD_PRELOAD="$GPM_LIB") ;;
disabled) envs=(LD_PRELOAD="$GPM_LIB" GPM_DISABLE=1) ;;
esac
out=$(cd "${TMPDIR:-/tmp}" && env "${envs[@]}" "${cmd[@]}" 2>&1)
rc=$?
fail=
((rc == 0)) || fail="exit status $rc"
for w in "${want[@]}"; do
    grep -qF -- "$w" <<<"$out" || fail="${fail:+$fail; }no line with '$w'"
done
if [[ -n $fail ]]; then
    echo "$name (${GPM_TEST_MODE:-native}): $fail"
    echo "$out"
    exit 1
fi
echo "$name (${GPM_TEST_MODE:-native}): ok"
grep -F -e 'total time:' -e 'bogo ops/s' -e ' mutex ' -e ' sem ' -e ' futex ' -e ' pthread ' <<<"$out" | head -6
