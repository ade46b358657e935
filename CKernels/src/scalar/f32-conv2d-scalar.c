/* f32-conv2d-scalar.c — generic direct convolution (any groups, kernel, stride, dilation, padding), 1 pixel × 8 output channels per block. */
#include "../activation.h"

#include <assert.h>

/*
 * Packed layout ("x8 panels per group"): for each group g, its out_c/groups
 * output channels in panels of 8 (the last zero-padded); each panel is
 *
 *   bias[8], then w[kernel_h][kernel_w][cig][8]      (cig = in_c / groups)
 *
 * where w[ky][kx][ci][j] = W[oc = g*ocg + 8t + j][ci][ky][kx]. One input value
 * times 8 consecutive weights is the inner step, so the accumulators stay in
 * registers across the whole window. Panels are per group because ocg need
 * not be a multiple of 8.
 */
#define NR 8

/* Epilogue of one pixel's panel while acc is live: + residual, activation and clamp, the
 * first n lanes (o and r at the panel's first channel). */
GL_INLINE void store_panel(const int ACT, float *o, const float *r, const float *acc, size_t n,
                           const gl_epilogue *ep) {
    if (r != NULL) {
        for (size_t j = 0; j < n; j++) o[j] = gl_act_f32(acc[j] + r[j], ACT, ep);
    } else {
        for (size_t j = 0; j < n; j++) o[j] = gl_act_f32(acc[j], ACT, ep);
    }
}

int gl_f32_conv2d_supports(const gl_conv2d_params *p) {
    return gl_conv2d_params_valid(p);
}

static size_t panel_size(const gl_conv2d_params *p) {
    return NR * (1 + p->kernel_h * p->kernel_w * (p->in_c / p->groups));
}

size_t gl_f32_conv2d_packed_size_x8(const gl_conv2d_params *p) {
    const size_t ocg = p->out_c / p->groups;
    return p->groups * ((ocg + NR - 1) / NR) * panel_size(p);
}

void gl_f32_conv2d_pack_x8(const gl_conv2d_params *p, const float *weights_oihw,
                           const float *bias, float *packed) {
    assert(gl_f32_conv2d_supports(p));
    assert(weights_oihw != NULL && packed != NULL);
    const size_t cig = p->in_c / p->groups, ocg = p->out_c / p->groups;
    const size_t kh = p->kernel_h, kw = p->kernel_w;
    for (size_t g = 0; g < p->groups; g++) {
        for (size_t t0 = 0; t0 < ocg; t0 += NR) {
            for (size_t j = 0; j < NR; j++) {
                const size_t oc = g * ocg + t0 + j;
                *packed++ = (t0 + j < ocg && bias != NULL) ? bias[oc] : 0.0f;
            }
            for (size_t ky = 0; ky < kh; ky++)
                for (size_t kx = 0; kx < kw; kx++)
                    for (size_t ci = 0; ci < cig; ci++)
                        for (size_t j = 0; j < NR; j++) {
                            const size_t oc = g * ocg + t0 + j;
                            *packed++ = t0 + j < ocg
                                ? weights_oihw[((oc * cig + ci) * kh + ky) * kw + kx]
                                : 0.0f;
                        }
        }
    }
}

/* The kernel, compiled once per activation (ACT), chosen once per call. */
GL_INLINE void conv2d_rows(const int ACT, const gl_conv2d_params *p, const float *input, const float *packed,
                           const float *residual, float *output, size_t row_begin, size_t row_end,
                           const gl_epilogue *ep) {
    const size_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const size_t out_w = p->out_w, out_c = p->out_c;
    const size_t kh = p->kernel_h, kw = p->kernel_w;
    const size_t sh = p->stride_h, sw = p->stride_w, dh = p->dilation_h, dw = p->dilation_w;
    const size_t groups = p->groups, cig = in_c / groups, ocg = out_c / groups;
    const size_t psize = panel_size(p);

    for (size_t y = row_begin; y < row_end; y++) {
        const ptrdiff_t iy0 = (ptrdiff_t)(y * sh) - (ptrdiff_t)p->pad_top;
        size_t ky0, ky1;
        gl_tap_range(iy0, dh, kh, in_h, &ky0, &ky1);
        for (size_t x = 0; x < out_w; x++) {
            const ptrdiff_t ix0 = (ptrdiff_t)(x * sw) - (ptrdiff_t)p->pad_left;
            size_t kx0, kx1;
            gl_tap_range(ix0, dw, kw, in_w, &kx0, &kx1);
            const size_t pixel = y * out_w + x;
            float *o = output + pixel * out_c;
            const float *r = residual != NULL ? residual + pixel * out_c : NULL;

            const float *panel = packed;
            for (size_t g = 0; g < groups; g++) {
                for (size_t t0 = 0; t0 < ocg; t0 += NR, panel += psize) {
                    float acc[NR];
                    for (size_t j = 0; j < NR; j++) acc[j] = panel[j];
                    const float *wg = panel + NR;
                    for (size_t ky = ky0; ky < ky1; ky++) {
                        const size_t iy = (size_t)(iy0 + (ptrdiff_t)(ky * dh));
                        for (size_t kx = kx0; kx < kx1; kx++) {
                            const size_t ix = (size_t)(ix0 + (ptrdiff_t)(kx * dw));
                            const float *ip = input + (iy * in_w + ix) * in_c + g * cig;
                            const float *wp = wg + (ky * kw + kx) * cig * NR;
                            for (size_t ci = 0; ci < cig; ci++) {
                                const float a = ip[ci];
                                for (size_t j = 0; j < NR; j++) acc[j] += a * wp[j];
                                wp += NR;
                            }
                        }
                    }
                    const size_t n = ocg - t0 < NR ? ocg - t0 : NR;
                    const size_t oc0 = g * ocg + t0;
                    store_panel(ACT, o + oc0, r != NULL ? r + oc0 : NULL, acc, n, ep);
                }
            }
        }
    }
}

void gl_f32_conv2d_1x8_scalar(const gl_conv2d_params *p, const float *input,
                              const float *packed, const float *residual, float *output,
                              size_t row_begin, size_t row_end) {
    assert(gl_f32_conv2d_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    const gl_epilogue ep = gl_epilogue_of(p);
    GL_ACTIVATION_DISPATCH(ep.kind, conv2d_rows, p, input, packed, residual, output, row_begin, row_end, &ep);
}
