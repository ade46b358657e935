/* f32-activation-avx512.c — the activation, 16 floats per zmm: the out-of-line conv epilogue (gl_avx512_store_activation) and the elementwise kernels (y = clamp(act(x)), squeeze-excite's channel scale). */
#include "avx512.h"

#if defined(__x86_64__)

#include <assert.h>

/*
 * f32-activation-avx2.c's loops with 16 lanes: 32 floats a step, then 16, then a tail through
 * a __mmask16 (masked lanes are neither read nor written). Loads before stores: x == y is safe.
 */

GL_AVX512_INLINE __mmask16 first_lanes(size_t n) { return (__mmask16)((1u << n) - 1u); }

GL_AVX512_INLINE void act_loop(const int ACT, size_t n, const float *x, float *y, const gl_avx512_epilogue *ep) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
        _mm512_storeu_ps(y + i, gl_avx512_act(a, ACT, ep));
        _mm512_storeu_ps(y + i + 16, gl_avx512_act(b, ACT, ep));
    }
    if (i + 16 <= n) {
        _mm512_storeu_ps(y + i, gl_avx512_act(_mm512_loadu_ps(x + i), ACT, ep));
        i += 16;
    }
    if (i < n) {
        const __mmask16 m = first_lanes(n - i);
        _mm512_mask_storeu_ps(y + i, m, gl_avx512_act(_mm512_maskz_loadu_ps(m, x + i), ACT, ep));
    }
}

GL_AVX512 void gl_f32_activation__avx512(int kind, float alpha, float beta, float lo, float hi,
                                         size_t n, const float *x, float *y) {
    assert(kind >= 0 && kind < GL_ACTIVATION_COUNT);
    assert(lo <= hi);
    assert(n == 0 || (x != NULL && y != NULL));
    const gl_epilogue e = {kind, alpha, beta, lo, hi};
    const gl_avx512_epilogue ep = gl_avx512_epilogue_of(&e);
    GL_ACTIVATION_DISPATCH(kind, act_loop, n, x, y, &ep);
}

GL_AVX512 void gl_f32_channel_scale__avx512(size_t pixels, size_t channels, const float *x, const float *scale,
                                            float *y) {
    assert(pixels == 0 || channels == 0 || (x != NULL && scale != NULL && y != NULL));
    const size_t full = channels / 16 * 16;
    const __mmask16 m = first_lanes(channels - full);
    for (size_t p = 0; p < pixels; p++, x += channels, y += channels) {
        size_t c = 0;
        for (; c + 32 <= full; c += 32) {
            const __m512 a = _mm512_mul_ps(_mm512_loadu_ps(x + c), _mm512_loadu_ps(scale + c));
            const __m512 b = _mm512_mul_ps(_mm512_loadu_ps(x + c + 16), _mm512_loadu_ps(scale + c + 16));
            _mm512_storeu_ps(y + c, a);
            _mm512_storeu_ps(y + c + 16, b);
        }
        if (c < full) {
            _mm512_storeu_ps(y + c, _mm512_mul_ps(_mm512_loadu_ps(x + c), _mm512_loadu_ps(scale + c)));
            c += 16;
        }
        if (c < channels)
            _mm512_mask_storeu_ps(y + c, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + c),
                                                          _mm512_maskz_loadu_ps(m, scale + c)));
    }
}

/* gl_avx512_store_activation's loop over the parked block: NV vectors a pixel, the last
 * masked to the real channels. */
GL_AVX512_INLINE void parked_rows(const int ACT, const size_t NV, size_t mr, const __m512 *acc, float *c,
                                  size_t ldc, const float *r, const gl_avx512_epilogue *ep, __mmask16 last) {
    for (size_t i = 0; i < mr; i++, c += ldc, r = r != NULL ? r + ldc : NULL)
        GL_UNROLL for (size_t v = 0; v < NV; v++) {
            const __mmask16 m = v + 1 == NV ? last : (__mmask16)0xFFFF;
            __m512 x = acc[i * NV + v];
            if (r != NULL) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, r + 16 * v));
            _mm512_mask_storeu_ps(c + 16 * v, m, gl_avx512_act(x, ACT, ep));
        }
}

GL_AVX512_INLINE void parked_block(const int ACT, size_t mr, size_t nv, const __m512 *acc, float *c, size_t ldc,
                                   const float *r, const gl_avx512_epilogue *ep, __mmask16 last) {
    if (nv == 1) parked_rows(ACT, 1, mr, acc, c, ldc, r, ep, last);
    else parked_rows(ACT, 2, mr, acc, c, ldc, r, ep, last);
}

GL_AVX512 void gl_avx512_store_activation(size_t mr, size_t nv, const __m512 *acc, float *c, size_t ldc,
                                          const float *r, const gl_avx512_epilogue *ep, size_t n) {
    assert((nv == 1 || nv == 2) && n > (nv - 1) * 16 && n <= nv * 16);
    const __mmask16 last = first_lanes(n - (nv - 1) * 16);
    GL_ACTIVATION_DISPATCH(ep->kind, parked_block, mr, nv, acc, c, ldc, r, ep, last);
}

GL_AVX512 void gl_f32_vexp__avx512(size_t n, const float *x, float *y) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, gl_avx512_exp(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = first_lanes(n - i);
        _mm512_mask_storeu_ps(y + i, m, gl_avx512_exp(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

#endif
