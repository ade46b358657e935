/* f32-conv2d-avx512.c — dense convolution (groups 1, dilation 1, NHWC: ResNet's 3x3 layers, the stems) as an implicit GEMM, 12 pixels × 32 output channels per block in zmm registers. */
#include "avx512.h"

#if defined(__x86_64__)

#include <assert.h>
#include <string.h>

/*
 * The 12x32 pointwise kernel's scheme (f32-conv1x1-avx512.c) with k running
 * over the window: a block of up to 12 pixels of one output row keeps 12 × 2
 * zmm accumulators, and each k-step loads 2 weight vectors and broadcasts one
 * input per pixel. Weights, packed once:
 *
 *   panel = bias[w], then w[ky][kx][ci][w]      w = 32, or 16 for a last 1..16 channels
 *
 * A block is computed as a list of runs: per run, one input pointer per pixel
 * and the k-step where its weights start; the run's k-steps are contiguous in
 * the input (from each pixel's pointer) and in the weights. Where a pixel's
 * window lies inside the image, a window row's (kx, ci) are contiguous in NHWC
 * (groups 1, dilation 1), so a run is a whole window row, kernel_w * in_c
 * long: the stem (7x7, 3 channels) does runs of 21, not 3. Window rows above
 * or below the image are skipped for the whole output row.
 *
 * Blocks whose windows cross the left or right edge keep 12 pixels too (the
 * small layers are all edge: a 7-wide row with pad 1 is one block touching
 * both), so that no pixel is computed alone on 2 of the 24 FMA chains:
 *  - when the block's window rows fit STAGE_FLOATS, they are copied into a
 *    stack buffer with the padding as zeros, and the block runs on the copy
 *    by window rows, as inside (few channels, where runs of in_c would be short);
 *  - otherwise (many channels: a run of in_c is long enough) every tap is a run
 *    of in_c, and a pixel whose tap is padding reads a row of zeros.
 * Either way the inner loop never tests a bound. Padding taps add products of
 * zero, which leave a sum unchanged, so every output is bias + the taps in
 * (ky, kx, ci) order, and a pixel is computed the same way whatever rows a
 * call covers (blocks are a function of the row width alone).
 *
 * Loop order: panels in passes of about GL_POINTWISE_PASS_FLOATS (a pass's
 * weights stay in L2: a 3x3 panel of 512 channels is 590 KB, a layer's 9.4 MB),
 * and per pass the rows and their blocks, each block against the pass's panels
 * (its input stays in L1 across them). While a pass runs its tiles prefetch the
 * next pass's weights, the last pass the caller's gl_prefetch_next window, as
 * gl_pointwise_run does.
 */

#define MR 12
#define STAGE_FLOATS 4096 /* 16 KB of stack: 3x3 windows of 12 pixels up to 97 channels (stride 1) */
#define MAX_RUNS 128      /* taps of a window, 11x11 at most (supports) */
#define ZERO_FLOATS 4096  /* channels a padding tap can read as zeros (supports) */

static const float zeros[ZERO_FLOATS];

/*
 * Output channels are computed 16 at a time: a count that leaves more than an eighth of the
 * lanes idle (24 computes 32, 40 computes 48, 8 computes 16) goes to the AVX2 kernel, whose
 * panels are 8 wide (56x56x32->24: 83% of peak there, 73% here; exact multiples of 16 are at
 * 94-98% here from 16 channels up).
 */
int gl_f32_conv2d_dense_supports(const gl_conv2d_params *p) {
    return gl_conv2d_params_valid(p) && p->groups == 1 && p->dilation_h == 1 && p->dilation_w == 1 &&
           p->kernel_h * p->kernel_w <= MAX_RUNS && p->in_c <= ZERO_FLOATS &&
           (p->out_c + 15) / 16 * 16 * 7 <= p->out_c * 8;
}

size_t gl_f32_conv2d_packed_size_x32(const gl_conv2d_params *p) {
    size_t size = 0;
    for (size_t n0 = 0; n0 < p->out_c; n0 += gl_avx512_width_x32(p->out_c, n0))
        size += gl_avx512_panel_floats_x32(p, gl_avx512_width_x32(p->out_c, n0));
    return size;
}

void gl_avx512_pack_taps_x32(const gl_conv2d_params *p, const float *weights_oihw, const float *bias,
                             float *packed, int chw_order) {
    assert(weights_oihw != NULL && packed != NULL);
    const size_t C = p->in_c, kh = p->kernel_h, kw = p->kernel_w, nc = p->out_c;
    /* Within a window row: kx then ci (NHWC windows) or ci then kx (CHW planes). */
    const size_t outer = chw_order ? C : kw, inner = chw_order ? kw : C;
    for (size_t n0 = 0; n0 < nc; n0 += gl_avx512_width_x32(nc, n0)) {
        const size_t w = gl_avx512_width_x32(nc, n0);
        for (size_t j = 0; j < w; j++) *packed++ = (n0 + j < nc && bias != NULL) ? bias[n0 + j] : 0.0f;
        for (size_t ky = 0; ky < kh; ky++)
            for (size_t o = 0; o < outer; o++)
                for (size_t i = 0; i < inner; i++) {
                    const size_t ci = chw_order ? o : i, kx = chw_order ? i : o;
                    for (size_t j = 0; j < w; j++)
                        *packed++ = n0 + j < nc ? weights_oihw[(((n0 + j) * C + ci) * kh + ky) * kw + kx] : 0.0f;
                }
    }
}

void gl_f32_conv2d_pack_x32(const gl_conv2d_params *p, const float *weights_oihw,
                            const float *bias, float *packed) {
    assert(gl_f32_conv2d_dense_supports(p));
    gl_avx512_pack_taps_x32(p, weights_oihw, bias, packed, 0);
}

/*
 * A block's runs: run r reads len floats from each pixel's pointer against the weights of k-steps
 * [k0[r], k0[r] + len) of each panel. By window row, pixel i's pointer is base[r] + i * xstride;
 * by tap, a[r * MR + i] (a padding tap's is `zeros`).
 */
typedef struct {
    const float *base[MAX_RUNS];
    size_t xstride;
    const float *a[MAX_RUNS * MR];
    size_t k0[MAX_RUNS];
    size_t nruns, len;
    int by_tap;
} runs;

/* MRT pixels × one panel of NV vectors, runs by tap or by row; `last` masks the last vector's lanes. */
GL_AVX512_INLINE void conv_tile(const int ACT, const size_t MRT, const size_t NV, const int BY_TAP, const runs *rs,
                                const float *panel, float *c, size_t ldc, const float *r,
                                const gl_avx512_epilogue *ep, __mmask16 last, gl_prefetch_window *pf) {
    const size_t width = NV * 16;
    __m512 acc[MR][2];
    GL_UNROLL for (size_t i = 0; i < MRT; i++)
        GL_UNROLL for (size_t v = 0; v < NV; v++) acc[i][v] = _mm512_loadu_ps(panel + 16 * v);
    const float *const w0 = panel + width;
    const char *line = pf->cursor, *const line_end = pf->end;
    const size_t len = rs->len;
    for (size_t run = 0; run < rs->nruns; run++) {
        const float *a[MR];
        GL_UNROLL for (size_t i = 0; i < MRT; i++)
            a[i] = BY_TAP ? rs->a[run * MR + i] : rs->base[run] + i * rs->xstride;
        const float *w = w0 + rs->k0[run] * width;
        for (size_t k = 0; k < len; k++) {
            gl_prefetch_line(&line, line_end);
            __m512 wv[2];
            GL_UNROLL for (size_t v = 0; v < NV; v++) wv[v] = _mm512_loadu_ps(w + 16 * v);
            w += width;
            GL_UNROLL for (size_t i = 0; i < MRT; i++) {
                const __m512 ai = _mm512_set1_ps(a[i][k]);
                GL_UNROLL for (size_t v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(ai, wv[v], acc[i][v]);
            }
        }
    }
    pf->cursor = line;
    gl_avx512_store_block(ACT, MRT, NV, acc, c, ldc, r, ep, last);
}

/* One block of MRT pixels against the panels of output channels [n0, n1), weights from `panel`. */
typedef void (*tile_fn)(const runs *rs, const float *panel, size_t n0, size_t n1, size_t nc, size_t panel_k,
                        float *c, const float *r, const gl_avx512_epilogue *ep, gl_prefetch_window *pf);

GL_AVX512_INLINE void conv_panels(const int ACT, const size_t MRT, const runs *rs, const float *panel, size_t n0, size_t n1,
                                  size_t nc, size_t panel_k, float *c, const float *r,
                                  const gl_avx512_epilogue *ep, gl_prefetch_window *pf) {
    for (size_t n = n0; n < n1;) {
        const size_t width = gl_avx512_width_x32(nc, n), real = nc - n < width ? nc - n : width;
        const __mmask16 last = (__mmask16)((1u << (real - (width - 16))) - 1u);
        float *cn = c + n;
        const float *rn = r != NULL ? r + n : NULL;
        if (rs->by_tap) {
            if (width == 32) conv_tile(ACT, MRT, 2, 1, rs, panel, cn, nc, rn, ep, last, pf);
            else conv_tile(ACT, MRT, 1, 1, rs, panel, cn, nc, rn, ep, last, pf);
        } else {
            if (width == 32) conv_tile(ACT, MRT, 2, 0, rs, panel, cn, nc, rn, ep, last, pf);
            else conv_tile(ACT, MRT, 1, 0, rs, panel, cn, nc, rn, ep, last, pf);
        }
        panel += width * (1 + panel_k);
        n += width;
    }
}

/* As the clamp-only tile (id) and the activation one (act): GL_TILE_ACTIVATION. */
#define CONV_TILE(mrt, act, ACT)                                                                            \
    GL_AVX512 static void conv_panels_##act##mrt(const runs *rs, const float *panel, size_t n0, size_t n1,  \
                                            size_t nc, size_t panel_k, float *c, const float *r,            \
                                            const gl_avx512_epilogue *ep, gl_prefetch_window *pf) {         \
        const gl_avx512_epilogue e = *ep; /* no pointer to it live through the k-loop */                   \
        conv_panels(ACT, mrt, rs, panel, n0, n1, nc, panel_k, c, r, &e, pf);                                \
    }
#define CONV_TILE_BOTH(mrt) CONV_TILE(mrt, id, GL_ACTIVATION_IDENTITY) CONV_TILE(mrt, act, GL_ACTIVATION_HARDSWISH)
CONV_TILE_BOTH(1) CONV_TILE_BOTH(2) CONV_TILE_BOTH(3) CONV_TILE_BOTH(4) CONV_TILE_BOTH(5) CONV_TILE_BOTH(6)
CONV_TILE_BOTH(7) CONV_TILE_BOTH(8) CONV_TILE_BOTH(9) CONV_TILE_BOTH(10) CONV_TILE_BOTH(11) CONV_TILE_BOTH(12)

static const tile_fn conv_tiles_by_act[2][MR + 1] = {
    {NULL, conv_panels_id1, conv_panels_id2, conv_panels_id3, conv_panels_id4, conv_panels_id5, conv_panels_id6,
     conv_panels_id7, conv_panels_id8, conv_panels_id9, conv_panels_id10, conv_panels_id11, conv_panels_id12},
    {NULL, conv_panels_act1, conv_panels_act2, conv_panels_act3, conv_panels_act4, conv_panels_act5, conv_panels_act6,
     conv_panels_act7, conv_panels_act8, conv_panels_act9, conv_panels_act10, conv_panels_act11, conv_panels_act12},
};

/* The pass starting at panel column n0: *n1 past its last panel, *floats its packed size (at
 * least one panel, then as many as fit GL_POINTWISE_PASS_FLOATS). */
static void pass_end(size_t nc, size_t panel_k, size_t n0, size_t *n1, size_t *floats) {
    size_t n = n0, f = 0;
    while (n < nc) {
        const size_t pf = gl_avx512_width_x32(nc, n) * (1 + panel_k);
        if (n != n0 && f + pf > GL_POINTWISE_PASS_FLOATS) break;
        f += pf;
        n += gl_avx512_width_x32(nc, n);
    }
    *n1 = n, *floats = f;
}

/* s[j] = src[j - lo] for lo <= j < hi, else 0, for j < n: a window row copied with its padding. */
GL_AVX512 static void stage_row(float *s, const float *src, size_t n, size_t lo, size_t hi) {
    const __m512 zero = _mm512_setzero_ps();
    size_t j = 0;
    for (; j + 16 <= lo; j += 16) _mm512_storeu_ps(s + j, zero);
    if (j < lo) _mm512_mask_storeu_ps(s + j, (__mmask16)((1u << (lo - j)) - 1u), zero);
    for (j = lo; j < hi; j += 16) {
        const __mmask16 m = hi - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (hi - j)) - 1u);
        _mm512_mask_storeu_ps(s + j, m, _mm512_maskz_loadu_ps(m, src + (j - lo)));
    }
    for (j = hi; j < n; j += 16) {
        const __mmask16 m = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1u);
        _mm512_mask_storeu_ps(s + j, m, zero);
    }
}

/* The runs of the block of mr pixels from output column x0 of a row whose in-image window rows
 * are [ky0, ky1) from input row iy (of ky0). `stage` holds STAGE_FLOATS. */
static void block_runs(const gl_conv2d_params *p, const float *input, size_t iy, size_t ky0, size_t ky1,
                       size_t x0, size_t mr, float *stage, runs *rs) {
    const size_t C = p->in_c, in_w = p->in_w, kw = p->kernel_w, sw = p->stride_w;
    const ptrdiff_t ix = (ptrdiff_t)(x0 * sw) - (ptrdiff_t)p->pad_left; /* the first pixel's first column */
    const size_t span = (mr - 1) * sw + kw;                           /* columns the block's windows cover */
    const size_t nky = ky1 - ky0;
    rs->nruns = nky;
    rs->len = kw * C;
    rs->xstride = sw * C;
    rs->by_tap = 0;
    if (ix >= 0 && (size_t)ix + span <= in_w) { /* inside: window rows of the image itself */
        for (size_t r = 0; r < nky; r++) {
            rs->base[r] = input + ((iy + r) * in_w + (size_t)ix) * C;
            rs->k0[r] = (ky0 + r) * kw * C;
        }
    } else if (nky * span * C <= STAGE_FLOATS) { /* window rows copied, padding as zeros */
        const size_t left = ix < 0 ? (size_t)-ix < span ? (size_t)-ix : span : 0;
        const size_t first = ix < 0 ? 0 : (size_t)ix; /* first image column copied */
        size_t inside = first < in_w ? in_w - first : 0;
        if (inside > span - left) inside = span - left;
        for (size_t r = 0; r < nky; r++) {
            float *s = stage + r * span * C;
            stage_row(s, input + ((iy + r) * in_w + first) * C, span * C, left * C, (left + inside) * C);
            rs->base[r] = s;
            rs->k0[r] = (ky0 + r) * kw * C;
        }
    } else { /* a run per tap, padding read from zeros */
        rs->by_tap = 1;
        rs->nruns = nky * kw;
        rs->len = C;
        for (size_t r = 0; r < nky; r++)
            for (size_t kx = 0; kx < kw; kx++) {
                const size_t run = r * kw + kx;
                for (size_t i = 0; i < mr; i++) {
                    const ptrdiff_t col = ix + (ptrdiff_t)(i * sw + kx);
                    rs->a[run * MR + i] = col >= 0 && col < (ptrdiff_t)in_w
                        ? input + ((iy + r) * in_w + (size_t)col) * C : zeros;
                }
                rs->k0[run] = ((ky0 + r) * kw + kx) * C;
            }
    }
}

GL_AVX512 void gl_f32_conv2d_12x32__avx512(const gl_conv2d_params *p, const float *input, const float *packed,
                                           const float *residual, float *output, size_t row_begin,
                                           size_t row_end) {
    assert(gl_f32_conv2d_dense_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);

    const size_t out_w = p->out_w, nc = p->out_c;
    const size_t panel_k = p->kernel_h * p->kernel_w * p->in_c;
    const gl_epilogue e = gl_epilogue_of(p);
    const gl_avx512_epilogue ep = gl_avx512_epilogue_of(&e);
    const tile_fn *const conv_tiles = conv_tiles_by_act[GL_TILE_ACTIVATION(p->activation) == GL_ACTIVATION_HARDSWISH];
    /* Blocks of a row: as few as MR allows, their sizes within one of each other (56 = 12 + 4 × 11,
     * 28 = 10 + 9 + 9), so no block is left with a few pixels' worth of FMA chains. */
    const size_t nblocks = (out_w + MR - 1) / MR, base = out_w / nblocks, bigger = out_w % nblocks;

    float stage[STAGE_FLOATS];
    runs rs;
    gl_prefetch_window *const thread_pf = gl_prefetch_window_of_thread();
    gl_prefetch_window after = *thread_pf;
    const float *w0 = packed;
    for (size_t n0 = 0; n0 < nc && row_begin < row_end;) {
        size_t n1, floats, n2, next_floats = 0;
        pass_end(nc, panel_k, n0, &n1, &floats);
        if (n1 < nc) pass_end(nc, panel_k, n1, &n2, &next_floats);
        const char *next = (const char *)(w0 + floats);
        gl_prefetch_window pf = n1 < nc ? (gl_prefetch_window){next, next + next_floats * sizeof(float)} : after;
        for (size_t y = row_begin; y < row_end; y++) {
            const ptrdiff_t iy0 = (ptrdiff_t)(y * p->stride_h) - (ptrdiff_t)p->pad_top;
            size_t ky0, ky1;
            gl_tap_range(iy0, 1, p->kernel_h, p->in_h, &ky0, &ky1);
            const size_t iy = ky1 > ky0 ? (size_t)(iy0 + (ptrdiff_t)ky0) : 0;
            float *orow = output + y * out_w * nc;
            const float *rrow = residual != NULL ? residual + y * out_w * nc : NULL;
            for (size_t b = 0, x = 0; b < nblocks; b++) {
                const size_t mr = base + (b < bigger);
                block_runs(p, input, iy, ky0, ky1, x, mr, stage, &rs);
                conv_tiles[mr](&rs, w0, n0, n1, nc, panel_k, orow + x * nc,
                               rrow != NULL ? rrow + x * nc : NULL, &ep, &pf);
                x += mr;
            }
        }
        if (n1 >= nc) after = pf;
        w0 += floats;
        n0 = n1;
    }
    *thread_pf = after;
}

#endif
