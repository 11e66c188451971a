#!/usr/bin/env bash
# tests/tools/check.sh: one run of the tools suite (tests/tools/meson.build
# says which). Exit 0 pass, 1 fail, 77 skip.
#
#   check.sh memcheck LIBGPM SUPP PROGRAM [ARGS...]
#       memcheck, gpm active: no error and no definite or possible leak,
#       no system call valgrind does not know, no pass-through line.
#   check.sh helgrind|drd LIBGPM SUPP PROGRAM [ARGS...]
#       the tool reports nothing, and gpm said once that it passes through.
#   check.sh sanitizer NAME LIBGPM PROGRAM [ARGS...]
#       a program built with a sanitizer (NAME as gpm calls it) runs under
#       gpm, which said once that it passes through.
#   check.sh skip WHY
set -uo pipefail

mode=$1
shift
if [[ $mode == skip ]]; then
    echo "skipped: $*"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The lines gpm printed on the program's stderr.
gpmlines() {
    grep '^gpm: ' "$tmp/stderr" || true
}

# Exactly one line from gpm, the pass-through line naming $1.
onepassline() {
    local want="gpm: $1 runs this program's threads natively (it cannot follow user-level threads)"
    local got
    got=$(gpmlines)
    if [[ $got != "$want" ]]; then
        echo "FAIL: gpm printed [$got], expected exactly [$want]"
        return 1
    fi
}

case $mode in
memcheck | helgrind | drd)
    command -v valgrind >/dev/null || { echo "skipped: valgrind is not installed"; exit 77; }
    libgpm=$1 supp=$2
    shift 2
    opts=(--tool="$mode" --error-exitcode=1 --log-file="$tmp/valgrind" --suppressions="$supp")
    [[ $mode == memcheck ]] && opts+=(--leak-check=full --errors-for-leak-kinds=definite,possible)
    LD_PRELOAD=$libgpm valgrind "${opts[@]}" "$@" 2>"$tmp/stderr"
    rc=$?
    cat "$tmp/stderr" >&2
    echo "---- valgrind ($mode) ----"
    grep -v '^==[0-9]*== *$' "$tmp/valgrind"
    [[ $rc -eq 77 ]] && exit 77
    if [[ $rc -ne 0 ]]; then
        echo "FAIL: exit status $rc under $mode"
        exit 1
    fi
    if [[ $mode == memcheck ]]; then
        if grep -q 'unhandled amd64-linux syscall' "$tmp/valgrind"; then
            echo "FAIL: gpm made a system call valgrind does not know"
            exit 1
        fi
        if [[ -n $(gpmlines) ]]; then
            echo "FAIL: gpm printed [$(gpmlines)] under memcheck, where it schedules threads"
            exit 1
        fi
    else
        onepassline "$mode" || exit 1
    fi
    ;;
sanitizer)
    name=$1 libgpm=$2
    shift 2
    preload=$libgpm
    # ASan insists on coming first among the libraries (it says so and
    # exits otherwise): its runtime goes before gpm, as it asks.
    asan=$(ldd "$1" 2>/dev/null | awk '$1 ~ /^libasan\.so/ { print $3 }')
    [[ -n $asan ]] && preload=$asan:$libgpm
    LD_PRELOAD=$preload "$@" 2>"$tmp/stderr"
    rc=$?
    cat "$tmp/stderr" >&2
    if [[ $rc -ne 0 ]]; then
        echo "FAIL: exit status $rc under $name"
        exit 1
    fi
    onepassline "$name" || exit 1
    ;;
*)
    echo "check.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac
echo "ok: $mode"
