#!/bin/sh
# tests/gdb/gdb.sh LIBGPM PARKED GPM_PY: the gdb extension on a live
# process. Runs PARKED (100 parked threads) under gpm, attaches gdb in batch
# mode, and checks that `info gpm` lists the 101 Gs with their wait reasons
# and that `gpm bt` of a cond waiter names the function it waits in.
# Exit 0 pass, 1 fail, 77 skip (no gdb).
set -u
libgpm=$1 parked=$2 gpmpy=$3
command -v gdb >/dev/null 2>&1 || { echo "gdb not found: skipped"; exit 77; }
dir=$(mktemp -d) || exit 1
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

LD_PRELOAD=$libgpm GPM_MAXPROCS=2 "$parked" >"$dir/out" 2>&1 &
pid=$!
i=0
until grep -q '^ready$' "$dir/out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 100 ] && { echo "FAIL: the program did not get ready in 10 s"; cat "$dir/out"; exit 1; }
    kill -0 "$pid" 2>/dev/null || { echo "FAIL: the program died"; cat "$dir/out"; exit 1; }
    sleep 0.1
done

# G2 is the first thread main created: cond-0, a cond waiter.
timeout 15 gdb -nx -batch -p "$pid" -ex "source $gpmpy" -ex 'info gpm' -ex 'gpm bt 2' -ex 'bt 1' \
    >"$dir/gdb" 2>&1
rc=$?
cat "$dir/gdb"
[ $rc -eq 0 ] || { echo "FAIL: gdb exited with $rc"; exit 1; }
if grep -q 'ptrace: Operation not permitted' "$dir/gdb"; then
    echo "ptrace attach not permitted here: skipped"
    exit 77
fi

fail=0
ncond=$(grep -cE '^[0-9]+ +cond-[0-9]+ +waiting +condition variable, ' "$dir/gdb")
nsleep=$(grep -cE '^[0-9]+ +sleep-[0-9]+ +waiting +sleep, .* gdbtest_sleeper$' "$dir/gdb")
nmain=$(grep -cE '^1 +[^ ]+ +waiting +sleep, .* main$' "$dir/gdb")
[ "$ncond" -eq 50 ] || { echo "FAIL: $ncond cond waiters listed, not 50"; fail=1; }
[ "$nsleep" -eq 50 ] || { echo "FAIL: $nsleep sleepers listed, not 50"; fail=1; }
[ "$nmain" -eq 1 ] || { echo "FAIL: main (G1) not listed as sleeping"; fail=1; }
grep -q '^101 Gs, ' "$dir/gdb" || { echo "FAIL: not 101 Gs in the summary line"; fail=1; }
grep -q '^G2 (cond-0) \[waiting, condition variable\]:' "$dir/gdb" || { echo "FAIL: no gpm bt header for G2"; fail=1; }
# The backtrace of G2 names the wait: gpm_cond_wait (pthread_cond_wait's
# body) called from the test's own function.
sed -n '/^G2 (cond-0)/,/gpm_ctx_trampoline/p' "$dir/gdb" >"$dir/bt"
grep -qE ' in (gpm_cond_wait|pthread_cond_wait) ' "$dir/bt" || { echo "FAIL: the backtrace has no cond wait"; fail=1; }
grep -q ' in gdbtest_condwaiter ' "$dir/bt" || { echo "FAIL: the backtrace does not name gdbtest_condwaiter"; fail=1; }
# The thread gdb stopped in has its own registers back: its frame #0 is
# not one of G2's.
last=$(tail -n 3 "$dir/gdb" | grep '^#0 ')
case $last in
*gdbtest_condwaiter*|*switchaway*|'') echo "FAIL: the thread's registers were not restored: $last"; fail=1 ;;
esac
kill -0 "$pid" 2>/dev/null || { echo "FAIL: the program died after the detach"; fail=1; }
[ $fail -eq 0 ] && echo "PASS"
exit $fail
