/* f32-conv2d-avx2.c — direct convolution for any groups, window, stride, dilation and padding (the stem among them): 6 pixels × 16 output channels per block, as an implicit GEMM. */
#include "avx2.h"

#if defined(__x86_64__)

#include <assert.h>

/*
 * Packed layout: for each group g, its ocg = out_c/groups output channels in
 * panels of 16 (the last of 8 when that is enough, zero-padded past ocg):
 *
 *   bias[w], then w[ky][kx][ci][w]          (ci < cig = in_c/groups, w = width)
 *
 * A block of MR pixels along an output row times one panel is a GEMM whose
 * k runs over the window's taps and channels: per (ky, kx, ci), MR input
 * values broadcast and NV weight vectors loaded, as in the pointwise kernel
 * (im2col without the copy). With groups == 1 and dilation 1, the (kx, ci)
 * of one window row are contiguous in NHWC memory, so they run as one loop
 * of kernel_w * in_c steps: the stem (3x3, 3 channels) does 9 per window row.
 *
 * Pixels whose window lies inside the image share the full tap range and go
 * in blocks of up to 6; the few pixels at the left/right edge go one at a
 * time with their own column range; window rows outside the image are
 * skipped for the whole output row. Nothing is copied.
 */

#define NR 16
#define MR 6

static size_t width_x16(size_t ocg, size_t t0) { return ocg - t0 > 8 ? 16 : 8; }

static size_t panel_floats(const gl_conv2d_params *p, size_t width) {
    return width * (1 + p->kernel_h * p->kernel_w * (p->in_c / p->groups));
}

size_t gl_f32_conv2d_packed_size_x16(const gl_conv2d_params *p) {
    const size_t ocg = p->out_c / p->groups;
    size_t size = 0;
    for (size_t t0 = 0; t0 < ocg; t0 += width_x16(ocg, t0))
        size += panel_floats(p, width_x16(ocg, t0));
    return p->groups * size;
}

void gl_f32_conv2d_pack_x16(const gl_conv2d_params *p, const float *weights_oihw,
                            const float *bias, float *packed) {
    assert(gl_f32_conv2d_supports(p));
    assert(weights_oihw != NULL && packed != NULL);
    const size_t cig = p->in_c / p->groups, ocg = p->out_c / p->groups;
    const size_t kh = p->kernel_h, kw = p->kernel_w;
    for (size_t g = 0; g < p->groups; g++) {
        for (size_t t0 = 0; t0 < ocg; t0 += width_x16(ocg, t0)) {
            const size_t w = width_x16(ocg, t0);
            for (size_t j = 0; j < w; j++)
                *packed++ = (t0 + j < ocg && bias != NULL) ? bias[g * ocg + t0 + j] : 0.0f;
            for (size_t ky = 0; ky < kh; ky++)
                for (size_t kx = 0; kx < kw; kx++)
                    for (size_t ci = 0; ci < cig; ci++)
                        for (size_t j = 0; j < w; j++) {
                            const size_t oc = g * ocg + t0 + j;
                            *packed++ = t0 + j < ocg
                                ? weights_oihw[((oc * cig + ci) * kh + ky) * kw + kx]
                                : 0.0f;
                        }
        }
    }
}

/* Where a block's taps are: see conv_tile. */
typedef struct {
    size_t xstride;     /* floats from one pixel's window to the next pixel's */
    size_t nky;         /* window rows inside the image */
    size_t row_step;    /* floats from one window row to the next, input */
    size_t w_row_step;  /* floats from one window row to the next, weights */
    size_t nseg;        /* runs per window row */
    size_t seg_len;     /* k-steps per run */
    size_t seg_step;    /* floats from one run to the next, input */
} taps;

/*
 * MR pixels × one panel of NV vectors. a: the first pixel's first in-image
 * tap (row ky0, column kx0, the group's first channel); w: the panel's
 * weights at that tap; bias: the panel's bias. k-steps within a run are
 * contiguous in both the input and the weights; the weights of consecutive
 * runs of one window row are contiguous too.
 */
GL_AVX2_INLINE void conv_tile(const int ACT, const size_t MRT, const size_t NV, const float *a, const taps *t,
                              const float *bias, const float *w, float *c, size_t ldc,
                              const float *r, const gl_avx2_epilogue *ep, size_t n) {
    __m256 acc[MR][2];
    GL_UNROLL for (size_t i = 0; i < MRT; i++)
        GL_UNROLL for (size_t v = 0; v < NV; v++) acc[i][v] = _mm256_loadu_ps(bias + 8 * v);
    for (size_t ky = 0; ky < t->nky; ky++) {
        const float *wk = w + ky * t->w_row_step;
        for (size_t s = 0; s < t->nseg; s++) {
            const float *ap[MR];
            GL_UNROLL for (size_t i = 0; i < MRT; i++) ap[i] = a + ky * t->row_step + s * t->seg_step + i * t->xstride;
            for (size_t k = 0; k < t->seg_len; k++) {
                __m256 wv[2];
                GL_UNROLL for (size_t v = 0; v < NV; v++) wv[v] = _mm256_loadu_ps(wk + 8 * v);
                wk += NV * 8;
                GL_UNROLL for (size_t i = 0; i < MRT; i++) {
                    const __m256 ai = _mm256_broadcast_ss(ap[i] + k);
                    GL_UNROLL for (size_t v = 0; v < NV; v++) acc[i][v] = _mm256_fmadd_ps(ai, wv[v], acc[i][v]);
                }
            }
        }
    }
    gl_avx2_store_rows(ACT, MRT, NV, 2, &acc[0][0], c, ldc, r, ep, n);
}

typedef void (*tile_fn)(const float *a, const taps *t, const float *bias, const float *w,
                        float *c, size_t ldc, const float *r, const gl_avx2_epilogue *ep,
                        size_t width, size_t n);

/* One block of MRT pixels against a panel of `width` (16 or 8) channels, n real; as the
 * clamp-only tile (id) and the activation one (act): GL_TILE_ACTIVATION. The epilogue is
 * copied first, so that no pointer to it stays live through the k-loop. */
#define CONV_TILE(mrt, act, ACT)                                                                   \
    GL_AVX2 static void conv_tile_##act##mrt(const float *a, const taps *t, const float *bias,      \
                                             const float *w, float *c, size_t ldc, const float *r,  \
                                             const gl_avx2_epilogue *ep, size_t width, size_t n) {  \
        const gl_avx2_epilogue e = *ep;                                                             \
        if (width == 16) conv_tile(ACT, mrt, 2, a, t, bias, w, c, ldc, r, &e, n);                   \
        else conv_tile(ACT, mrt, 1, a, t, bias, w, c, ldc, r, &e, n);                               \
    }
#define CONV_TILE_BOTH(mrt) CONV_TILE(mrt, id, GL_ACTIVATION_IDENTITY) CONV_TILE(mrt, act, GL_ACTIVATION_HARDSWISH)
CONV_TILE_BOTH(1) CONV_TILE_BOTH(2) CONV_TILE_BOTH(3) CONV_TILE_BOTH(4) CONV_TILE_BOTH(5) CONV_TILE_BOTH(6)

static const tile_fn conv_tiles_by_act[2][MR + 1] = {
    {NULL, conv_tile_id1, conv_tile_id2, conv_tile_id3, conv_tile_id4, conv_tile_id5, conv_tile_id6},
    {NULL, conv_tile_act1, conv_tile_act2, conv_tile_act3, conv_tile_act4, conv_tile_act5, conv_tile_act6},
};

GL_AVX2 void gl_f32_conv2d_6x16__avx2(const gl_conv2d_params *p, const float *input,
                              const float *packed, const float *residual, float *output,
                              size_t row_begin, size_t row_end) {
    assert(gl_f32_conv2d_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);

    const size_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const size_t out_w = p->out_w, out_c = p->out_c;
    const size_t kh = p->kernel_h, kw = p->kernel_w;
    const size_t sw = p->stride_w, dh = p->dilation_h, dw = p->dilation_w;
    const size_t groups = p->groups, cig = in_c / groups, ocg = out_c / groups;
    const ptrdiff_t pl = (ptrdiff_t)p->pad_left;
    const gl_epilogue e = gl_epilogue_of(p);
    const gl_avx2_epilogue ep = gl_avx2_epilogue_of(&e);
    const tile_fn *const conv_tiles = conv_tiles_by_act[GL_TILE_ACTIVATION(p->activation) == GL_ACTIVATION_HARDSWISH];

    /* Output columns [xa, xb) have every window column inside the image. */
    size_t xa = 0, xb = 0;
    {
        const ptrdiff_t span = (ptrdiff_t)((kw - 1) * dw);
        while (xa < out_w && (ptrdiff_t)(xa * sw) - pl < 0) xa++;
        xb = xa;
        while (xb < out_w && (ptrdiff_t)(xb * sw) - pl + span < (ptrdiff_t)in_w) xb++;
    }
    /* (kx, ci) contiguous over a window row: one run per row. */
    const int merged = groups == 1 && dw == 1;

    for (size_t y = row_begin; y < row_end; y++) {
        const ptrdiff_t iy0 = (ptrdiff_t)(y * p->stride_h) - (ptrdiff_t)p->pad_top;
        size_t ky0, ky1;
        gl_tap_range(iy0, dh, kh, in_h, &ky0, &ky1);
        const size_t iy_first = ky1 > ky0 ? (size_t)(iy0 + (ptrdiff_t)(ky0 * dh)) : 0;
        float *orow = output + y * out_w * out_c;
        const float *rrow = residual != NULL ? residual + y * out_w * out_c : NULL;

        const float *panel = packed;
        for (size_t g = 0; g < groups; g++) {
            for (size_t t0 = 0; t0 < ocg; t0 += width_x16(ocg, t0)) {
                const size_t width = width_x16(ocg, t0);
                const size_t n = ocg - t0 < width ? ocg - t0 : width;
                const size_t oc0 = g * ocg + t0;
                const float *bias = panel, *w0 = panel + width;

                taps t;
                t.xstride = sw * in_c;
                t.nky = ky1 - ky0;
                t.row_step = dh * in_w * in_c;
                t.w_row_step = kw * cig * width;

                /* x in [x0, x1), pixel by pixel with its own column range, or in blocks */
                for (int part = 0; part < 3; part++) {
                    const size_t x0 = part == 0 ? 0 : part == 1 ? xa : xb;
                    const size_t x1 = part == 0 ? xa : part == 1 ? xb : out_w;
                    for (size_t x = x0; x < x1;) {
                        size_t kx0 = 0, kx1 = kw, mr = 1;
                        const ptrdiff_t ix0 = (ptrdiff_t)(x * sw) - pl;
                        if (part == 1) mr = gl_next_block(x1 - x, MR);
                        else gl_tap_range(ix0, dw, kw, in_w, &kx0, &kx1);
                        t.nseg = merged ? 1 : kx1 - kx0;
                        t.seg_len = merged ? (kx1 - kx0) * cig : cig;
                        t.seg_step = dw * in_c;
                        if (kx1 == kx0) t.nseg = 0;
                        const float *a = input;
                        if (t.nky != 0 && t.nseg != 0)
                            a += (iy_first * in_w + (size_t)(ix0 + (ptrdiff_t)(kx0 * dw))) * in_c + g * cig;
                        const float *w = w0 + (ky0 * kw + kx0) * cig * width;
                        conv_tiles[mr](a, &t, bias, w, orow + x * out_c + oc0, out_c,
                                       rrow != NULL ? rrow + x * out_c + oc0 : NULL,
                                       &ep, width, n);
                        x += mr;
                    }
                }
                panel += panel_floats(p, width);
            }
        }
    }
}

#endif
