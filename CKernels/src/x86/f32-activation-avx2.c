/* f32-activation-avx2.c — the activation, 8 floats per ymm: the out-of-line conv epilogue (gl_avx2_store_activation) and the elementwise kernels (y = clamp(act(x)), squeeze-excite's channel scale). */
#include "avx2.h"

#if defined(__x86_64__)

#include <assert.h>

/*
 * Both loops take 16 floats a step (two independent chains, as the exp's FMAs are a chain of
 * ten), then 8, then a masked tail: MASKMOVPS neither reads nor writes the lanes past n, so the
 * tail needs no copy and never touches memory past the arrays. Loads come before stores in
 * every step, which is what makes x == y (in place) safe.
 */

GL_AVX2_INLINE void act_loop(const int ACT, size_t n, const float *x, float *y, const gl_avx2_epilogue *ep) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        _mm256_storeu_ps(y + i, gl_avx2_act(a, ACT, ep));
        _mm256_storeu_ps(y + i + 8, gl_avx2_act(b, ACT, ep));
    }
    if (i + 8 <= n) {
        _mm256_storeu_ps(y + i, gl_avx2_act(_mm256_loadu_ps(x + i), ACT, ep));
        i += 8;
    }
    if (i < n) {
        const __m256i mask = gl_avx2_mask(n - i);
        _mm256_maskstore_ps(y + i, mask, gl_avx2_act(_mm256_maskload_ps(x + i, mask), ACT, ep));
    }
}

GL_AVX2 void gl_f32_activation__avx2(int kind, float alpha, float beta, float lo, float hi,
                                     size_t n, const float *x, float *y) {
    assert(kind >= 0 && kind < GL_ACTIVATION_COUNT);
    assert(lo <= hi);
    assert(n == 0 || (x != NULL && y != NULL));
    const gl_epilogue e = {kind, alpha, beta, lo, hi};
    const gl_avx2_epilogue ep = gl_avx2_epilogue_of(&e);
    GL_ACTIVATION_DISPATCH(kind, act_loop, n, x, y, &ep);
}

/* Per pixel, its channels against the scale vector (in L1 after the first pixel). */
GL_AVX2 void gl_f32_channel_scale__avx2(size_t pixels, size_t channels, const float *x, const float *scale,
                                        float *y) {
    assert(pixels == 0 || channels == 0 || (x != NULL && scale != NULL && y != NULL));
    const size_t full = channels / 8 * 8;
    const __m256i mask = gl_avx2_mask(channels - full);
    for (size_t p = 0; p < pixels; p++, x += channels, y += channels) {
        size_t c = 0;
        for (; c + 16 <= full; c += 16) {
            const __m256 a = _mm256_mul_ps(_mm256_loadu_ps(x + c), _mm256_loadu_ps(scale + c));
            const __m256 b = _mm256_mul_ps(_mm256_loadu_ps(x + c + 8), _mm256_loadu_ps(scale + c + 8));
            _mm256_storeu_ps(y + c, a);
            _mm256_storeu_ps(y + c + 8, b);
        }
        if (c < full) {
            _mm256_storeu_ps(y + c, _mm256_mul_ps(_mm256_loadu_ps(x + c), _mm256_loadu_ps(scale + c)));
            c += 8;
        }
        if (c < channels)
            _mm256_maskstore_ps(y + c, mask, _mm256_mul_ps(_mm256_maskload_ps(x + c, mask),
                                                           _mm256_maskload_ps(scale + c, mask)));
    }
}

/* gl_avx2_store_activation's loop over the parked block, NV vectors a pixel. */
GL_AVX2_INLINE void parked_rows(const int ACT, const size_t NV, size_t mr, const __m256 *acc, float *c,
                                size_t ldc, const float *r, const gl_avx2_epilogue *ep, size_t n) {
    for (size_t i = 0; i < mr; i++, c += ldc, r = r != NULL ? r + ldc : NULL)
        gl_avx2_store_pixel(ACT, NV, c, r, acc + i * NV, ep, n);
}

GL_AVX2_INLINE void parked_block(const int ACT, size_t mr, size_t nv, const __m256 *acc, float *c, size_t ldc,
                                 const float *r, const gl_avx2_epilogue *ep, size_t n) {
    switch (nv) {
    case 1: parked_rows(ACT, 1, mr, acc, c, ldc, r, ep, n); break;
    case 2: parked_rows(ACT, 2, mr, acc, c, ldc, r, ep, n); break;
    case 3: parked_rows(ACT, 3, mr, acc, c, ldc, r, ep, n); break;
    case 4: parked_rows(ACT, 4, mr, acc, c, ldc, r, ep, n); break;
    case 5: parked_rows(ACT, 5, mr, acc, c, ldc, r, ep, n); break;
    case 6: parked_rows(ACT, 6, mr, acc, c, ldc, r, ep, n); break;
    case 7: parked_rows(ACT, 7, mr, acc, c, ldc, r, ep, n); break;
    default: parked_rows(ACT, 8, mr, acc, c, ldc, r, ep, n); break;
    }
}

GL_AVX2 void gl_avx2_store_activation(size_t mr, size_t nv, const __m256 *acc, float *c, size_t ldc,
                                      const float *r, const gl_avx2_epilogue *ep, size_t n) {
    assert(nv >= 1 && nv <= 8 && n > (nv - 1) * 8 && n <= nv * 8);
    GL_ACTIVATION_DISPATCH(ep->kind, parked_block, mr, nv, acc, c, ldc, r, ep, n);
}

GL_AVX2 void gl_f32_vexp__avx2(size_t n, const float *x, float *y) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, gl_avx2_exp(_mm256_loadu_ps(x + i)));
    if (i < n) {
        const __m256i mask = gl_avx2_mask(n - i);
        _mm256_maskstore_ps(y + i, mask, gl_avx2_exp(_mm256_maskload_ps(x + i, mask)));
    }
}

#endif
