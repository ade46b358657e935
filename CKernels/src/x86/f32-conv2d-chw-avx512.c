/* f32-conv2d-chw-avx512.c — a network's first convolution read straight from the caller's CHW image (few input channels), 12 pixels × 32 channels per block in zmm registers. */
#include "avx512.h"

#if defined(__x86_64__)

#include <assert.h>

/*
 * ONNX models take their image in NCHW; every other kernel reads NHWC, so
 * without this one the engine transposes the input first (for a 224×224×3
 * image, 600 KB read and written again). A broadcast GEMM does not need the
 * channels interleaved: each tap is one scalar broadcast whatever the
 * layout, and in CHW the taps of one window row and channel are adjacent.
 * So the stem reads the planes as they are:
 *
 *   panel = bias[w], then w[ky][ci][kx][w]      w = 32, or 16 for a last 1..16 channels
 *
 * and a block of MR pixels along an output row runs, per window row inside
 * the image and per channel, over that row's taps inside the image: MR
 * broadcasts and NV weight vectors per tap, 12 × 2 zmm accumulators (the
 * 12x32 pointwise kernel's scheme). Pixels whose window crosses the left or
 * right edge go one at a time with their own tap range; nothing is copied.
 * Each output is bias + the taps in (ky, ci, kx) order.
 */

#define MR 12

int gl_f32_conv2d_chw_supports(const gl_conv2d_params *p) {
    return p != NULL && p->input_chw && gl_conv2d_params_valid_any_layout(p) && p->groups == 1 &&
           p->in_c <= GL_CONV2D_CHW_MAX_CHANNELS && p->dilation_h == 1 && p->dilation_w == 1 &&
           (p->in_plane == 0 || p->in_plane >= p->in_h * p->in_w);
}

void gl_f32_conv2d_chw_pack_x32(const gl_conv2d_params *p, const float *weights_oihw,
                                const float *bias, float *packed) {
    assert(gl_f32_conv2d_chw_supports(p));
    gl_avx512_pack_taps_x32(p, weights_oihw, bias, packed, 1);
}

/* Where a block's taps are. */
typedef struct {
    const float *a;  /* the first pixel's first tap inside the image: row ky0, column kx0, channel 0 */
    size_t xstride;  /* floats from one pixel's window to the next pixel's (the horizontal stride) */
    size_t plane;    /* floats from one channel to the next */
    size_t in_w;     /* floats from one image row to the next */
    size_t nky;      /* window rows inside the image */
    size_t kx0, nkx; /* first tap inside the image, and how many, along a window row */
} taps;

/*
 * MRT pixels × one panel of NV vectors; w: the panel's weights (after its bias), `last` the
 * last vector's real lanes. Window row ky0 of taps `t` is row 0 of `w` here (w starts there).
 */
GL_AVX512_INLINE void chw_tile(const int ACT, const size_t MRT, const size_t NV, const taps *t, size_t C, size_t kw,
                               const float *bias, const float *w, float *c, size_t ldc,
                               const float *r, const gl_avx512_epilogue *ep, __mmask16 last) {
    const size_t width = NV * 16;
    __m512 acc[MR][2];
    GL_UNROLL for (size_t i = 0; i < MRT; i++)
        GL_UNROLL for (size_t v = 0; v < NV; v++) acc[i][v] = _mm512_loadu_ps(bias + 16 * v);
    for (size_t ky = 0; ky < t->nky; ky++) {
        for (size_t ci = 0; ci < C; ci++) {
            const float *ap = t->a + ky * t->in_w + ci * t->plane;
            const float *wk = w + ((ky * C + ci) * kw + t->kx0) * width;
            for (size_t kx = 0; kx < t->nkx; kx++, wk += width) {
                __m512 wv[2];
                GL_UNROLL for (size_t v = 0; v < NV; v++) wv[v] = _mm512_loadu_ps(wk + 16 * v);
                GL_UNROLL for (size_t i = 0; i < MRT; i++) {
                    const __m512 ai = _mm512_set1_ps(ap[i * t->xstride + kx]);
                    GL_UNROLL for (size_t v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(ai, wv[v], acc[i][v]);
                }
            }
        }
    }
    gl_avx512_store_block(ACT, MRT, NV, acc, c, ldc, r, ep, last);
}

typedef void (*tile_fn)(const taps *t, size_t C, size_t kw, const float *bias, const float *w, float *c,
                        size_t ldc, const float *r, const gl_avx512_epilogue *ep, size_t width, __mmask16 last);

/* As the clamp-only tile (id) and the activation one (act): GL_TILE_ACTIVATION. The epilogue is
 * copied first, so that no pointer to it stays live through the k-loop. */
#define CHW_TILE(mrt, act, ACT)                                                                           \
    GL_AVX512 static void chw_tile_##act##mrt(const taps *t, size_t C, size_t kw, const float *bias,       \
                                              const float *w, float *c, size_t ldc, const float *r,        \
                                              const gl_avx512_epilogue *ep, size_t width, __mmask16 last) {\
        const gl_avx512_epilogue e = *ep;                                                                  \
        if (width == 32) chw_tile(ACT, mrt, 2, t, C, kw, bias, w, c, ldc, r, &e, last);                    \
        else chw_tile(ACT, mrt, 1, t, C, kw, bias, w, c, ldc, r, &e, last);                                \
    }
#define CHW_TILE_BOTH(mrt) CHW_TILE(mrt, id, GL_ACTIVATION_IDENTITY) CHW_TILE(mrt, act, GL_ACTIVATION_HARDSWISH)
CHW_TILE_BOTH(1) CHW_TILE_BOTH(2) CHW_TILE_BOTH(3) CHW_TILE_BOTH(4) CHW_TILE_BOTH(5) CHW_TILE_BOTH(6)
CHW_TILE_BOTH(7) CHW_TILE_BOTH(8) CHW_TILE_BOTH(9) CHW_TILE_BOTH(10) CHW_TILE_BOTH(11) CHW_TILE_BOTH(12)

static const tile_fn chw_tiles_by_act[2][MR + 1] = {
    {NULL, chw_tile_id1, chw_tile_id2, chw_tile_id3, chw_tile_id4, chw_tile_id5, chw_tile_id6,
     chw_tile_id7, chw_tile_id8, chw_tile_id9, chw_tile_id10, chw_tile_id11, chw_tile_id12},
    {NULL, chw_tile_act1, chw_tile_act2, chw_tile_act3, chw_tile_act4, chw_tile_act5, chw_tile_act6,
     chw_tile_act7, chw_tile_act8, chw_tile_act9, chw_tile_act10, chw_tile_act11, chw_tile_act12},
};

GL_AVX512 void gl_f32_conv2d_chw_12x32__avx512(const gl_conv2d_params *p, const float *input, const float *packed,
                                               const float *residual, float *output, size_t row_begin,
                                               size_t row_end) {
    assert(gl_f32_conv2d_chw_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);

    const size_t in_h = p->in_h, in_w = p->in_w, C = p->in_c, out_w = p->out_w, nc = p->out_c;
    const size_t kh = p->kernel_h, kw = p->kernel_w, sw = p->stride_w;
    const ptrdiff_t pl = (ptrdiff_t)p->pad_left;
    const gl_epilogue e = gl_epilogue_of(p);
    const gl_avx512_epilogue ep = gl_avx512_epilogue_of(&e);
    const tile_fn *const chw_tiles = chw_tiles_by_act[GL_TILE_ACTIVATION(p->activation) == GL_ACTIVATION_HARDSWISH];

    /* Output columns [xa, xb) have every window column inside the image. */
    size_t xa = 0, xb;
    while (xa < out_w && (ptrdiff_t)(xa * sw) - pl < 0) xa++;
    xb = xa;
    while (xb < out_w && (ptrdiff_t)(xb * sw) - pl + (ptrdiff_t)kw <= (ptrdiff_t)in_w) xb++;

    taps t;
    t.xstride = sw;
    t.plane = p->in_plane != 0 ? p->in_plane : in_h * in_w;
    t.in_w = in_w;
    for (size_t y = row_begin; y < row_end; y++) {
        const ptrdiff_t iy0 = (ptrdiff_t)(y * p->stride_h) - (ptrdiff_t)p->pad_top;
        size_t ky0, ky1;
        gl_tap_range(iy0, 1, kh, in_h, &ky0, &ky1);
        t.nky = ky1 - ky0;
        float *orow = output + y * out_w * nc;
        const float *rrow = residual != NULL ? residual + y * out_w * nc : NULL;
        const float *panel = packed;
        for (size_t n0 = 0; n0 < nc; n0 += gl_avx512_width_x32(nc, n0)) {
            const size_t width = gl_avx512_width_x32(nc, n0), real = nc - n0 < width ? nc - n0 : width;
            const __mmask16 last = (__mmask16)((1u << (real - (width - 16))) - 1u);
            const float *w = panel + width + ky0 * C * kw * width;
            /* x in [x0, x1): pixel by pixel with its own column range at the edges, else in blocks */
            for (int part = 0; part < 3; part++) {
                const size_t x0 = part == 0 ? 0 : part == 1 ? xa : xb;
                const size_t x1 = part == 0 ? xa : part == 1 ? xb : out_w;
                for (size_t x = x0; x < x1;) {
                    const ptrdiff_t ix0 = (ptrdiff_t)(x * sw) - pl;
                    size_t kx0 = 0, kx1 = kw, mr = 1;
                    if (part == 1) mr = gl_next_block(x1 - x, MR);
                    else gl_tap_range(ix0, 1, kw, in_w, &kx0, &kx1);
                    t.kx0 = kx0;
                    t.nkx = kx1 - kx0;
                    t.a = input;
                    if (t.nky != 0 && t.nkx != 0)
                        t.a += (size_t)(iy0 + (ptrdiff_t)ky0) * in_w + (size_t)(ix0 + (ptrdiff_t)kx0);
                    else
                        t.nky = 0; /* only padding under this pixel's window: the bias alone */
                    chw_tiles[mr](&t, C, kw, panel, w, orow + x * nc + n0, nc,
                                  rrow != NULL ? rrow + x * nc + n0 : NULL, &ep, width, last);
                    t.nky = ky1 - ky0;
                    x += mr;
                }
            }
            panel += gl_avx512_panel_floats_x32(p, width);
        }
    }
}

#endif
