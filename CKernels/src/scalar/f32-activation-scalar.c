/* f32-activation-scalar.c — elementwise kernels in plain C: a conv epilogue's activation on its own (y = clamp(act(x))) and squeeze-excite's channel scale; the reference the SIMD ones are tested against. */
#include "../activation.h"

#include <assert.h>

/* One loop per activation (GL_ACTIVATION_DISPATCH), so no element tests the kind. */
GL_INLINE void act_loop(const int ACT, size_t n, const float *x, float *y, const gl_epilogue *e) {
    for (size_t i = 0; i < n; i++) y[i] = gl_act_f32(x[i], ACT, e);
}

void gl_f32_activation_scalar(int kind, float alpha, float beta, float lo, float hi,
                              size_t n, const float *x, float *y) {
    assert(kind >= 0 && kind < GL_ACTIVATION_COUNT);
    assert(lo <= hi);
    assert(n == 0 || (x != NULL && y != NULL));
    const gl_epilogue e = {kind, alpha, beta, lo, hi};
    GL_ACTIVATION_DISPATCH(kind, act_loop, n, x, y, &e);
}

void gl_f32_channel_scale_scalar(size_t pixels, size_t channels, const float *x, const float *scale, float *y) {
    assert(pixels == 0 || channels == 0 || (x != NULL && scale != NULL && y != NULL));
    for (size_t p = 0; p < pixels; p++, x += channels, y += channels)
        for (size_t c = 0; c < channels; c++) y[c] = x[c] * scale[c];
}

void gl_f32_vexp_scalar(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = gl_exp_f32(x[i]);
}
