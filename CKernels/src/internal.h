/* internal.h — what the kernel files and dispatch.c share: kernel declarations and tiny inline helpers. */
#ifndef GLIMPSE_CKERNELS_INTERNAL_H
#define GLIMPSE_CKERNELS_INTERNAL_H

#include "ckernels.h"

#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define GL_INLINE static inline __attribute__((always_inline))
#else
#define GL_INLINE static inline
#endif

/*
 * The fused epilogue's clamp. Written with comparisons rather than fminf/fmaxf
 * so that it compiles to branch-free min/max and so that a NaN sum stays NaN
 * (fminf/fmaxf would replace it with a bound and hide a broken model).
 * -INFINITY / +INFINITY bounds leave every non-NaN value unchanged.
 */
GL_INLINE float gl_clamp(float v, float lo, float hi) {
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return v;
}

/*
 * Taps [*k0, *k1) of a window of `k` taps that starts at input coordinate `base`
 * (negative inside the top/left padding) and steps by `dilation` fall inside
 * [0, n); every other tap reads padding, i.e. zero. Computed once per output
 * row/column so the inner loops never test bounds.
 */
GL_INLINE void gl_tap_range(ptrdiff_t base, size_t dilation, size_t k, size_t n,
                            size_t *k0, size_t *k1) {
    size_t lo = 0, hi = 0;
    if (base < 0) lo = ((size_t)(-base) + dilation - 1) / dilation;
    if (base < (ptrdiff_t)n) hi = ((size_t)((ptrdiff_t)n - base) + dilation - 1) / dilation;
    if (hi > k) hi = k;
    if (lo > hi) lo = hi;
    *k0 = lo;
    *k1 = hi;
}

/*
 * The calling thread's gl_prefetch_next window: [cursor, end) still to touch. A kernel that
 * takes part copies it once per call (gl_prefetch_window_of_thread: a function, as gcc's
 * accesses to a thread-local from AVX-512 code give relocations ld cannot relax), passes the
 * copy down to its tiles, which touch one line per inner-loop step (gl_prefetch_line), and
 * stores it back when done.
 */
typedef struct gl_prefetch_window {
    const char *cursor, *end;
} gl_prefetch_window;
gl_prefetch_window *gl_prefetch_window_of_thread(void);

GL_INLINE void gl_prefetch_line(const char **cursor, const char *end) {
    if (*cursor < end) {
        __builtin_prefetch(*cursor, 0, 3);
        *cursor += 64;
    }
}

/* The checks every conv kernel's `supports` starts with: sizes positive,
 * channels divisible by groups, output_min <= output_max (neither NaN), a known activation. */
int gl_conv2d_params_valid(const gl_conv2d_params *p); /* ... and the input is NHWC */
/* The same checks with either input layout (kernels that read CHW, see input_chw). */
int gl_conv2d_params_valid_any_layout(const gl_conv2d_params *p);
/* A whole-tensor sanity check for `run`'s asserts. */
int gl_conv2d_rows_valid(const gl_conv2d_params *p, size_t row_begin, size_t row_end);

/*
 * Rows (pixels) in the next register block of at most mr when m remain: mr,
 * except that a remainder of mr+1 .. mr+3 is split in two (7 = 4 + 3 for
 * mr = 6), since a block of r rows has only r * vectors independent FMA
 * chains and too few leave the FMA pipes waiting on latency.
 */
GL_INLINE size_t gl_next_block(size_t m, size_t mr) {
    if (m <= mr) return m;
    if (m > mr + 3) return mr;
    return (m + 1) / 2;
}

/* The fused epilogue's parameters, read from gl_conv2d_params once per call: activation.h. */
typedef struct gl_epilogue gl_epilogue;

/*
 * The loop every SIMD pointwise GEMM shares: output columns in passes of the packed panels
 * whose weights fit about 384 KB (so one pass's weights stay in L2 while every pixel block
 * streams them; the 7x7 layers have 1-2 MB of weights), and per pass the pixels in blocks of
 * at most mr_max (gl_next_block). rows[mr] computes mr pixels against the panels of columns
 * [n0, n1) and ends them with the epilogue ep; width(nc, n0) is the packing's panel width
 * (see gl_pack_pointwise_panels).
 */
typedef void (*gl_pointwise_rows_fn)(size_t kc, const float *a, const float *w, size_t n0, size_t n1,
                                     size_t nc, float *c, const float *r, const gl_epilogue *ep,
                                     gl_prefetch_window *pf);
void gl_pointwise_run(const gl_conv2d_params *p, const float *input, const float *packed,
                      const float *residual, float *output, size_t row_begin, size_t row_end,
                      size_t (*width)(size_t nc, size_t n0), const gl_pointwise_rows_fn *rows, size_t mr_max);

/* The best rate (flops per second) that back-to-back calls of `chunk` reach in `seconds`
 * (at least one call); chunk runs one timed piece of a peak loop and returns its flops.
 * Shared by every variant's peak measurement (peak.c, x86/peak-avx2.c). */
double gl_peak_best_rate(double (*chunk)(void *state), void *state, double seconds);

/* Depthwise weights as the SIMD depthwise kernels read them (avx2 and neon: 8 channels a
 * block; avx512: 16): blocks [bias[b], then w[kernel_h * kernel_w][b]], the last zero-padded. */
size_t gl_f32_dwconv_packed_size_c8(const gl_conv2d_params *p);
void gl_f32_dwconv_pack_c8(const gl_conv2d_params *p, const float *weights_oihw, const float *bias, float *packed);
size_t gl_f32_dwconv_packed_size_c16(const gl_conv2d_params *p);
void gl_f32_dwconv_pack_c16(const gl_conv2d_params *p, const float *weights_oihw, const float *bias, float *packed);

/* A pointwise conv's weights (OIHW, 1×1) as the SIMD GEMMs read them: panels of output
 * channels, each as wide as width(out_c, first channel) says, [bias[w], then w[in_c][w]],
 * zero-padded past out_c (bias NULL: zero). */
void gl_pack_pointwise_panels(const gl_conv2d_params *p, const float *weights_oihw, const float *bias,
                              float *packed, size_t (*width)(size_t nc, size_t n0));

/* The SIMD variants' tables, each defined next to its kernels (src/x86/, src/arm/).
 * GL_HAVE_*_KERNELS is defined here once the table exists, so dispatch.c lists it. */
extern const gl_kernels gl_avx2_kernels;
extern const gl_kernels gl_avx512_kernels;
extern const gl_kernels gl_neon_kernels;
#if defined(__x86_64__)
#define GL_HAVE_AVX2_KERNELS 1
#define GL_HAVE_AVX512_KERNELS 1
#endif
#if defined(__aarch64__)
#define GL_HAVE_NEON_KERNELS 1
#endif

/* Every variant's conv2d registry line: name, variant, supports, packed_size, pack, run. */
#define GL_CONV2D(name, variant, supports, packed_size, pack) \
    { #name, variant, supports, packed_size, pack, name }

/* ---- scalar kernels (src/scalar/) ---- */

/* f32-conv1x1-scalar.c: packed as panels of 8 output channels, [bias[8], w[in_c][8]] each. */
int gl_f32_conv1x1_supports(const gl_conv2d_params *p);
size_t gl_f32_conv1x1_packed_size_x8(const gl_conv2d_params *p);
void gl_f32_conv1x1_pack_x8(const gl_conv2d_params *p, const float *weights_oihw,
                            const float *bias, float *packed);
void gl_f32_conv1x1_4x8_scalar(const gl_conv2d_params *p, const float *input,
                               const float *packed, const float *residual, float *output,
                               size_t row_begin, size_t row_end);

/* f32-dwconv-scalar.c: packed as bias[C] then w[kernel_h * kernel_w][C]. */
int gl_f32_dwconv_supports(const gl_conv2d_params *p);
int gl_f32_dwconv_3x3_supports(const gl_conv2d_params *p);
int gl_f32_dwconv_5x5_supports(const gl_conv2d_params *p);
size_t gl_f32_dwconv_packed_size(const gl_conv2d_params *p);
void gl_f32_dwconv_pack(const gl_conv2d_params *p, const float *weights_oihw,
                        const float *bias, float *packed);
void gl_f32_dwconv_3x3_scalar(const gl_conv2d_params *p, const float *input,
                              const float *packed, const float *residual, float *output,
                              size_t row_begin, size_t row_end);
void gl_f32_dwconv_5x5_scalar(const gl_conv2d_params *p, const float *input,
                              const float *packed, const float *residual, float *output,
                              size_t row_begin, size_t row_end);
void gl_f32_dwconv_kxk_scalar(const gl_conv2d_params *p, const float *input,
                              const float *packed, const float *residual, float *output,
                              size_t row_begin, size_t row_end);

/* f32-conv2d-scalar.c: per group, panels of 8 output channels,
 * [bias[8], w[kernel_h][kernel_w][in_c / groups][8]] each. */
int gl_f32_conv2d_supports(const gl_conv2d_params *p);
size_t gl_f32_conv2d_packed_size_x8(const gl_conv2d_params *p);
void gl_f32_conv2d_pack_x8(const gl_conv2d_params *p, const float *weights_oihw,
                           const float *bias, float *packed);
void gl_f32_conv2d_1x8_scalar(const gl_conv2d_params *p, const float *input,
                              const float *packed, const float *residual, float *output,
                              size_t row_begin, size_t row_end);

/* f32-pool-scalar.c */
void gl_f32_maxpool2d_scalar(const gl_pool2d_params *p, const float *input, float *output);
void gl_f32_avgpool2d_scalar(const gl_pool2d_params *p, const float *input, float *output);
void gl_f32_global_avgpool_scalar(size_t hw, size_t channels, const float *input, float *output);

/* f32-activation-scalar.c: the table's elementwise entries (ckernels.h) */
void gl_f32_activation_scalar(int kind, float alpha, float beta, float lo, float hi,
                              size_t n, const float *x, float *y);
void gl_f32_channel_scale_scalar(size_t pixels, size_t channels, const float *x, const float *scale, float *y);

/*
 * For test_kernels.c only: y[i] = the exp (activation.h's, clamped to [GL_EXP_MIN, GL_EXP_MAX])
 * that a table's sigmoid and SiLU use, so its error bound can be checked per variant. NULL for
 * a table that is not one of this build's.
 */
typedef void (*gl_vexp_fn)(size_t n, const float *x, float *y);
gl_vexp_fn gl_kernels_vexp(const gl_kernels *kernels);
void gl_f32_vexp_scalar(size_t n, const float *x, float *y);  /* each next to its variant's activation */
void gl_f32_vexp__avx2(size_t n, const float *x, float *y);
void gl_f32_vexp__avx512(size_t n, const float *x, float *y);
void gl_f32_vexp_neon(size_t n, const float *x, float *y);

/* f32-gemm-scalar.c */
void gl_f32_gemm_scalar(size_t m, size_t n, size_t k, float alpha,
                        const float *a, size_t a_rs, size_t a_cs,
                        const float *b, size_t b_rs, size_t b_cs,
                        float beta, float *c, size_t ldc);

/* The AVX2+FMA and AVX-512 kernels are declared in src/x86/avx2.h and avx512.h, the NEON ones
 * in src/arm/neon.h: only their files and their tables include those. */

#endif
