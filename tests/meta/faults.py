#!/usr/bin/env python3
"""tests/meta/faults.py LIBGPM FAULTS_PROG: GPM_DEBUG=faults=1 (README).

FAULTS_PROG's second thread stores through a null pointer, with no handler.
1. Natively, and under gpm without the setting, it dies of SIGSEGV with
   nothing on stderr from gpm.
2. Under gpm with GPM_DEBUG=faults=1, GPM_MAXPROCS=1 and 2, it still dies
   of SIGSEGV, after one line naming its G, its kernel thread, the address
   (0x0) and the signal, and a stack that goes through crash_here.
"""

import os
import re
import signal
import subprocess
import sys


def fail(msg):
    print(f"faults: {msg}", file=sys.stderr)
    sys.exit(1)


def run(prog, env_extra):
    env = dict(os.environ)
    for k in ("LD_PRELOAD", "GPM_DEBUG", "GPM_MAXPROCS"):
        env.pop(k, None)
    env.update(env_extra)
    p = subprocess.run([prog], env=env, capture_output=True, text=True, timeout=30)
    if p.returncode != -signal.SIGSEGV:
        fail(f"{env_extra}: exit {p.returncode}, not SIGSEGV; stderr: {p.stderr!r}")
    return p.stderr


def main():
    lib, prog = sys.argv[1], sys.argv[2]
    if "gpm:" in run(prog, {}):
        fail("native run printed gpm's line")
    if re.search(r"gpm: G\d+", run(prog, {"LD_PRELOAD": lib})):
        fail("without GPM_DEBUG=faults=1, gpm printed a fault line")
    for procs in ("1", "2"):
        err = run(prog, {"LD_PRELOAD": lib, "GPM_DEBUG": "faults=1", "GPM_MAXPROCS": procs})
        m = re.search(r"^gpm: G(\d+) \(tid (\d+)\) dies of signal 11: address 0x0, pc 0x[0-9a-f]+, code \d+$",
                      err, re.M)
        if m is None:
            fail(f"GPM_MAXPROCS={procs}: no fault line in {err!r}")
        if int(m.group(1)) == 1:
            fail("the fault is the second thread's, not G1's")
        if "crash_here" not in err:
            fail(f"GPM_MAXPROCS={procs}: the stack does not show crash_here: {err!r}")
    print("faults: silent natively and by default; with faults=1 the thread, address and stack (1 and 2 Ps)")


main()
