/* f32-pool-avx2.c — max, average and global-average pooling over NHWC images, 8 channels per ymm. */
#include "avx2.h"

#if defined(__x86_64__)

#include <assert.h>

/*
 * Same semantics as f32-pool-scalar.c: window cells in the padding are
 * skipped (average pooling divides by the full window only with
 * count_include_pad), a window with no cell in the image gives -INFINITY
 * (max) or 0 (average), and max pooling propagates NaN. Per output pixel the
 * tap ranges are computed once; channels go 8 at a time, the last block
 * through masks.
 */

static int pool_params_valid(const gl_pool2d_params *p) {
    return p != NULL && p->in_h != 0 && p->in_w != 0 && p->channels != 0 &&
           p->kernel_h != 0 && p->kernel_w != 0 && p->stride_h != 0 && p->stride_w != 0 &&
           p->dilation_h != 0 && p->dilation_w != 0;
}

GL_AVX2_INLINE __m256 load_c(const int TAIL, const float *p, __m256i mask) {
    return TAIL ? _mm256_maskload_ps(p, mask) : _mm256_loadu_ps(p);
}

GL_AVX2_INLINE void store_c(const int TAIL, float *p, __m256i mask, __m256 v) {
    if (TAIL) _mm256_maskstore_ps(p, mask, v);
    else _mm256_storeu_ps(p, v);
}

/*
 * v replaces m when v > m or v is NaN; a NaN in m therefore stays (v > NaN is
 * false), as in the scalar `(v > m || v != v) ? v : m`. MAXPS alone would drop
 * a NaN v.
 */
GL_AVX2_INLINE __m256 max_nan(__m256 m, __m256 v) {
    const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    return _mm256_blendv_ps(m, v, take);
}

/* One output pixel, 8 channels at c0: window taps [ky0,ky1) × [kx0,kx1). */
GL_AVX2_INLINE void pool_block(const int MAX, const int TAIL, const gl_pool2d_params *p,
                               const float *input, size_t c0, ptrdiff_t iy0, ptrdiff_t ix0,
                               size_t ky0, size_t ky1, size_t kx0, size_t kx1, __m256 scale,
                               __m256i mask, float *o) {
    const size_t C = p->channels;
    __m256 acc = MAX ? _mm256_set1_ps(-__builtin_inff()) : _mm256_setzero_ps();
    for (size_t ky = ky0; ky < ky1; ky++) {
        const size_t iy = (size_t)(iy0 + (ptrdiff_t)(ky * p->dilation_h));
        for (size_t kx = kx0; kx < kx1; kx++) {
            const size_t ix = (size_t)(ix0 + (ptrdiff_t)(kx * p->dilation_w));
            const __m256 v = load_c(TAIL, input + (iy * p->in_w + ix) * C + c0, mask);
            acc = MAX ? max_nan(acc, v) : _mm256_add_ps(acc, v);
        }
    }
    if (!MAX) acc = _mm256_div_ps(acc, scale);
    store_c(TAIL, o + c0, mask, acc);
}

GL_AVX2_INLINE void pool(const int MAX, const gl_pool2d_params *p, const float *input, float *output) {
    const size_t C = p->channels, cfull = C / 8 * 8;
    const __m256i mask = gl_avx2_mask(C - cfull);
    for (size_t y = 0; y < p->out_h; y++) {
        const ptrdiff_t iy0 = (ptrdiff_t)(y * p->stride_h) - (ptrdiff_t)p->pad_top;
        size_t ky0, ky1;
        gl_tap_range(iy0, p->dilation_h, p->kernel_h, p->in_h, &ky0, &ky1);
        for (size_t x = 0; x < p->out_w; x++) {
            const ptrdiff_t ix0 = (ptrdiff_t)(x * p->stride_w) - (ptrdiff_t)p->pad_left;
            size_t kx0, kx1;
            gl_tap_range(ix0, p->dilation_w, p->kernel_w, p->in_w, &kx0, &kx1);
            float *o = output + (y * p->out_w + x) * C;
            size_t count = p->count_include_pad ? p->kernel_h * p->kernel_w : (ky1 - ky0) * (kx1 - kx0);
            /* nothing to divide: the sum of no cells stays 0 */
            const __m256 scale = _mm256_set1_ps(count != 0 ? (float)count : 1.0f);
            size_t c0 = 0;
            for (; c0 < cfull; c0 += 8)
                pool_block(MAX, 0, p, input, c0, iy0, ix0, ky0, ky1, kx0, kx1, scale, mask, o);
            if (c0 < C)
                pool_block(MAX, 1, p, input, c0, iy0, ix0, ky0, ky1, kx0, kx1, scale, mask, o);
        }
    }
}

GL_AVX2 void gl_f32_maxpool2d__avx2(const gl_pool2d_params *p, const float *input, float *output) {
    assert(pool_params_valid(p));
    assert(input != NULL && output != NULL);
    pool(1, p, input, output);
}

GL_AVX2 void gl_f32_avgpool2d__avx2(const gl_pool2d_params *p, const float *input, float *output) {
    assert(pool_params_valid(p));
    assert(input != NULL && output != NULL);
    pool(0, p, input, output);
}

/* NB blocks of 8 channels at once over all hw pixels: NB independent add chains. */
GL_AVX2_INLINE void gap_blocks(const size_t NB, const int TAIL, size_t hw, size_t C,
                               const float *input, float *output, __m256 scale, __m256i mask) {
    __m256 acc[4];
    GL_UNROLL for (size_t b = 0; b < NB; b++) acc[b] = _mm256_setzero_ps();
    for (size_t i = 0; i < hw; i++, input += C)
        GL_UNROLL for (size_t b = 0; b < NB; b++) acc[b] = _mm256_add_ps(acc[b], load_c(TAIL, input + 8 * b, mask));
    GL_UNROLL for (size_t b = 0; b < NB; b++) store_c(TAIL, output + 8 * b, mask, _mm256_div_ps(acc[b], scale));
}

GL_AVX2 void gl_f32_global_avgpool__avx2(size_t hw, size_t channels, const float *input, float *output) {
    assert(hw != 0 && channels != 0);
    assert(input != NULL && output != NULL);
    const size_t C = channels, cfull = C / 8 * 8;
    const __m256i mask = gl_avx2_mask(C - cfull);
    const __m256 scale = _mm256_set1_ps((float)hw);
    size_t c0 = 0;
    for (; c0 + 32 <= cfull; c0 += 32) gap_blocks(4, 0, hw, C, input + c0, output + c0, scale, mask);
    for (; c0 < cfull; c0 += 8) gap_blocks(1, 0, hw, C, input + c0, output + c0, scale, mask);
    if (c0 < C) gap_blocks(1, 1, hw, C, input + c0, output + c0, scale, mask);
}

#endif
