/*
 * Asynchronous preemption keeps every register.
 *
 * Looper threads (as many as there are CPUs, or GPM_MAXPROCS under gpm)
 * each run an assembly loop that first loads a distinct pattern into every
 * general register but rsp (rax..r15, rbp included), into every vector
 * register the CPU has (xmm0-15 with SSE; their ymm upper halves with AVX;
 * zmm0-31 and the mask registers k0-7 with AVX-512), into MXCSR (round
 * toward zero, flush to zero) and the x87 control word (round down,
 * single precision), then spins on `cmpb $0, stop; je` and counts its
 * iterations in memory: nothing in the loop reads or writes a register but
 * rip and the flags. When stop is set it stores every register back, and
 * the thread compares them with the patterns.
 *
 * A ticker thread meanwhile needs the CPU 20 times (usleep(1 ms), then a
 * little work), then sets stop. With as many loopers as CPUs, the ticker
 * runs only when a looper is preempted: natively by the kernel, under gpm
 * by sysmon's preemption signal (the loop makes no gpm call, so nothing
 * else can stop it). Under gpm with GPM_MAXPROCS=1 the test also checks
 * that a looper's counter does not move while the ticker runs: the looper
 * was really suspended, not left running beside it without a P.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"

#if !defined(__x86_64__)
int main(void)
{
    printf("x86_64 only: skipped\n");
    return 77;
}
#else

enum { VEC_NONE, VEC_SSE, VEC_AVX, VEC_AVX512 };

/* What one looper loads and stores back. Layout known to the assembly
   below: gpr[15] at 0, mxcsr at 120, fpucw at 124, k[8] at 128, vec[32]
   (64 bytes each) at 192. */
struct regs {
    uint64_t gpr[15]; /* rax rbx rcx rdx rsi rdi rbp r8 r9 r10 r11 r12 r13 r14 r15 */
    uint32_t mxcsr;
    uint16_t fpucw;
    uint16_t pad;
    uint64_t k[8];
    uint8_t vec[32][64];
} __attribute__((aligned(64)));

_Static_assert(__builtin_offsetof(struct regs, mxcsr) == 120, "layout");
_Static_assert(__builtin_offsetof(struct regs, k) == 128, "layout");
_Static_assert(__builtin_offsetof(struct regs, vec) == 192, "layout");

/* void regloop(const struct regs *in, struct regs *out, volatile uint8_t
   *stop, volatile uint64_t *count, int kind): arguments in rdi, rsi, rdx,
   rcx, r8d. After the prologue the stack holds: 0 count, 8 stop, 16 out,
   24 kind, 32 the caller's x87 control word and (36) MXCSR, then the six
   callee-saved registers. */
void regloop(const struct regs *in, struct regs *out, volatile uint8_t *stop, volatile uint64_t *count, int kind);

__asm__(".text\n"
        ".globl regloop\n"
        ".type regloop, @function\n"
        "regloop:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  subq $8, %rsp\n"
        "  fnstcw (%rsp)\n  stmxcsr 4(%rsp)\n"
        "  pushq %r8\n  pushq %rsi\n  pushq %rdx\n  pushq %rcx\n"
        /* vector state from in (rdi), by kind (r8d) */
        "  cmpl $1, %r8d\n  je 11f\n"
        "  cmpl $2, %r8d\n  je 12f\n"
        "  cmpl $3, %r8d\n  je 13f\n"
        "  jmp 19f\n"
        "11:\n"
        "  .irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        "  movdqu 192+\\n*64(%rdi), %xmm\\n\n"
        "  .endr\n"
        "  jmp 19f\n"
        "12:\n"
        "  .irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        "  vmovdqu 192+\\n*64(%rdi), %ymm\\n\n"
        "  .endr\n"
        "  jmp 19f\n"
        "13:\n"
        "  .irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
        "  vmovdqu64 192+\\n*64(%rdi), %zmm\\n\n"
        "  .endr\n"
        "  .irp n,0,1,2,3,4,5,6,7\n"
        "  kmovq 128+\\n*8(%rdi), %k\\n\n"
        "  .endr\n"
        "19:\n"
        "  ldmxcsr 120(%rdi)\n  fldcw 124(%rdi)\n"
        /* general registers from in, rdi last */
        "  movq 0(%rdi), %rax\n  movq 8(%rdi), %rbx\n  movq 16(%rdi), %rcx\n  movq 24(%rdi), %rdx\n"
        "  movq 32(%rdi), %rsi\n  movq 48(%rdi), %rbp\n  movq 56(%rdi), %r8\n  movq 64(%rdi), %r9\n"
        "  movq 72(%rdi), %r10\n  movq 80(%rdi), %r11\n  movq 88(%rdi), %r12\n  movq 96(%rdi), %r13\n"
        "  movq 104(%rdi), %r14\n  movq 112(%rdi), %r15\n  movq 40(%rdi), %rdi\n"
        /* the loop: no register but rip and the flags changes */
        "20:\n"
        "  xchgq %rax, 0(%rsp)\n  incq (%rax)\n  xchgq %rax, 0(%rsp)\n"
        "  xchgq %rax, 8(%rsp)\n  cmpb $0, (%rax)\n  xchgq %rax, 8(%rsp)\n"
        "  je 20b\n"
        /* everything back to out: out in rax, the looped rax on the stack */
        "  xchgq %rax, 16(%rsp)\n"
        "  movq %rbx, 8(%rax)\n  movq %rcx, 16(%rax)\n  movq %rdx, 24(%rax)\n  movq %rsi, 32(%rax)\n"
        "  movq %rdi, 40(%rax)\n  movq %rbp, 48(%rax)\n  movq %r8, 56(%rax)\n  movq %r9, 64(%rax)\n"
        "  movq %r10, 72(%rax)\n  movq %r11, 80(%rax)\n  movq %r12, 88(%rax)\n  movq %r13, 96(%rax)\n"
        "  movq %r14, 104(%rax)\n  movq %r15, 112(%rax)\n"
        "  movq 16(%rsp), %rbx\n  movq %rbx, 0(%rax)\n"
        "  stmxcsr 120(%rax)\n  fnstcw 124(%rax)\n"
        "  movl 24(%rsp), %ecx\n"
        "  cmpl $1, %ecx\n  je 31f\n"
        "  cmpl $2, %ecx\n  je 32f\n"
        "  cmpl $3, %ecx\n  je 33f\n"
        "  jmp 39f\n"
        "31:\n"
        "  .irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        "  movdqu %xmm\\n, 192+\\n*64(%rax)\n"
        "  .endr\n"
        "  jmp 39f\n"
        "32:\n"
        "  .irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        "  vmovdqu %ymm\\n, 192+\\n*64(%rax)\n"
        "  .endr\n"
        "  vzeroupper\n"
        "  jmp 39f\n"
        "33:\n"
        "  .irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
        "  vmovdqu64 %zmm\\n, 192+\\n*64(%rax)\n"
        "  .endr\n"
        "  .irp n,0,1,2,3,4,5,6,7\n"
        "  kmovq %k\\n, 128+\\n*8(%rax)\n"
        "  .endr\n"
        "  vzeroupper\n"
        "39:\n"
        "  fldcw 32(%rsp)\n  ldmxcsr 36(%rsp)\n"
        "  addq $40, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".size regloop, .-regloop\n");

/* The widest vector state the CPU and the kernel let us use. */
static int veckind(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return VEC_NONE;
    if (!(d & bit_SSE2))
        return VEC_NONE;
    if (!(c & bit_OSXSAVE) || !(c & bit_AVX))
        return VEC_SSE;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6)
        return VEC_SSE;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX512F) && (lo & 0xe0) == 0xe0)
        return VEC_AVX512;
    return VEC_AVX;
}

static const char *const kindnames[] = {"no vectors", "SSE", "AVX", "AVX-512"};

#define NTICKS 20

static _Atomic uint8_t stop;
static int kind;
static int nloopers;
static volatile uint64_t counts[64];
static atomic_int running;

struct looper {
    int id;
    struct regs in, out;
};

static void fill(struct regs *r, int id)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t)(id + 1);
    for (int i = 0; i < 15; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r->gpr[i] = x;
    }
    for (int i = 0; i < 8; i++)
        r->k[i] = 0x0102030405060708ULL * (uint64_t)(i + 1) + (uint64_t)id;
    for (int v = 0; v < 32; v++)
        for (int j = 0; j < 64; j++)
            r->vec[v][j] = (uint8_t)(v * 64 + j * 7 + id * 13 + 1);
    /* Round toward zero (RC = 11) with flush-to-zero and every exception
       masked; x87: round down (RC = 01), single precision (PC = 00). */
    r->mxcsr = 0x1f80 | 0x6000 | 0x8000;
    r->fpucw = 0x037f & ~0x0300 & ~0x0c00;
    r->fpucw |= 0x0400;
}

static void *loop(void *arg)
{
    struct looper *l = arg;
    fill(&l->in, l->id);
    memset(&l->out, 0, sizeof l->out);
    atomic_fetch_add(&running, 1);
    regloop(&l->in, &l->out, (volatile uint8_t *)&stop, &counts[l->id], kind);
    for (int i = 0; i < 15; i++)
        CHECK(l->out.gpr[i] == l->in.gpr[i], "looper %d: general register %d is %#llx, not %#llx", l->id, i,
              (unsigned long long)l->out.gpr[i], (unsigned long long)l->in.gpr[i]);
    CHECK(l->out.mxcsr == l->in.mxcsr, "looper %d: MXCSR %#x, not %#x", l->id, l->out.mxcsr, l->in.mxcsr);
    CHECK(l->out.fpucw == l->in.fpucw, "looper %d: x87 CW %#x, not %#x", l->id, l->out.fpucw, l->in.fpucw);
    int nvec = kind == VEC_AVX512 ? 32 : kind == VEC_NONE ? 0 : 16;
    int width = kind == VEC_AVX512 ? 64 : kind == VEC_AVX ? 32 : 16;
    for (int v = 0; v < nvec; v++)
        CHECK(memcmp(l->out.vec[v], l->in.vec[v], (size_t)width) == 0, "looper %d: vector register %d differs",
              l->id, v);
    if (kind == VEC_AVX512)
        for (int i = 0; i < 8; i++)
            CHECK(l->out.k[i] == l->in.k[i], "looper %d: k%d differs", l->id, i);
    return NULL;
}

int main(void)
{
    alarm(60);
    kind = veckind();
    const char *e = getenv("GPM_MAXPROCS");
    nloopers = under_gpm() && e != NULL ? atoi(e) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nloopers < 1)
        nloopers = 1;
    if (nloopers > 8)
        nloopers = 8;
    bool onep = under_gpm() && e != NULL && atoi(e) == 1;

    struct looper *ls = aligned_alloc(64, sizeof *ls * (size_t)nloopers);
    CHECK(ls != NULL, "memory");
    pthread_t th[8];
    for (int i = 0; i < nloopers; i++) {
        ls[i].id = i;
        CHECK_EQ(pthread_create(&th[i], NULL, loop, &ls[i]), 0);
    }
    /* Main is the ticker: it runs only when a looper is preempted. */
    int frozen = 0;
    struct timespec t0 = now(CLOCK_MONOTONIC);
    for (int t = 0; t < NTICKS; t++) {
        CHECK_EQ(usleep(1000), 0);
        if (atomic_load(&running) < nloopers)
            continue; /* not all in their loops yet */
        /* A looper that was preempted for us stays still while we run. */
        uint64_t c0 = counts[0];
        struct timespec w0 = now(CLOCK_MONOTONIC);
        while (ns(now(CLOCK_MONOTONIC)) - ns(w0) < 200000)
            ;
        frozen += counts[0] == c0;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < nloopers; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    double el = (double)(ns(now(CLOCK_MONOTONIC)) - ns(t0)) / 1e9;
    if (onep)
        CHECK(frozen >= NTICKS / 2, "looper 0 kept running beside main in %d of %d ticks", NTICKS - frozen, NTICKS);
    printf("%d loopers kept every register (%s, %s) through %d ticks in %.2f s; looper 0 still in %d (%s)\n",
           nloopers, "general, MXCSR, x87 CW", kindnames[kind], NTICKS, el, frozen, test_mode());
    free(ls);
    return 0;
}

#endif
