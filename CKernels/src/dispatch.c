/* dispatch.c — the kernel registry (one table per variant) and the active-table pointer the engine reads. */
#include "internal.h"

#include <stdatomic.h>
#include <string.h>

/*
 * One line per kernel, most specialised first: gl_conv2d_select returns the
 * first whose `supports` accepts the shape, so order is priority. The tests
 * and the bench walk these same tables through gl_kernels_variant.
 */

static const gl_conv2d_kernel scalar_conv2d[] = {
    GL_CONV2D(gl_f32_conv1x1_4x8_scalar, "scalar", gl_f32_conv1x1_supports,
              gl_f32_conv1x1_packed_size_x8, gl_f32_conv1x1_pack_x8),
    GL_CONV2D(gl_f32_dwconv_3x3_scalar, "scalar", gl_f32_dwconv_3x3_supports,
              gl_f32_dwconv_packed_size, gl_f32_dwconv_pack),
    GL_CONV2D(gl_f32_dwconv_5x5_scalar, "scalar", gl_f32_dwconv_5x5_supports,
              gl_f32_dwconv_packed_size, gl_f32_dwconv_pack),
    GL_CONV2D(gl_f32_dwconv_kxk_scalar, "scalar", gl_f32_dwconv_supports,
              gl_f32_dwconv_packed_size, gl_f32_dwconv_pack),
    GL_CONV2D(gl_f32_conv2d_1x8_scalar, "scalar", gl_f32_conv2d_supports,
              gl_f32_conv2d_packed_size_x8, gl_f32_conv2d_pack_x8),
};

static const gl_kernels scalar_kernels = {
    .variant = "scalar",
    .conv2d = scalar_conv2d,
    .conv2d_count = sizeof scalar_conv2d / sizeof scalar_conv2d[0],
    .maxpool2d = gl_f32_maxpool2d_scalar,
    .avgpool2d = gl_f32_avgpool2d_scalar,
    .global_avgpool = gl_f32_global_avgpool_scalar,
    .activation = gl_f32_activation_scalar,
    .channel_scale = gl_f32_channel_scale_scalar,
    .gemm = gl_f32_gemm_scalar,
};

static int always(void) { return 1; }

#if defined(__x86_64__)
/* AVX2+FMA: the table lives in src/x86/ (kernels built with target("avx2,fma")
 * attributes so the rest of the build stays baseline x86_64). */
static int avx2_supported(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
/* AVX-512F and VL (its table also uses AVX2 kernels). The OS must save zmm state, which
 * __builtin_cpu_supports checks through XGETBV. */
static int avx512_supported(void) {
    return avx2_supported() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}
#endif
/* NEON (src/arm/) is architectural on aarch64, so its `supported` is `always`. */

/* The variants this build has: scalar first, then in increasing preference;
 * the default active table is the last one the CPU supports. */
static const struct variant {
    const gl_kernels *kernels;
    int (*supported)(void);
} variants[] = {
    {&scalar_kernels, always},
#if defined(__x86_64__) && defined(GL_HAVE_AVX2_KERNELS)
    {&gl_avx2_kernels, avx2_supported},
#endif
#if defined(__x86_64__) && defined(GL_HAVE_AVX512_KERNELS)
    {&gl_avx512_kernels, avx512_supported},
#endif
#if defined(__aarch64__) && defined(GL_HAVE_NEON_KERNELS)
    {&gl_neon_kernels, always},
#endif
};

#define VARIANT_COUNT (sizeof variants / sizeof variants[0])

size_t gl_kernels_variant_count(void) { return VARIANT_COUNT; }

/* NULL for an index past the end. */
const gl_kernels *gl_kernels_variant(size_t index) {
    return index < VARIANT_COUNT ? variants[index].kernels : NULL;
}

/* 0 for NULL and for a table that is not one of this build's. */
int gl_kernels_variant_supported(const gl_kernels *kernels) {
    for (size_t i = 0; i < VARIANT_COUNT; i++)
        if (variants[i].kernels == kernels) return variants[i].supported() ? 1 : 0;
    return 0;
}

static const gl_kernels *best_supported(void) {
    for (size_t i = VARIANT_COUNT; i-- > 0;)
        if (variants[i].supported()) return variants[i].kernels;
    return &scalar_kernels;
}

/*
 * The active table. Read from every worker thread, written by gl_kernels_select
 * at start-up (and lazily on first read): an atomic pointer makes that
 * well-defined. Release/acquire publishes the (constant, static) table with it.
 */
static _Atomic(const gl_kernels *) active_kernels = NULL;

const gl_kernels *gl_kernels_active(void) {
    const gl_kernels *k = atomic_load_explicit(&active_kernels, memory_order_acquire);
    if (k != NULL) return k;
    const gl_kernels *best = best_supported();
    /* If another thread selected or defaulted meanwhile, its choice wins. */
    if (atomic_compare_exchange_strong_explicit(&active_kernels, &k, best,
                                                memory_order_acq_rel, memory_order_acquire))
        return best;
    return k;
}

int gl_kernels_select(const char *variant) {
    if (variant == NULL) return -1;
    for (size_t i = 0; i < VARIANT_COUNT; i++) {
        if (strcmp(variants[i].kernels->variant, variant) != 0) continue;
        if (!variants[i].supported()) return -2;
        atomic_store_explicit(&active_kernels, variants[i].kernels, memory_order_release);
        return 0;
    }
    return -1;
}

gl_vexp_fn gl_kernels_vexp(const gl_kernels *kernels) {
    if (kernels == &scalar_kernels) return gl_f32_vexp_scalar;
#if defined(__x86_64__) && defined(GL_HAVE_AVX2_KERNELS)
    if (kernels == &gl_avx2_kernels) return gl_f32_vexp__avx2;
#endif
#if defined(__x86_64__) && defined(GL_HAVE_AVX512_KERNELS)
    if (kernels == &gl_avx512_kernels) return gl_f32_vexp__avx512;
#endif
#if defined(__aarch64__) && defined(GL_HAVE_NEON_KERNELS)
    if (kernels == &gl_neon_kernels) return gl_f32_vexp_neon;
#endif
    return NULL;
}

const gl_conv2d_kernel *gl_conv2d_select(const gl_kernels *kernels, const gl_conv2d_params *p) {
    if (kernels == NULL || p == NULL) return NULL;
    for (size_t i = 0; i < kernels->conv2d_count; i++)
        if (kernels->conv2d[i].supports(p)) return &kernels->conv2d[i];
    return NULL;
}
