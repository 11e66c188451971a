#!/usr/bin/env bash
# tests/preload/run-pending.sh [-n RUNS] [-m MODES] [-t SECONDS] TEST[:CASE]...
# Runs behaviour tests by hand, as meson.build's table would: each TEST
# (build/tests/preload/preload-TEST, with CASE as its argument) in each mode
# of MODES (default "native gpm-1p gpm-2p disabled"; gpm-Np is
# LD_PRELOAD=libgpm.so GPM_MAXPROCS=N), RUNS times (default 1), each run
# killed after SECONDS (default 60; the tests' own watchdogs usually fire
# first). Prints one line per test and mode: PASS/FAIL/HANG/SKIP counts,
# and the first failure's last lines. For issue 9's pending_tests, which
# are built but not registered until gpm passes them.
# Environment: GPM_BUILD_DIR (default: build, next to this script's repo).
set -uo pipefail
runs=1 modes="native gpm-1p gpm-2p disabled" limit=60
while getopts n:m:t: o; do
    case $o in
    n) runs=$OPTARG ;;
    m) modes=$OPTARG ;;
    t) limit=$OPTARG ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${GPM_BUILD_DIR:-$root/build}
lib=$build/libgpm.so
for spec in "$@"; do
    name=${spec%%:*} arg=
    [[ $spec == *:* ]] && arg=${spec#*:}
    exe=$build/tests/preload/preload-$name
    [[ -x $exe ]] || { echo "$spec: no $exe (ninja -C $build)"; exit 2; }
    for mode in $modes; do
        envs=(GPM_TEST_MODE=native TEST_LIBDIR="$build/tests/preload")
        case $mode in
        native) ;;
        gpm) envs=(GPM_TEST_MODE=gpm LD_PRELOAD="$lib") ;;
        gpm-*p) p=${mode#gpm-}; envs=(GPM_TEST_MODE=gpm LD_PRELOAD="$lib" GPM_MAXPROCS="${p%p}") ;;
        disabled) envs=(GPM_TEST_MODE=disabled LD_PRELOAD="$lib" GPM_DISABLE=1) ;;
        *) echo "unknown mode $mode"; exit 2 ;;
        esac
        pass=0 fail=0 hang=0 skip=0 first=
        for ((i = 0; i < runs; i++)); do
            out=$(env "${envs[@]}" timeout -s KILL "$limit" "$exe" ${arg:+"$arg"} 2>&1)
            rc=$?
            case $rc in
            0) ((pass++)) ;;
            77) ((skip++)) ;;
            137) ((hang++)); [[ -n $first ]] || first="killed after ${limit} s: $(tail -3 <<<"$out")" ;;
            *) if grep -q 'FAIL watchdog' <<<"$out"; then ((hang++)); else ((fail++)); fi
               why="exit $rc"
               ((rc > 128)) && why="killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null))"
               [[ -n $first ]] || first="$why: $(tail -3 <<<"$out")" ;;
            esac
        done
        printf '%-28s %-9s pass %d fail %d hang %d skip %d / %d\n' "$spec" "$mode" "$pass" "$fail" "$hang" "$skip" "$runs"
        [[ -z $first ]] || sed 's/^/    /' <<<"$first"
    done
done
