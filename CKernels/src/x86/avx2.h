/* avx2.h — what the AVX2+FMA kernel files share: the target attribute, lane masks, the epilogue and every kernel's declaration. */
#ifndef GLIMPSE_CKERNELS_X86_AVX2_H
#define GLIMPSE_CKERNELS_X86_AVX2_H

#include "../internal.h"

#if defined(__x86_64__)

#include <immintrin.h>

/*
 * Every function that touches a ymm register carries this attribute instead of
 * the build using -mavx2: the package must still build for, and run on,
 * baseline x86_64, where dispatch.c never selects this table.
 */
#define GL_AVX2 __attribute__((target("avx2,fma")))
#define GL_AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/*
 * Loops over a compile-time count of registers (pixels of a block, vectors of
 * a panel, taps of a window row) must be unrolled completely, or the
 * accumulator arrays live in memory. Said explicitly because gcc 12 at -O3
 * otherwise leaves some partly rolled, and then mis-compiled the 5x5 dwconv
 * tile (jump threading; correct with -fno-thread-jumps or full unrolling).
 */
#define GL_PRAGMA(x) _Pragma(#x)
#define GL_UNROLL GL_PRAGMA(GCC unroll 32)

/* gl_avx2_lane_mask[8 - n .. 16 - n) is a mask of the first n lanes (0 <= n <= 8). */
extern const int gl_avx2_lane_mask[16];

GL_AVX2_INLINE __m256i gl_avx2_mask(size_t n) {
    return _mm256_loadu_si256((const __m256i *)(gl_avx2_lane_mask + 8 - n));
}

/*
 * The fused clamp, NaN-preserving like gl_clamp: MAXPS/MINPS return their
 * second operand when either is NaN, so the bound goes first and a NaN sum
 * comes out unchanged. -INFINITY / +INFINITY bounds leave every value as is.
 */
GL_AVX2_INLINE __m256 gl_avx2_clamp(__m256 v, __m256 lo, __m256 hi) {
    return _mm256_min_ps(hi, _mm256_max_ps(lo, v));
}

/*
 * Epilogue of one pixel's NV accumulators: + residual (r may be NULL), clamp,
 * store to c. n is the number of real channels, (NV-1)*8 < n <= NV*8: all
 * vectors but the last are whole, the last is masked when n < NV*8.
 */
GL_AVX2_INLINE void gl_avx2_store_pixel(const size_t NV, float *c, const float *r,
                                        const __m256 *acc, __m256 lo, __m256 hi, size_t n) {
    if (n == NV * 8) {
        GL_UNROLL for (size_t v = 0; v < NV; v++) {
            __m256 x = acc[v];
            if (r != NULL) x = _mm256_add_ps(x, _mm256_loadu_ps(r + 8 * v));
            _mm256_storeu_ps(c + 8 * v, gl_avx2_clamp(x, lo, hi));
        }
    } else {
        const __m256i mask = gl_avx2_mask(n - (NV - 1) * 8);
        GL_UNROLL for (size_t v = 0; v + 1 < NV; v++) {
            __m256 x = acc[v];
            if (r != NULL) x = _mm256_add_ps(x, _mm256_loadu_ps(r + 8 * v));
            _mm256_storeu_ps(c + 8 * v, gl_avx2_clamp(x, lo, hi));
        }
        __m256 x = acc[NV - 1];
        if (r != NULL) x = _mm256_add_ps(x, _mm256_maskload_ps(r + 8 * (NV - 1), mask));
        _mm256_maskstore_ps(c + 8 * (NV - 1), mask, gl_avx2_clamp(x, lo, hi));
    }
}


/* ---- f32-conv1x1-avx2.c ---- */

/* 6 pixels × 16 channels; panels of 16 output channels (the last of 8 when
 * that is enough), each [bias[w], w[in_c][w]]. */
size_t gl_f32_conv1x1_packed_size_x16(const gl_conv2d_params *p);
void gl_f32_conv1x1_pack_x16(const gl_conv2d_params *p, const float *weights_oihw,
                             const float *bias, float *packed);
void gl_f32_conv1x1_6x16__avx2(const gl_conv2d_params *p, const float *input,
                               const float *packed, const float *residual, float *output,
                               size_t row_begin, size_t row_end);

/* Images of at most GL_CONV1X1_SMALL_PIXELS pixels (the classifier: one):
 * panels of 64 channels, taken 64 at a time by one pixel, 32 by 2-3 pixels,
 * 16 by 4-6 pixels. */
#define GL_CONV1X1_SMALL_PIXELS 16
int gl_f32_conv1x1_small_supports(const gl_conv2d_params *p);
size_t gl_f32_conv1x1_packed_size_x64(const gl_conv2d_params *p);
void gl_f32_conv1x1_pack_x64(const gl_conv2d_params *p, const float *weights_oihw,
                             const float *bias, float *packed);
void gl_f32_conv1x1_1x64__avx2(const gl_conv2d_params *p, const float *input,
                               const float *packed, const float *residual, float *output,
                               size_t row_begin, size_t row_end);

/* The row-tiled depthwise kernels (AVX2 and AVX-512, tiles of pixels along a row, window
 * weights in registers) need dilation 1 and a horizontal stride of 1 or 2; the rest goes to
 * gl_f32_dwconv_kxk__avx2. */
static inline int gl_dwconv_row_tiled(const gl_conv2d_params *p) {
    return p->dilation_h == 1 && p->dilation_w == 1 && (p->stride_w == 1 || p->stride_w == 2);
}

/* ---- f32-dwconv-avx2.c: channels in blocks of 8 (the last zero-padded),
 * each block [bias[8], w[kernel_h * kernel_w][8]] ---- */
void gl_f32_dwconv_3x3__avx2(const gl_conv2d_params *p, const float *input,
                             const float *packed, const float *residual, float *output,
                             size_t row_begin, size_t row_end);
void gl_f32_dwconv_5x5__avx2(const gl_conv2d_params *p, const float *input,
                             const float *packed, const float *residual, float *output,
                             size_t row_begin, size_t row_end);
void gl_f32_dwconv_kxk__avx2(const gl_conv2d_params *p, const float *input,
                             const float *packed, const float *residual, float *output,
                             size_t row_begin, size_t row_end);

/* ---- f32-conv2d-avx2.c: per group, panels of 16 output channels (the last
 * of 8 when that is enough), each [bias[w], w[kernel_h][kernel_w][in_c/groups][w]] ---- */
size_t gl_f32_conv2d_packed_size_x16(const gl_conv2d_params *p);
void gl_f32_conv2d_pack_x16(const gl_conv2d_params *p, const float *weights_oihw,
                            const float *bias, float *packed);
void gl_f32_conv2d_6x16__avx2(const gl_conv2d_params *p, const float *input,
                              const float *packed, const float *residual, float *output,
                              size_t row_begin, size_t row_end);

/* ---- f32-pool-avx2.c ---- */
void gl_f32_maxpool2d__avx2(const gl_pool2d_params *p, const float *input, float *output);
void gl_f32_avgpool2d__avx2(const gl_pool2d_params *p, const float *input, float *output);
void gl_f32_global_avgpool__avx2(size_t hw, size_t channels, const float *input, float *output);

/* ---- f32-gemm-avx2.c ---- */
void gl_f32_gemm__avx2(size_t m, size_t n, size_t k, float alpha,
                       const float *a, size_t a_rs, size_t a_cs,
                       const float *b, size_t b_rs, size_t b_cs,
                       float beta, float *c, size_t ldc);

/* ---- peak-avx2.c: one core's FMA peak, measured ---- */
double gl_avx2_fma_peak_gflops(double seconds);

#endif /* __x86_64__ */

#endif
