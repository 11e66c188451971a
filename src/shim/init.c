/*
 * src/shim/init.c: the constructor. gpm starts before main so that main's
 * flow is G1 from its first instruction; every interposed symbol also
 * starts it on first use, for calls that come before constructors run.
 */
#define _GNU_SOURCE
#include "shim.h"

__attribute__((constructor)) static void gpm_constructor(void)
{
    gpm_active();
}
