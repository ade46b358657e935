/* peak.c — one core's measured multiply-add peak for a variant, the denominator of the bench's "% of peak". */
#define _POSIX_C_SOURCE 199309L
#include "internal.h"

#include <string.h>
#include <time.h>

#if defined(__x86_64__) && defined(GL_HAVE_AVX2_KERNELS)
double gl_avx2_fma_peak_gflops(double seconds);   /* src/x86/peak-avx2.c */
double gl_avx512_fma_peak_gflops(double seconds); /* src/x86/peak-avx2.c */
#endif
#if defined(__aarch64__) && defined(GL_HAVE_NEON_KERNELS)
#include <arm_neon.h>
#endif

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double gl_peak_best_rate(double (*chunk)(void *state), void *state, double seconds) {
    double best = 0.0;
    const double start = now_seconds();
    double t0 = start;
    do {
        const double flops = chunk(state);
        const double t1 = now_seconds();
        if (t1 > t0 && flops / (t1 - t0) > best) best = flops / (t1 - t0);
        t0 = t1;
    } while (t0 - start < seconds);
    return best;
}

#define CHAINS 8
#define STEPS 4096

/*
 * The empty asm statement says each accumulator must sit, alone, in an FP
 * register after every step: the compiler can then neither fold the steps
 * nor pack the chains into one SIMD register, so the scalar loop measures
 * scalar multiply-adds (mulss + addss on baseline x86_64, fmadd on aarch64).
 */
#if defined(__x86_64__)
#define KEEP_SCALAR(v) __asm__ volatile("" : "+x"(v))
#elif defined(__aarch64__)
#define KEEP_SCALAR(v) __asm__ volatile("" : "+w"(v))
#else
#define KEEP_SCALAR(v) ((void)0)
#endif

static double scalar_chunk(float *acc, float m, float a) {
    float x0 = acc[0], x1 = acc[1], x2 = acc[2], x3 = acc[3];
    float x4 = acc[4], x5 = acc[5], x6 = acc[6], x7 = acc[7];
    for (int s = 0; s < STEPS; s++) {
        x0 = x0 * m + a; x1 = x1 * m + a; x2 = x2 * m + a; x3 = x3 * m + a;
        x4 = x4 * m + a; x5 = x5 * m + a; x6 = x6 * m + a; x7 = x7 * m + a;
        KEEP_SCALAR(x0); KEEP_SCALAR(x1); KEEP_SCALAR(x2); KEEP_SCALAR(x3);
        KEEP_SCALAR(x4); KEEP_SCALAR(x5); KEEP_SCALAR(x6); KEEP_SCALAR(x7);
    }
    acc[0] = x0; acc[1] = x1; acc[2] = x2; acc[3] = x3;
    acc[4] = x4; acc[5] = x5; acc[6] = x6; acc[7] = x7;
    return (double)STEPS * CHAINS * 2;
}

#if defined(__aarch64__) && defined(GL_HAVE_NEON_KERNELS)
/*
 * x += b * c: FMLA accumulates into its destination, so the chain must be the
 * addend (x = a + x*m would copy a into a fresh register every step). The
 * product is tiny: x never changes by more than rounding, nothing overflows or
 * goes denormal.
 */
static double neon_chunk(float32x4_t *acc, float32x4_t b, float32x4_t c) {
    float32x4_t x0 = acc[0], x1 = acc[1], x2 = acc[2], x3 = acc[3];
    float32x4_t x4 = acc[4], x5 = acc[5], x6 = acc[6], x7 = acc[7];
    for (int s = 0; s < STEPS; s++) {
        x0 = vfmaq_f32(x0, b, c); x1 = vfmaq_f32(x1, b, c);
        x2 = vfmaq_f32(x2, b, c); x3 = vfmaq_f32(x3, b, c);
        x4 = vfmaq_f32(x4, b, c); x5 = vfmaq_f32(x5, b, c);
        x6 = vfmaq_f32(x6, b, c); x7 = vfmaq_f32(x7, b, c);
        /* each chain an FMA in its own register (clang rewrote some otherwise) */
        KEEP_SCALAR(x0); KEEP_SCALAR(x1); KEEP_SCALAR(x2); KEEP_SCALAR(x3);
        KEEP_SCALAR(x4); KEEP_SCALAR(x5); KEEP_SCALAR(x6); KEEP_SCALAR(x7);
    }
    acc[0] = x0; acc[1] = x1; acc[2] = x2; acc[3] = x3;
    acc[4] = x4; acc[5] = x5; acc[6] = x6; acc[7] = x7;
    return (double)STEPS * CHAINS * 4 * 2;
}
#endif

/* Best rate of `chunk` over `seconds` (at least one chunk), as in peak-avx2.c. */
static double scalar_step(void *acc) { return scalar_chunk(acc, 0.999f, 0.001f); }

static double scalar_peak_gflops(double seconds) {
    float acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = (float)(i + 2); /* not the fixed point, 1 */
    const double best = gl_peak_best_rate(scalar_step, acc, seconds);
    float sum = 0.0f; /* every chain observable */
    for (int i = 0; i < CHAINS; i++) sum += acc[i];
    volatile float sink = sum;
    (void)sink;
    return best * 1e-9;
}

#if defined(__aarch64__) && defined(GL_HAVE_NEON_KERNELS)
static double neon_step(void *acc) { return neon_chunk(acc, vdupq_n_f32(1e-4f), vdupq_n_f32(1e-4f)); }

static double neon_peak_gflops(double seconds) {
    float32x4_t acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = vdupq_n_f32((float)i);
    const double best = gl_peak_best_rate(neon_step, acc, seconds);
    /* every chain observable, or the compiler drops the unobserved ones */
    float32x4_t sum = acc[0];
    for (int i = 1; i < CHAINS; i++) sum = vaddq_f32(sum, acc[i]);
    volatile float sink = vaddvq_f32(sum);
    (void)sink;
    return best * 1e-9;
}
#endif

double gl_kernels_peak_gflops(const gl_kernels *kernels, double seconds) {
    if (kernels == NULL || !gl_kernels_variant_supported(kernels)) return 0.0;
    if (!(seconds >= 0.0)) seconds = 0.0;
#if defined(__x86_64__) && defined(GL_HAVE_AVX2_KERNELS)
    if (strcmp(kernels->variant, "avx2") == 0) return gl_avx2_fma_peak_gflops(seconds);
    if (strcmp(kernels->variant, "avx512") == 0) return gl_avx512_fma_peak_gflops(seconds);
#endif
#if defined(__aarch64__) && defined(GL_HAVE_NEON_KERNELS)
    if (strcmp(kernels->variant, "neon") == 0) return neon_peak_gflops(seconds);
#endif
    return scalar_peak_gflops(seconds);
}
