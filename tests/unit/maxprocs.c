/*
 * Unit tests of the default GPM_MAXPROCS (src/core/env.c): the cgroup v2
 * cpu.max quota of the process's cgroup and its ancestors, rounded up, the
 * smallest one winning; "max" means no limit.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env.h"

static char dir[64];

static void put(const char *rel, const char *content)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    for (char *p = path + strlen(dir) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(content, f);
    fclose(f);
}

static int32_t limit(void)
{
    char cg[128], root[128];
    snprintf(cg, sizeof cg, "%s/cgroup", dir);
    snprintf(root, sizeof root, "%s/root", dir);
    return gpm_cgroup_cpu_limit(cg, root);
}

static void setup(void)
{
    strcpy(dir, "/tmp/gpm-maxprocs-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(maxprocs, .init = setup, .fini = teardown);

Test(maxprocs, quota_rounds_up)
{
    put("cgroup", "0::/a/b\n");
    put("root/a/b/cpu.max", "150000 100000\n");
    cr_assert_eq(limit(), 2);
}

Test(maxprocs, smallest_ancestor_wins)
{
    put("cgroup", "0::/a/b\n");
    put("root/a/b/cpu.max", "300000 100000\n");
    put("root/a/cpu.max", "100000 100000\n");
    put("root/cpu.max", "max 100000\n");
    cr_assert_eq(limit(), 1);
}

Test(maxprocs, fraction_of_a_cpu_is_one)
{
    put("cgroup", "0::/x\n");
    put("root/x/cpu.max", "20000 100000\n");
    cr_assert_eq(limit(), 1);
}

Test(maxprocs, max_means_no_limit)
{
    put("cgroup", "0::/x\n");
    put("root/x/cpu.max", "max 100000\n");
    cr_assert_eq(limit(), 0);
}

Test(maxprocs, cgroup_v1_or_missing_is_no_limit)
{
    put("cgroup", "12:cpu,cpuacct:/x\n");
    cr_assert_eq(limit(), 0);
    char cg[128];
    snprintf(cg, sizeof cg, "%s/nonexistent", dir);
    cr_assert_eq(gpm_cgroup_cpu_limit(cg, "/nonexistent"), 0);
}

Test(maxprocs, default_is_at_least_one_and_at_most_cpus)
{
    int32_t n = gpm_default_maxprocs();
    cr_assert_geq(n, 1);
    cr_assert_leq(n, sysconf(_SC_NPROCESSORS_CONF));
}
