/*
 * Unit tests of the G state machine (gpm_casgstatus in src/core/sched.c):
 * every transition runtime.h documents is allowed, and anything else, or a
 * G not in the expected state, aborts with a message.
 */
#include <criterion/criterion.h>
#include <signal.h>

#include "runtime.h"

static struct gpm_g g;

static void at(uint32_t s)
{
    atomic_store(&g.atomicstatus, s);
}

Test(gstatus, documented_transitions)
{
    static const uint32_t ok[][2] = {
        {G_IDLE, G_RUNNABLE},    {G_RUNNABLE, G_RUNNING}, {G_RUNNING, G_RUNNABLE},
        {G_RUNNING, G_WAITING},  {G_RUNNING, G_SYSCALL},  {G_RUNNING, G_DEAD},
        {G_SYSCALL, G_RUNNING},  {G_SYSCALL, G_RUNNABLE}, {G_WAITING, G_RUNNABLE},
        {G_DEAD, G_IDLE},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        at(ok[i][0]);
        gpm_casgstatus(&g, ok[i][0], ok[i][1]);
        cr_assert_eq(gpm_readgstatus(&g), ok[i][1]);
    }
}

Test(gstatus, waiting_to_running_aborts, .signal = SIGABRT)
{
    at(G_WAITING);
    gpm_casgstatus(&g, G_WAITING, G_RUNNING);
}

Test(gstatus, dead_to_runnable_aborts, .signal = SIGABRT)
{
    at(G_DEAD);
    gpm_casgstatus(&g, G_DEAD, G_RUNNABLE);
}

Test(gstatus, wrong_current_state_aborts, .signal = SIGABRT)
{
    at(G_RUNNABLE);
    gpm_casgstatus(&g, G_WAITING, G_RUNNABLE);
}

Test(gstatus, names)
{
    cr_assert_str_eq(gpm_gstatus_name(G_WAITING), "waiting");
    cr_assert_str_eq(gpm_gstatus_name(99), "???");
}
