/* f32-activation-neon.c — the activation, 4 floats per vector: the out-of-line conv epilogue (gl_neon_store_activation) and the elementwise kernels (y = clamp(act(x)), squeeze-excite's channel scale). */
#include "neon.h"

#if defined(__aarch64__)

#include <assert.h>

/*
 * 8 floats a step (two independent chains), then 4, then 1..3 through the partial loads and
 * stores of neon.h, which never touch memory past the arrays. Loads before stores: x == y is safe.
 */

GL_INLINE void act_loop(const int ACT, size_t n, const float *x, float *y, const gl_neon_epilogue *ep) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4);
        vst1q_f32(y + i, gl_neon_act(a, ACT, ep));
        vst1q_f32(y + i + 4, gl_neon_act(b, ACT, ep));
    }
    if (i + 4 <= n) {
        vst1q_f32(y + i, gl_neon_act(vld1q_f32(x + i), ACT, ep));
        i += 4;
    }
    if (i < n) gl_neon_store_tail(y + i, gl_neon_act(gl_neon_load_tail(x + i, n - i), ACT, ep), n - i);
}

void gl_f32_activation_neon(int kind, float alpha, float beta, float lo, float hi,
                            size_t n, const float *x, float *y) {
    assert(kind >= 0 && kind < GL_ACTIVATION_COUNT);
    assert(lo <= hi);
    assert(n == 0 || (x != NULL && y != NULL));
    const gl_epilogue e = {kind, alpha, beta, lo, hi};
    const gl_neon_epilogue ep = gl_neon_epilogue_of(&e);
    GL_ACTIVATION_DISPATCH(kind, act_loop, n, x, y, &ep);
}

void gl_f32_channel_scale_neon(size_t pixels, size_t channels, const float *x, const float *scale, float *y) {
    assert(pixels == 0 || channels == 0 || (x != NULL && scale != NULL && y != NULL));
    for (size_t p = 0; p < pixels; p++, x += channels, y += channels) {
        size_t c = 0;
        for (; c + 8 <= channels; c += 8) {
            const float32x4_t a = vmulq_f32(vld1q_f32(x + c), vld1q_f32(scale + c));
            const float32x4_t b = vmulq_f32(vld1q_f32(x + c + 4), vld1q_f32(scale + c + 4));
            vst1q_f32(y + c, a);
            vst1q_f32(y + c + 4, b);
        }
        if (c + 4 <= channels) {
            vst1q_f32(y + c, vmulq_f32(vld1q_f32(x + c), vld1q_f32(scale + c)));
            c += 4;
        }
        if (c < channels) {
            const size_t n = channels - c;
            gl_neon_store_tail(y + c, vmulq_f32(gl_neon_load_tail(x + c, n), gl_neon_load_tail(scale + c, n)), n);
        }
    }
}

/* gl_neon_store_activation's loop over the parked block. */
GL_INLINE void parked_rows(const int ACT, size_t mr, const float32x4_t (*acc)[2], float *c, size_t ldc,
                           const float *r, size_t n, const gl_neon_epilogue *ep) {
    for (size_t i = 0; i < mr; i++, c += ldc, r = r != NULL ? r + ldc : NULL)
        gl_neon_store8(ACT, c, r, acc[i][0], acc[i][1], n, ep);
}

void gl_neon_store_activation(size_t mr, const float32x4_t (*acc)[2], float *c, size_t ldc, const float *r,
                              size_t n, const gl_neon_epilogue *ep) {
    assert(n >= 1 && n <= 8);
    GL_ACTIVATION_DISPATCH(ep->kind, parked_rows, mr, acc, c, ldc, r, n, ep);
}

void gl_f32_vexp_neon(size_t n, const float *x, float *y) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, gl_neon_exp(vld1q_f32(x + i)));
    if (i < n) gl_neon_store_tail(y + i, gl_neon_exp(gl_neon_load_tail(x + i, n - i)), n - i);
}

#endif /* __aarch64__ */
