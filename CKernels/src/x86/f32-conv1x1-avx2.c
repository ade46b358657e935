/* f32-conv1x1-avx2.c — pointwise convolution as register-blocked GEMMs over packed weight panels: 6 pixels × 16 channels, and 1 × 64 for tiny images (the classifier's GEMV). */
#include "avx2.h"

#if defined(__x86_64__)

#include <assert.h>

/*
 * A pointwise convolution is a GEMM: C[pixel][oc] = bias[oc] + sum_ci A[pixel][ci] W[oc][ci],
 * with A the NHWC input (one row per pixel, in_c floats) and C the NHWC output.
 * A micro-kernel keeps an MR × NR block of C in ymm accumulators and, per ci,
 * broadcasts MR input values and loads NR/8 weight vectors (XNNPACK's
 * "broadcast" GEMM). Weights are packed once, at load, into panels of NR
 * output channels:
 *
 *   panel = bias[w], then w[in_c][w]          (w = the panel's width)
 *
 * zero-padded past out_c, so the k-loop always computes whole vectors and
 * only the stores are cut (masked) to the real channels.
 *
 * Rows: a block of MR pixels is processed by the micro-kernel compiled for
 * exactly that MR (1..6), so no row is aliased or recomputed; the remainder of
 * a row range is split so that no block is tiny (7 = 4 + 3, 8 = 4 + 4,
 * 9 = 5 + 4), because a block of r rows has only r * NR/8 independent FMA
 * chains and fewer than 8 leave the FMA pipes idle.
 */

/* ------------------------------------------------------------------------ */
/* the 6x16 kernel                                                           */

#define MR6 6 /* passes over the pixels and blocks of rows: gl_pointwise_run (internal.h) */
#define MR_VL 12 /* the same tiles with AVX-512VL's 32 ymm registers */

/*
 * The panel starting at output channel n0 is 16 wide, except the last: 8 if
 * that suffices, 24 for 17..24 channels (24, 40, 88, 120 outputs end that
 * way). A last 8-wide panel would give a 6-pixel block only 6 FMA chains and
 * one weight vector per 6 broadcasts; 24 wide it runs as 3x24 or 4x24 tiles
 * (9 or 12 chains, like the 6x16 tile's 12).
 */
static size_t width_x16(size_t nc, size_t n0) {
    const size_t rest = nc - n0;
    return rest <= 8 ? 8 : rest <= 16 || rest > 24 ? 16 : 24;
}

size_t gl_f32_conv1x1_packed_size_x16(const gl_conv2d_params *p) {
    size_t size = 0;
    for (size_t n0 = 0; n0 < p->out_c; n0 += width_x16(p->out_c, n0))
        size += width_x16(p->out_c, n0) * (p->in_c + 1);
    return size;
}

void gl_f32_conv1x1_pack_x16(const gl_conv2d_params *p, const float *weights_oihw,
                             const float *bias, float *packed) {
    assert(gl_f32_conv1x1_supports(p));
    assert(weights_oihw != NULL && packed != NULL);
    gl_pack_pointwise_panels(p, weights_oihw, bias, packed, width_x16);
}

/*
 * MR pixels (a, lda floats apart) times one panel of NV*8 channels at w:
 * acc = bias + a·w over kc, then the epilogue into c (ldc floats apart), n
 * real columns. MR and NV are constants after inlining, so acc lives in
 * MR*NV ymm registers and the k-loop has no branch but its own.
 */
GL_AVX2_INLINE void tile_x16(const int ACT, const size_t MR, const size_t NV, size_t kc, const float *a,
                             size_t lda, const float *w, float *c, size_t ldc, const float *r,
                             const gl_avx2_epilogue *ep, size_t n, gl_prefetch_window *pf) {
    __m256 acc[MR_VL][3];
    const float *ap[MR_VL];
    GL_UNROLL for (size_t i = 0; i < MR; i++) {
        ap[i] = a + i * lda;
        GL_UNROLL for (size_t v = 0; v < NV; v++) acc[i][v] = _mm256_loadu_ps(w + 8 * v);
    }
    w += NV * 8;
    const char *line = pf->cursor, *const line_end = pf->end;
    for (size_t k = 0; k < kc; k++) {
        gl_prefetch_line(&line, line_end);
        __m256 wv[3];
        GL_UNROLL for (size_t v = 0; v < NV; v++) wv[v] = _mm256_loadu_ps(w + 8 * v);
        w += NV * 8;
        GL_UNROLL for (size_t i = 0; i < MR; i++) {
            const __m256 ai = _mm256_broadcast_ss(ap[i] + k);
            GL_UNROLL for (size_t v = 0; v < NV; v++) acc[i][v] = _mm256_fmadd_ps(ai, wv[v], acc[i][v]);
        }
    }
    pf->cursor = line;
    gl_avx2_store_rows(ACT, MR, NV, 3, &acc[0][0], c, ldc, r, ep, n);
}

/*
 * MR pixels against the panels of output columns [n0, n1) (panel widths as
 * width_x16 says, weights from w). A 24-wide panel holds at most 4 pixels'
 * accumulators (12 + 3 weight vectors + a broadcast = 16 registers), so 5-6
 * pixels take it in two tiles.
 */
GL_AVX2_INLINE void rows_x16(const int ACT, const size_t MR, const size_t MR24, size_t kc, const float *a, const float *w,
                             size_t n0, size_t n1, size_t nc, float *c, const float *r,
                             const gl_epilogue *e, gl_prefetch_window *pf) {
    const gl_avx2_epilogue ep = gl_avx2_epilogue_of(e);
    for (size_t n = n0; n < n1;) {
        const size_t width = width_x16(nc, n), real = nc - n < width ? nc - n : width;
        float *cn = c + n;
        const float *rn = r != NULL ? r + n : NULL;
        if (width == 16) {
            tile_x16(ACT, MR, 2, kc, a, kc, w, cn, nc, rn, &ep, real, pf);
        } else if (width == 8) {
            tile_x16(ACT, MR, 1, kc, a, kc, w, cn, nc, rn, &ep, real, pf);
        } else if (MR <= MR24) {
            tile_x16(ACT, MR, 3, kc, a, kc, w, cn, nc, rn, &ep, real, pf);
        } else {
            const size_t top = MR / 2 + MR % 2, rest = MR - top; /* 6 = 3 + 3, 5 = 3 + 2 */
            tile_x16(ACT, top, 3, kc, a, kc, w, cn, nc, rn, &ep, real, pf);
            tile_x16(ACT, rest, 3, kc, a + top * kc, kc, w, cn + top * nc, nc,
                     rn != NULL ? rn + top * nc : NULL, &ep, real, pf);
        }
        w += width * (kc + 1);
        n += width;
    }
}

/* Each block size's rows, as the clamp-only tile (id) and the activation one (act: hardswish
 * in registers, any other activation out of line): GL_TILE_ACTIVATION. */
#define ROWS_X16(mr, act, ACT)                                                                     \
    GL_AVX2 static void rows_x16_##act##mr(size_t kc, const float *a, const float *w, size_t n0,     \
                                           size_t n1, size_t nc, float *c, const float *r,          \
                                           const gl_epilogue *ep, gl_prefetch_window *pf) {         \
        rows_x16(ACT, mr, 4, kc, a, w, n0, n1, nc, c, r, ep, pf);                                   \
    }
#define ROWS_X16_BOTH(mr) ROWS_X16(mr, id, GL_ACTIVATION_IDENTITY) ROWS_X16(mr, act, GL_ACTIVATION_HARDSWISH)
ROWS_X16_BOTH(1) ROWS_X16_BOTH(2) ROWS_X16_BOTH(3) ROWS_X16_BOTH(4) ROWS_X16_BOTH(5) ROWS_X16_BOTH(6)

static const gl_pointwise_rows_fn rows_x16_fns[2][MR6 + 1] = {
    {NULL, rows_x16_id1, rows_x16_id2, rows_x16_id3, rows_x16_id4, rows_x16_id5, rows_x16_id6},
    {NULL, rows_x16_act1, rows_x16_act2, rows_x16_act3, rows_x16_act4, rows_x16_act5, rows_x16_act6},
};

void gl_f32_conv1x1_6x16__avx2(const gl_conv2d_params *p, const float *input,
                               const float *packed, const float *residual, float *output,
                               size_t row_begin, size_t row_end) {
    assert(gl_f32_conv1x1_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);

    gl_pointwise_run(p, input, packed, residual, output, row_begin, row_end, width_x16,
                     rows_x16_fns[GL_TILE_ACTIVATION(p->activation) == GL_ACTIVATION_HARDSWISH], MR6);
}

/* ------------------------------------------------------------------------ */
/* the same tiles with AVX-512VL's 32 ymm registers, for thin outputs          */

/*
 * With 32 ymm registers a block holds 12 pixels × 16 channels (24 accumulators) or
 * 8 × 24: twice the pixels per weight vector loaded, and a 24-wide panel in one
 * tile instead of two. Measured against the 6x16 kernel on Lite0's shapes
 * (bench_kernels -a): 2-5% faster where the output is thin (-> 16, 24, 40, where
 * each pixel's few output channels leave the 6x16 tile short of independent
 * accumulators), 1-3% slower on 16 -> 96 and 24 -> 144, level elsewhere. So: at
 * most 48 output channels. The AVX-512 table only (the CPU must have AVX-512VL).
 */
int gl_f32_conv1x1_thin_supports(const gl_conv2d_params *p) {
    return gl_f32_conv1x1_supports(p) && p->out_c <= 48;
}

#define GL_AVX512VL __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define ROWS_VL(mr, act, ACT)                                                                      \
    GL_AVX512VL static void rows_vl_##act##mr(size_t kc, const float *a, const float *w, size_t n0,  \
                                              size_t n1, size_t nc, float *c, const float *r,       \
                                              const gl_epilogue *ep, gl_prefetch_window *pf) {      \
        rows_x16(ACT, mr, 8, kc, a, w, n0, n1, nc, c, r, ep, pf);                                    \
    }
#define ROWS_VL_BOTH(mr) ROWS_VL(mr, id, GL_ACTIVATION_IDENTITY) ROWS_VL(mr, act, GL_ACTIVATION_HARDSWISH)
ROWS_VL_BOTH(1) ROWS_VL_BOTH(2) ROWS_VL_BOTH(3) ROWS_VL_BOTH(4) ROWS_VL_BOTH(5) ROWS_VL_BOTH(6)
ROWS_VL_BOTH(7) ROWS_VL_BOTH(8) ROWS_VL_BOTH(9) ROWS_VL_BOTH(10) ROWS_VL_BOTH(11) ROWS_VL_BOTH(12)

static const gl_pointwise_rows_fn rows_vl_fns[2][MR_VL + 1] = {
    {NULL, rows_vl_id1, rows_vl_id2, rows_vl_id3, rows_vl_id4, rows_vl_id5, rows_vl_id6,
     rows_vl_id7, rows_vl_id8, rows_vl_id9, rows_vl_id10, rows_vl_id11, rows_vl_id12},
    {NULL, rows_vl_act1, rows_vl_act2, rows_vl_act3, rows_vl_act4, rows_vl_act5, rows_vl_act6,
     rows_vl_act7, rows_vl_act8, rows_vl_act9, rows_vl_act10, rows_vl_act11, rows_vl_act12},
};

void gl_f32_conv1x1_12x16__avx512(const gl_conv2d_params *p, const float *input,
                                  const float *packed, const float *residual, float *output,
                                  size_t row_begin, size_t row_end) {
    assert(gl_f32_conv1x1_thin_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    gl_pointwise_run(p, input, packed, residual, output, row_begin, row_end, width_x16,
                     rows_vl_fns[GL_TILE_ACTIVATION(p->activation) == GL_ACTIVATION_HARDSWISH], MR_VL);
}

/* ------------------------------------------------------------------------ */
/* the 1x64 kernel, for images of a few pixels                               */

/*
 * With one pixel (the classifier, a GEMV) the 6x16 kernel would have two FMA
 * chains and wait on FMA latency. Here panels are 64 channels wide and a
 * block of pixels takes a panel in chunks as wide as its height allows: one
 * pixel the whole 64 (8 chains), 2-3 pixels 32 (8 or 12 chains), 4-6 pixels
 * 16 (as 6x16: a taller block reuses each weight vector more, and the weights
 * come from L2). Every output is still bias + a sum in ascending ci, so the
 * result does not depend on how rows were blocked or split between calls.
 * The weights are the big operand, so the loop runs panel-major: each panel
 * is read from memory once and stays in cache while the (few) pixel blocks
 * use it.
 */

#define NR64 64

/* The panel starting at n0 is 64 wide, or the rest rounded up to 8. */
static size_t width_x64(size_t nc, size_t n0) {
    const size_t rest = nc - n0;
    return rest >= NR64 ? NR64 : (rest + 7) / 8 * 8;
}

int gl_f32_conv1x1_small_supports(const gl_conv2d_params *p) {
    return gl_f32_conv1x1_supports(p) && p->out_h * p->out_w <= GL_CONV1X1_SMALL_PIXELS;
}

size_t gl_f32_conv1x1_packed_size_x64(const gl_conv2d_params *p) {
    size_t size = 0;
    for (size_t n0 = 0; n0 < p->out_c; n0 += width_x64(p->out_c, n0))
        size += width_x64(p->out_c, n0) * (p->in_c + 1);
    return size;
}

void gl_f32_conv1x1_pack_x64(const gl_conv2d_params *p, const float *weights_oihw,
                             const float *bias, float *packed) {
    assert(gl_f32_conv1x1_small_supports(p));
    assert(weights_oihw != NULL && packed != NULL);
    gl_pack_pointwise_panels(p, weights_oihw, bias, packed, width_x64);
}

/*
 * MR (1..6) pixels × NV (1..8) vectors of one panel, MR*NV <= 12: w points at
 * the chunk's bias, `ws` floats (the panel width) separate consecutive ci.
 * Weights are FMA memory operands, so the accumulators and MR broadcasts fit
 * the 16 registers.
 */
GL_AVX2_INLINE void tile_x64(const int ACT, const size_t MR, const size_t NV, size_t kc, const float *a,
                             size_t lda, const float *w, size_t ws, float *c, size_t ldc,
                             const float *r, const gl_avx2_epilogue *ep, size_t n) {
    __m256 acc[6][8];
    const float *ap[6];
    GL_UNROLL for (size_t i = 0; i < MR; i++) {
        ap[i] = a + i * lda;
        GL_UNROLL for (size_t v = 0; v < NV; v++) acc[i][v] = _mm256_loadu_ps(w + 8 * v);
    }
    w += ws;
    for (size_t k = 0; k < kc; k++, w += ws) {
        GL_UNROLL for (size_t i = 0; i < MR; i++) {
            const __m256 ai = _mm256_broadcast_ss(ap[i] + k);
            GL_UNROLL for (size_t v = 0; v < NV; v++)
                acc[i][v] = _mm256_fmadd_ps(ai, _mm256_loadu_ps(w + 8 * v), acc[i][v]);
        }
    }
    gl_avx2_store_rows(ACT, MR, NV, 8, &acc[0][0], c, ldc, r, ep, n);
}

typedef void (*tile64_fn)(size_t kc, const float *a, const float *w, size_t ws, float *c,
                          size_t ldc, const float *r, const gl_avx2_epilogue *ep, size_t n);

/* As the clamp-only tile (id) and the activation one (act): GL_TILE_ACTIVATION. The epilogue
 * is copied first, so that no pointer to it stays live through the k-loop. */
#define TILE_X64(mr, nv, act, ACT)                                                                \
    GL_AVX2 static void tile_x64_##act##mr##_##nv(size_t kc, const float *a, const float *w,        \
                                                  size_t ws, float *c, size_t ldc, const float *r,  \
                                                  const gl_avx2_epilogue *ep, size_t n) {           \
        const gl_avx2_epilogue e = *ep;                                                              \
        tile_x64(ACT, mr, nv, kc, a, kc, w, ws, c, ldc, r, &e, n);                                  \
    }
#define TILE_X64_BOTH(mr, nv) TILE_X64(mr, nv, id, GL_ACTIVATION_IDENTITY) TILE_X64(mr, nv, act, GL_ACTIVATION_HARDSWISH)
TILE_X64_BOTH(1, 1) TILE_X64_BOTH(1, 2) TILE_X64_BOTH(1, 3) TILE_X64_BOTH(1, 4)
TILE_X64_BOTH(1, 5) TILE_X64_BOTH(1, 6) TILE_X64_BOTH(1, 7) TILE_X64_BOTH(1, 8)
TILE_X64_BOTH(2, 1) TILE_X64_BOTH(2, 2) TILE_X64_BOTH(2, 3) TILE_X64_BOTH(2, 4)
TILE_X64_BOTH(3, 1) TILE_X64_BOTH(3, 2) TILE_X64_BOTH(3, 3) TILE_X64_BOTH(3, 4)
TILE_X64_BOTH(4, 1) TILE_X64_BOTH(4, 2) TILE_X64_BOTH(5, 1) TILE_X64_BOTH(5, 2)
TILE_X64_BOTH(6, 1) TILE_X64_BOTH(6, 2)

/* Chunk width for a block of mr pixels, and the tiles: [act][mr][nv], nv <= chunk / 8. */
static size_t chunk_x64(size_t mr) { return mr == 1 ? 64 : mr <= 3 ? 32 : 16; }
#define TILES_X64(act)                                                                           \
    {                                                                                            \
        {NULL},                                                                                  \
        {NULL, tile_x64_##act##1_1, tile_x64_##act##1_2, tile_x64_##act##1_3, tile_x64_##act##1_4, \
         tile_x64_##act##1_5, tile_x64_##act##1_6, tile_x64_##act##1_7, tile_x64_##act##1_8},     \
        {NULL, tile_x64_##act##2_1, tile_x64_##act##2_2, tile_x64_##act##2_3, tile_x64_##act##2_4}, \
        {NULL, tile_x64_##act##3_1, tile_x64_##act##3_2, tile_x64_##act##3_3, tile_x64_##act##3_4}, \
        {NULL, tile_x64_##act##4_1, tile_x64_##act##4_2},                                       \
        {NULL, tile_x64_##act##5_1, tile_x64_##act##5_2},                                       \
        {NULL, tile_x64_##act##6_1, tile_x64_##act##6_2},                                       \
    }
static const tile64_fn tiles_x64[2][7][9] = {TILES_X64(id), TILES_X64(act)};

GL_AVX2 void gl_f32_conv1x1_1x64__avx2(const gl_conv2d_params *p, const float *input,
                                       const float *packed, const float *residual, float *output,
                                       size_t row_begin, size_t row_end) {
    assert(gl_f32_conv1x1_small_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);

    const size_t kc = p->in_c, nc = p->out_c;
    const size_t first = row_begin * p->out_w;
    const size_t m = (row_end - row_begin) * p->out_w;
    const gl_epilogue e = gl_epilogue_of(p);
    const gl_avx2_epilogue ep = gl_avx2_epilogue_of(&e);
    const tile64_fn(*const tiles)[9] = tiles_x64[GL_TILE_ACTIVATION(p->activation) == GL_ACTIVATION_HARDSWISH];
    const float *w = packed;
    for (size_t n0 = 0; n0 < nc; n0 += NR64) {
        const size_t width = width_x64(nc, n0);
        for (size_t i = 0; i < m;) {
            const size_t mr = gl_next_block(m - i, 6);
            const size_t chunk = chunk_x64(mr);
            for (size_t c0 = 0; c0 < width; c0 += chunk) {
                const size_t nv = (width - c0 < chunk ? width - c0 : chunk) / 8;
                const size_t n = nc - n0 - c0 < nv * 8 ? nc - n0 - c0 : nv * 8;
                const size_t at = (first + i) * nc + n0 + c0;
                tiles[mr][nv](kc, input + (first + i) * kc, w + c0, width, output + at, nc,
                                  residual != NULL ? residual + at : NULL, &ep, n);
            }
            i += mr;
        }
        w += width * (kc + 1);
    }
}

#endif
