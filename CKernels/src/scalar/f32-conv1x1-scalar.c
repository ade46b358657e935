/* f32-conv1x1-scalar.c — pointwise (1×1, stride 1, no pad, groups 1) convolution as a 4-pixel × 8-channel blocked GEMM. */
#include "../activation.h"

#include <assert.h>

/*
 * Packed layout ("x8 panels"): output channels in panels of 8, the last one
 * zero-padded; each panel is bias[8] followed by w[in_c][8], so the inner loop
 * reads 8 consecutive weights per input channel:
 *
 *   packed[t * (8 + 8*in_c) + 0 .. 8)               bias[8t .. 8t+8)
 *   packed[t * (8 + 8*in_c) + 8 + 8*ci + j]         W[oc = 8t + j][ci]
 *
 * The zero padding lets the blocked loop always compute 8 lanes; only the
 * stores are cut to the real channel count.
 */
#define NR 8
#define MR 4

int gl_f32_conv1x1_supports(const gl_conv2d_params *p) {
    if (!gl_conv2d_params_valid(p)) return 0;
    /* Dilation is meaningless for a single tap, so any value is accepted. */
    return p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
           p->pad_top == 0 && p->pad_left == 0 && p->groups == 1 &&
           p->in_h == p->out_h && p->in_w == p->out_w;
}

size_t gl_f32_conv1x1_packed_size_x8(const gl_conv2d_params *p) {
    const size_t panels = (p->out_c + NR - 1) / NR;
    return panels * NR * (p->in_c + 1);
}

void gl_f32_conv1x1_pack_x8(const gl_conv2d_params *p, const float *weights_oihw,
                            const float *bias, float *packed) {
    assert(gl_f32_conv1x1_supports(p));
    assert(weights_oihw != NULL && packed != NULL);
    const size_t kc = p->in_c, nc = p->out_c;
    for (size_t n0 = 0; n0 < nc; n0 += NR) {
        for (size_t j = 0; j < NR; j++) {
            const size_t oc = n0 + j;
            *packed++ = (oc < nc && bias != NULL) ? bias[oc] : 0.0f;
        }
        for (size_t k = 0; k < kc; k++) {
            for (size_t j = 0; j < NR; j++) {
                const size_t oc = n0 + j;
                *packed++ = oc < nc ? weights_oihw[oc * kc + k] : 0.0f;
            }
        }
    }
}

/* Epilogue for one pixel's panel: + residual, activation and clamp, store the first `n` lanes. */
GL_INLINE void store_row(const int ACT, float *c, const float *acc, const float *r, size_t n, const gl_epilogue *ep) {
    if (r != NULL) {
        for (size_t j = 0; j < n; j++) c[j] = gl_act_f32(acc[j] + r[j], ACT, ep);
    } else {
        for (size_t j = 0; j < n; j++) c[j] = gl_act_f32(acc[j], ACT, ep);
    }
}

/* The block's real rows (mr of them, nc floats apart). Only real rows are stored: storing an
 * aliased row again would, with residual == output (an in-place residual add), add the
 * residual twice. */
GL_INLINE void store_rows(const int ACT, size_t mr, float *cn, size_t nc, const float *rn, size_t n,
                          const float *acc0, const float *acc1, const float *acc2, const float *acc3,
                          const gl_epilogue *ep) {
    store_row(ACT, cn, acc0, rn, n, ep);
    if (mr > 1) store_row(ACT, cn + nc, acc1, rn != NULL ? rn + nc : NULL, n, ep);
    if (mr > 2) store_row(ACT, cn + 2 * nc, acc2, rn != NULL ? rn + 2 * nc : NULL, n, ep);
    if (mr > 3) store_row(ACT, cn + 3 * nc, acc3, rn != NULL ? rn + 3 * nc : NULL, n, ep);
}

/* The kernel, compiled once per activation (ACT): the kind is read once per call, before any
 * sum is live, so the clamp-only copy is the kernel as it was before activations. */
GL_INLINE void conv1x1_rows(const int ACT, const gl_conv2d_params *p, const float *input, const float *packed,
                            const float *residual, float *output, size_t row_begin, size_t row_end,
                            const gl_epilogue *ep) {
    const size_t kc = p->in_c, nc = p->out_c;
    const size_t first = row_begin * p->out_w;          /* first pixel */
    size_t m = (row_end - row_begin) * p->out_w;        /* pixels left */
    const float *a = input + first * kc;
    float *c = output + first * nc;
    const float *r = residual != NULL ? residual + first * nc : NULL;

    while (m != 0) {
        /* Rows past the end alias the last real row (XNNPACK's trick) so the hot
         * loop stays branch-free. */
        const size_t mr = m < MR ? m : MR;
        const float *a0 = a;
        const float *a1 = mr > 1 ? a0 + kc : a0;
        const float *a2 = mr > 2 ? a1 + kc : a1;
        const float *a3 = mr > 3 ? a2 + kc : a2;

        const float *w = packed;
        for (size_t n0 = 0; n0 < nc; n0 += NR) {
            float acc0[NR], acc1[NR], acc2[NR], acc3[NR];
            for (size_t j = 0; j < NR; j++) acc0[j] = acc1[j] = acc2[j] = acc3[j] = w[j];
            w += NR;
            for (size_t k = 0; k < kc; k++) {
                const float va0 = a0[k], va1 = a1[k], va2 = a2[k], va3 = a3[k];
                for (size_t j = 0; j < NR; j++) {
                    const float vw = w[j];
                    acc0[j] += va0 * vw;
                    acc1[j] += va1 * vw;
                    acc2[j] += va2 * vw;
                    acc3[j] += va3 * vw;
                }
                w += NR;
            }
            const size_t n = nc - n0 < NR ? nc - n0 : NR;
            store_rows(ACT, mr, c + n0, nc, r != NULL ? r + n0 : NULL, n, acc0, acc1, acc2, acc3, ep);
        }

        a += mr * kc;
        c += mr * nc;
        if (r != NULL) r += mr * nc;
        m -= mr;
    }
}

void gl_f32_conv1x1_4x8_scalar(const gl_conv2d_params *p, const float *input,
                               const float *packed, const float *residual, float *output,
                               size_t row_begin, size_t row_end) {
    assert(gl_f32_conv1x1_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    const gl_epilogue ep = gl_epilogue_of(p);
    GL_ACTIVATION_DISPATCH(ep.kind, conv1x1_rows, p, input, packed, residual, output, row_begin, row_end, &ep);
}
