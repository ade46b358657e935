/* f32-dwconv-scalar.c — depthwise convolution (groups == in_c == out_c): any k×k, with 3x3 and 5x5 specialisations. */
#include "../activation.h"

#include <assert.h>

/*
 * Packed layout (shared by the three kernels here): bias[C] then the taps in
 * row-major window order, each tap's C weights contiguous,
 *
 *   packed[c]                          bias[c]
 *   packed[C + (ky*kernel_w + kx)*C + c]  W[c][0][ky][kx]
 *
 * so that one tap of one pixel is a contiguous multiply-add over channels.
 * Any stride, dilation and padding is handled: per output row and column the
 * range of taps that land inside the image is computed once, and pixels whose
 * whole window is inside take a path with compile-time trip counts.
 */
#define CT 8 /* channels per accumulator tile */

int gl_f32_dwconv_supports(const gl_conv2d_params *p) {
    return gl_conv2d_params_valid(p) && p->groups == p->in_c && p->out_c == p->in_c;
}

int gl_f32_dwconv_3x3_supports(const gl_conv2d_params *p) {
    return gl_f32_dwconv_supports(p) && p->kernel_h == 3 && p->kernel_w == 3;
}

int gl_f32_dwconv_5x5_supports(const gl_conv2d_params *p) {
    return gl_f32_dwconv_supports(p) && p->kernel_h == 5 && p->kernel_w == 5;
}

size_t gl_f32_dwconv_packed_size(const gl_conv2d_params *p) {
    return p->in_c * (1 + p->kernel_h * p->kernel_w);
}

void gl_f32_dwconv_pack(const gl_conv2d_params *p, const float *weights_oihw,
                        const float *bias, float *packed) {
    assert(gl_f32_dwconv_supports(p));
    assert(weights_oihw != NULL && packed != NULL);
    const size_t C = p->in_c, taps = p->kernel_h * p->kernel_w;
    for (size_t c = 0; c < C; c++) packed[c] = bias != NULL ? bias[c] : 0.0f;
    for (size_t t = 0; t < taps; t++)
        for (size_t c = 0; c < C; c++) packed[C + t * C + c] = weights_oihw[c * taps + t];
}

/* Epilogue of a tile while acc is live: + residual, activation and clamp, n channels. */
GL_INLINE void dw_store(const int ACT, float *o, const float *r, const float *acc, size_t n,
                        const gl_epilogue *ep) {
    if (r != NULL) {
        for (size_t j = 0; j < n; j++) o[j] = gl_act_f32(acc[j] + r[j], ACT, ep);
    } else {
        for (size_t j = 0; j < n; j++) o[j] = gl_act_f32(acc[j], ACT, ep);
    }
}

/*
 * n (<= CT) channels from c0 of one output pixel over taps [ky0,ky1)×[kx0,kx1).
 * Inlined with n == CT and, for interior pixels of the specialised kernels,
 * with constant tap ranges, so the compiler unrolls and keeps acc in registers.
 */
GL_INLINE void dw_tile(const int ACT, size_t n, size_t c0, size_t C, size_t in_w, size_t kw,
                       size_t dh, size_t dw, const float *input, ptrdiff_t iy0, ptrdiff_t ix0,
                       size_t ky0, size_t ky1, size_t kx0, size_t kx1,
                       const float *packed, const float *r, float *o, const gl_epilogue *ep) {
    float acc[CT];
    for (size_t j = 0; j < n; j++) acc[j] = packed[c0 + j];
    const float *w = packed + C + c0;
    for (size_t ky = ky0; ky < ky1; ky++) {
        const size_t iy = (size_t)(iy0 + (ptrdiff_t)(ky * dh));
        const float *irow = input + iy * in_w * C + c0;
        const float *wrow = w + ky * kw * C;
        for (size_t kx = kx0; kx < kx1; kx++) {
            const size_t ix = (size_t)(ix0 + (ptrdiff_t)(kx * dw));
            const float *ip = irow + ix * C;
            const float *wp = wrow + kx * C;
            for (size_t j = 0; j < n; j++) acc[j] += ip[j] * wp[j];
        }
    }
    dw_store(ACT, o + c0, r != NULL ? r + c0 : NULL, acc, n, ep);
}

GL_INLINE void dw_pixel(const int ACT, size_t C, size_t in_w, size_t kw, size_t dh, size_t dw,
                        const float *input, ptrdiff_t iy0, ptrdiff_t ix0,
                        size_t ky0, size_t ky1, size_t kx0, size_t kx1,
                        const float *packed, const float *r, float *o, const gl_epilogue *ep) {
    size_t c0 = 0;
    for (; c0 + CT <= C; c0 += CT)
        dw_tile(ACT, CT, c0, C, in_w, kw, dh, dw, input, iy0, ix0, ky0, ky1, kx0, kx1, packed, r, o, ep);
    if (c0 < C)
        dw_tile(ACT, C - c0, c0, C, in_w, kw, dh, dw, input, iy0, ix0, ky0, ky1, kx0, kx1, packed, r, o, ep);
}

/* The whole kernel, for a window of kh×kw taps (constants in the specialisations) and the
 * activation ACT (dw_run: a copy per activation, chosen once per call). */
GL_INLINE void dw_run_act(const int ACT, const gl_conv2d_params *p, const float *input, const float *packed,
                          const float *residual, float *output, size_t row_begin, size_t row_end,
                          size_t kh, size_t kw, const gl_epilogue *ep) {
    const size_t C = p->in_c, in_h = p->in_h, in_w = p->in_w, out_w = p->out_w;
    const size_t sh = p->stride_h, sw = p->stride_w, dh = p->dilation_h, dw = p->dilation_w;
    /* Distance from a window's first tap to its last. */
    const ptrdiff_t span_h = (ptrdiff_t)((kh - 1) * dh), span_w = (ptrdiff_t)((kw - 1) * dw);

    for (size_t y = row_begin; y < row_end; y++) {
        const ptrdiff_t iy0 = (ptrdiff_t)(y * sh) - (ptrdiff_t)p->pad_top;
        const int inside_y = iy0 >= 0 && iy0 + span_h < (ptrdiff_t)in_h;
        size_t ky0 = 0, ky1 = kh;
        if (!inside_y) gl_tap_range(iy0, dh, kh, in_h, &ky0, &ky1);
        for (size_t x = 0; x < out_w; x++) {
            const ptrdiff_t ix0 = (ptrdiff_t)(x * sw) - (ptrdiff_t)p->pad_left;
            const size_t pixel = y * out_w + x;
            float *o = output + pixel * C;
            const float *r = residual != NULL ? residual + pixel * C : NULL;
            if (inside_y && ix0 >= 0 && ix0 + span_w < (ptrdiff_t)in_w) {
                dw_pixel(ACT, C, in_w, kw, dh, dw, input, iy0, ix0, 0, kh, 0, kw, packed, r, o, ep);
            } else {
                size_t kx0, kx1;
                gl_tap_range(ix0, dw, kw, in_w, &kx0, &kx1);
                dw_pixel(ACT, C, in_w, kw, dh, dw, input, iy0, ix0, ky0, ky1, kx0, kx1, packed, r, o, ep);
            }
        }
    }
}

GL_INLINE void dw_run(const gl_conv2d_params *p, const float *input, const float *packed,
                      const float *residual, float *output, size_t row_begin, size_t row_end,
                      size_t kh, size_t kw) {
    const gl_epilogue ep = gl_epilogue_of(p);
    GL_ACTIVATION_DISPATCH(ep.kind, dw_run_act, p, input, packed, residual, output, row_begin, row_end, kh, kw, &ep);
}

void gl_f32_dwconv_3x3_scalar(const gl_conv2d_params *p, const float *input,
                              const float *packed, const float *residual, float *output,
                              size_t row_begin, size_t row_end) {
    assert(gl_f32_dwconv_3x3_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    dw_run(p, input, packed, residual, output, row_begin, row_end, 3, 3);
}

void gl_f32_dwconv_5x5_scalar(const gl_conv2d_params *p, const float *input,
                              const float *packed, const float *residual, float *output,
                              size_t row_begin, size_t row_end) {
    assert(gl_f32_dwconv_5x5_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    dw_run(p, input, packed, residual, output, row_begin, row_end, 5, 5);
}

void gl_f32_dwconv_kxk_scalar(const gl_conv2d_params *p, const float *input,
                              const float *packed, const float *residual, float *output,
                              size_t row_begin, size_t row_end) {
    assert(gl_f32_dwconv_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    dw_run(p, input, packed, residual, output, row_begin, row_end, p->kernel_h, p->kernel_w);
}
