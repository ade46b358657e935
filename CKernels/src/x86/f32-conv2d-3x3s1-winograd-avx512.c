/* f32-conv2d-3x3s1-winograd-avx512.c — 3x3 stride-1 dense convolution (NHWC) as Winograd F(4x4, 3x3): 4x4 output tiles, 36 GEMMs of tiles × in_c × out_c in 12 × 32 zmm blocks, the fused epilogue in the output transform. */
#include "avx512.h"

#if defined(__x86_64__)

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Winograd F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
 * points 0, ±1, ±2, ∞): a 4x4 tile of one output channel is Aᵀ [Σ_ci U_ci ⊙ V_ci] A, with
 * U = G g Gᵀ the 3x3 filter of (oc, ci) and V = Bᵀ d B the 6x6 input window of ci:
 *
 *   Bᵀ = | 4  0 -5  0  1  0 |   G = |  1/4     0     0  |   Aᵀ = | 1  1  1  1  1  0 |
 *        | 0 -4 -4  1  1  0 |       | -1/6  -1/6  -1/6  |        | 0  1 -1  2 -2  0 |
 *        | 0  4 -4 -1  1  0 |       | -1/6   1/6  -1/6  |        | 0  1  1  4  4  0 |
 *        | 0 -2 -1  2  1  0 |       |  1/24  1/12  1/6  |        | 0  1 -1  8 -8  1 |
 *        | 0  2 -1 -2  1  0 |       |  1/24 -1/12  1/6  |
 *        | 0  4  0 -5  0  1 |       |   0     0     1   |
 *
 * The sum over ci is then, for each of the 36 positions t of the 6x6 transforms, one GEMM
 * (tiles × in_c)·(in_c × out_c): 36 multiply-adds per in_c·out_c and 16 outputs, where the
 * direct kernel does 144.
 *
 * Weights, transformed once when the model loads (in double, rounded once), in the direct
 * kernel's panels of output channels:
 *
 *   panel = bias[w], then U[t][ci][w]       w = 32, or 16 for a last 1..16 channels
 *
 * Tiles: tile (ty, tx) covers output rows 4ty..4ty+3 and columns 4tx..4tx+3 (absolute multiples
 * of 4, whatever rows a call covers), and its 6x6 input window starts at (4ty - pad_top,
 * 4tx - pad_left). Positions outside the image read zeros, and so do the input rows and columns
 * that no output of the conv reads (past out_h + 1 - pad_top: a negative bottom pad). So an
 * output depends on its tile's position and the data alone: a call computes every tile row its
 * rows touch, stores only its own rows (a tile row two calls share is computed by both), and
 * any split of the rows gives the same bits. A call's tiles, in raster order, go in bands of
 * up to `band` tiles:
 *
 *   1. input transform: V[t][i][ci] for the band's tiles i, 16 channels a vector;
 *   2. per panel of output channels, per position t: blocks of up to 12 tiles × the panel, the
 *      12x32 pointwise kernel's loop (12 × 2 zmm accumulators, 2 weight vectors and 12
 *      broadcasts a k-step), into M[t][i][w];
 *   3. output transform of the panel: Y = Aᵀ M A + bias, then gl_avx512_store_block (residual,
 *      activation, clamp, masked store) for the rows the call owns and the columns that exist;
 *      compiled twice, the clamp alone and with the activation tiles' epilogue (activation.h).
 *
 * Scratch: a band's V and M, SCRATCH_FLOATS (or 12 tiles' worth, for deeper layers), in a
 * buffer per thread (a pthread key: freed when the thread exits) that grows when a call needs
 * more than it holds. A thread allocates on its first calls only: once each layer shape has run,
 * a request allocates nothing. (The API has no scratch argument, and a band is too big for the
 * stack of a Dispatch thread.)
 *
 * Accuracy: Winograd rounds more than a direct sum: the transforms have entries up to 8 and
 * rows of |·| summing to 10, so the rounding of the sums happens on values larger than the
 * products the direct sum adds. test_kernels.c holds each output to a bound derived from the
 * algorithm (winograd_magnitude there): γ(in_c + 16) · (E + |bias| + |residual|), with
 * E = Σ_t |A₂(y, t)| Σ_ci |U_t,ci| (|Bᵀ| |d_ci| |B|)_t the magnitude of the sums this algorithm
 * forms for output y. On data in [-1, 1], E is about 100-140 × Σ|w·x|; the largest error the
 * tests see is 2.3% of that bound, and ResNet-18/50's logits move by 5e-6 and 3e-5 of the
 * largest (direct kernel: 2e-6, 1.5e-5; ZooTests allow 1e-3).
 *
 * Memory: U is 36 floats per (oc, ci) where the direct kernel packs 9: ResNet-18's packed
 * weights grow by about 110 MB, 85 of them its three 7x7x512 layers (37.7 MB each).
 *
 * Sub-images: fused.c runs a conv that feeds a depthwise one on bands of rows as sub-images,
 * where the tiles align to the sub-image: such a result is within the bound above, not the
 * same bits as the whole-image run (ResNets have no such pair).
 *
 * NaN: a NaN input reaches every output of a tile whose 6x6 window holds it (the transforms mix
 * the window), not only the outputs whose 3x3 window holds it. It is never hidden.
 */

#define MR 12
#define ALPHA 6              /* input tile side: 4 outputs + 3 - 1 */
#define NPOS (ALPHA * ALPHA) /* transform positions: 36 GEMMs */
/* V and M of a band: 512 KB, half of Zen 4's L2 (the weights stream through the rest). Measured
 * against 1 MB and 256 KB on ResNet's 3x3 layers; every tile of 14x14x256 is then one band of
 * 12 and one of 4, 56x56x64 bands of 37 tiles. */
#define SCRATCH_FLOATS (128 * 1024)

/*
 * Where it beats the direct 12x32 kernel (supports), measured on Zen 4, one thread, against
 * the kernel the table picks otherwise (time direct / time Winograd; "cold": weights and data
 * evicted first, as in a forward pass whose weights do not fit L3):
 *  - ResNet's layers: 56x56x64 3.3x (cold 2.6x), 28x28x128 3.5x (2.7x), 14x14x256 2.5x (2.3x),
 *    7x7x512 1.2x (1.1x; in the engine 2.1 -> 1.3 ms a layer, ResNet-18 1.09x faster with
 *    them than without: the 4 tiles of 4x4 cover 8x8, and 37.7 MB of weights stream from memory);
 *  - few channels still win: 16 -> 16 at 112x112 2.2x (cold 1.35x), 8 -> 8 at 56x56 only 1.2x
 *    (cold 0.56x): from 16 channels in and out;
 *  - 14x14x1024 1.6x with bands of 12 tiles (0.8x with bands of 3: weights streamed once a
 *    band); past 1024 input channels a band of 12 tiles' V passes 1.7 MB, and those layers
 *    (not measured) stay with the direct kernel;
 *  - images under 7x7 (fewer than 4 tiles) were not measured: each weight would serve 1-3 tiles.
 */
#define MIN_CHANNELS 16
#define MAX_IN_CHANNELS 1024
#define MIN_PIXELS 49

static const float zeros[MAX_IN_CHANNELS]; /* what a position outside the image reads */

/* Tiles per band for in_c channels: what fits SCRATCH_FLOATS, at least a block of MR. */
static size_t band_tiles(size_t in_c) {
    const size_t band = SCRATCH_FLOATS / (NPOS * (in_c + 32) + 64);
    return band > MR ? band : MR;
}

int gl_f32_conv2d_winograd4x4_supports(const gl_conv2d_params *p) {
    return gl_conv2d_params_valid(p) && p->groups == 1 && p->kernel_h == 3 && p->kernel_w == 3 &&
           p->stride_h == 1 && p->stride_w == 1 && p->dilation_h == 1 && p->dilation_w == 1 &&
           p->in_c >= MIN_CHANNELS && p->out_c >= MIN_CHANNELS && p->in_c <= MAX_IN_CHANNELS &&
           p->out_h * p->out_w >= MIN_PIXELS;
}

static size_t panel_floats(size_t in_c, size_t width) { return width * (1 + NPOS * in_c); }

size_t gl_f32_conv2d_winograd4x4_packed_size(const gl_conv2d_params *p) {
    size_t size = 0;
    for (size_t n0 = 0; n0 < p->out_c; n0 += gl_avx512_width_x32(p->out_c, n0))
        size += panel_floats(p->in_c, gl_avx512_width_x32(p->out_c, n0));
    return size;
}

static const double wino_g[ALPHA][3] = {
    {1.0 / 4, 0, 0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0, 0, 1},
};

void gl_f32_conv2d_winograd4x4_pack(const gl_conv2d_params *p, const float *weights_oihw, const float *bias,
                                    float *packed) {
    assert(gl_f32_conv2d_winograd4x4_supports(p));
    assert(weights_oihw != NULL && packed != NULL);
    const size_t C = p->in_c, nc = p->out_c;
    for (size_t n0 = 0; n0 < nc; n0 += gl_avx512_width_x32(nc, n0)) {
        const size_t w = gl_avx512_width_x32(nc, n0);
        for (size_t j = 0; j < w; j++) packed[j] = (n0 + j < nc && bias != NULL) ? bias[n0 + j] : 0.0f;
        float *u = packed + w;
        for (size_t j = 0; j < w; j++)
            for (size_t ci = 0; ci < C; ci++) {
                double g[3][3] = {{0}}, gg[ALPHA][3];
                if (n0 + j < nc)
                    for (size_t a = 0; a < 9; a++) g[a / 3][a % 3] = weights_oihw[((n0 + j) * C + ci) * 9 + a];
                for (size_t k = 0; k < ALPHA; k++) /* G g */
                    for (size_t b = 0; b < 3; b++)
                        gg[k][b] = wino_g[k][0] * g[0][b] + wino_g[k][1] * g[1][b] + wino_g[k][2] * g[2][b];
                for (size_t k = 0; k < ALPHA; k++) /* (G g) Gᵀ */
                    for (size_t l = 0; l < ALPHA; l++)
                        u[((k * ALPHA + l) * C + ci) * w + j] =
                            (float)(gg[k][0] * wino_g[l][0] + gg[k][1] * wino_g[l][1] + gg[k][2] * wino_g[l][2]);
            }
        packed += panel_floats(C, w);
    }
}

/* ---- the per-thread scratch ---- */

typedef struct {
    float *p;
    size_t floats;
} scratch_buffer;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *s) {
    free(((scratch_buffer *)s)->p);
    free(s);
}

static void scratch_key_create(void) {
    if (pthread_key_create(&scratch_key, scratch_free) != 0) {
        fputs("gl_f32_conv2d_3x3s1_winograd4x4__avx512: pthread_key_create failed\n", stderr);
        abort();
    }
}

/* The calling thread's scratch, at least `floats` long, 64-byte aligned. Allocates only when a call
 * needs more than every call before it on this thread did; aborts when memory is out (the kernel
 * cannot fail, and a few MB missing means the process is done anyway). */
static float *thread_scratch(size_t floats) {
    pthread_once(&scratch_once, scratch_key_create);
    scratch_buffer *s = pthread_getspecific(scratch_key);
    if (s == NULL) {
        s = calloc(1, sizeof *s);
        if (s == NULL || pthread_setspecific(scratch_key, s) != 0) goto oom;
    }
    if (s->floats < floats) {
        free(s->p);
        s->p = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
        s->floats = s->p != NULL ? floats : 0;
        if (s->p == NULL) goto oom;
    }
    return s->p;
oom:
    fputs("gl_f32_conv2d_3x3s1_winograd4x4__avx512: out of memory for its scratch\n", stderr);
    abort();
}

/* ---- transforms ---- */

/* r = Bᵀ d over 6 values (a column of the window, or a row: the same coefficients). */
GL_AVX512_INLINE void input_1d(const __m512 d[ALPHA], __m512 r[ALPHA]) {
    const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f), two = _mm512_set1_ps(2.0f);
    const __m512 t0 = _mm512_fnmadd_ps(four, d[2], d[4]); /* d4 - 4 d2 */
    const __m512 t1 = _mm512_fnmadd_ps(four, d[1], d[3]); /* d3 - 4 d1 */
    const __m512 t2 = _mm512_sub_ps(d[4], d[2]);
    const __m512 t3 = _mm512_sub_ps(d[3], d[1]);
    r[0] = _mm512_fmadd_ps(four, d[0], _mm512_fnmadd_ps(five, d[2], d[4]));
    r[1] = _mm512_add_ps(t0, t1);
    r[2] = _mm512_sub_ps(t0, t1);
    r[3] = _mm512_fmadd_ps(two, t3, t2);
    r[4] = _mm512_fnmadd_ps(two, t3, t2);
    r[5] = _mm512_fmadd_ps(four, d[1], _mm512_fnmadd_ps(five, d[3], d[5]));
}

/* y = Aᵀ m, 6 values to 4. */
GL_AVX512_INLINE void output_1d(const __m512 m[ALPHA], __m512 y[4]) {
    const __m512 a = _mm512_add_ps(m[1], m[2]), b = _mm512_sub_ps(m[1], m[2]);
    const __m512 c = _mm512_add_ps(m[3], m[4]), d = _mm512_sub_ps(m[3], m[4]);
    y[0] = _mm512_add_ps(_mm512_add_ps(m[0], a), c);
    y[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d, b);
    y[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), c, a);
    y[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), d, b), m[5]);
}

/* Where a call's tiles are and which input they read. */
typedef struct {
    const gl_conv2d_params *p;
    size_t tiles_x;
    ptrdiff_t rows, cols; /* input rows/columns some output reads: [0, rows) × [0, cols) */
} tiling;

/* V[t][i][ci] (t planes vstride floats apart, tiles in_c apart) for the tiles g0 .. g0 + nt - 1. */
GL_AVX512 static void input_transform(const tiling *tl, const float *input, size_t g0, size_t nt, float *v,
                                      size_t vstride) {
    const gl_conv2d_params *p = tl->p;
    const size_t C = p->in_c, in_w = p->in_w;
    for (size_t i = 0; i < nt; i++) {
        const size_t ty = (g0 + i) / tl->tiles_x, tx = (g0 + i) % tl->tiles_x;
        const ptrdiff_t iy0 = (ptrdiff_t)(4 * ty) - (ptrdiff_t)p->pad_top;
        const ptrdiff_t ix0 = (ptrdiff_t)(4 * tx) - (ptrdiff_t)p->pad_left;
        const float *src[NPOS];
        for (size_t r = 0; r < ALPHA; r++)
            for (size_t c = 0; c < ALPHA; c++) {
                const ptrdiff_t iy = iy0 + (ptrdiff_t)r, ix = ix0 + (ptrdiff_t)c;
                src[r * ALPHA + c] = iy >= 0 && iy < tl->rows && ix >= 0 && ix < tl->cols
                    ? input + ((size_t)iy * in_w + (size_t)ix) * C : zeros;
            }
        float *dst = v + i * C;
        for (size_t c0 = 0; c0 < C; c0 += 16) {
            const __mmask16 m = C - c0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c0)) - 1u);
            __m512 db[ALPHA][ALPHA]; /* d B, by rows */
            GL_UNROLL for (size_t r = 0; r < ALPHA; r++) {
                __m512 d[ALPHA];
                GL_UNROLL for (size_t c = 0; c < ALPHA; c++) d[c] = _mm512_maskz_loadu_ps(m, src[r * ALPHA + c] + c0);
                input_1d(d, db[r]);
            }
            GL_UNROLL for (size_t c = 0; c < ALPHA; c++) {
                __m512 col[ALPHA], out[ALPHA];
                GL_UNROLL for (size_t r = 0; r < ALPHA; r++) col[r] = db[r][c];
                input_1d(col, out);
                GL_UNROLL for (size_t k = 0; k < ALPHA; k++)
                    _mm512_mask_storeu_ps(dst + (k * ALPHA + c) * vstride + c0, m, out[k]);
            }
        }
    }
}

/*
 * The output transform of the tiles g0 .. g0 + nt - 1 for the panel of `width` output channels from
 * n (M[t][i][j]: t planes mstride floats apart, tiles width apart), + the panel's bias, then the
 * epilogue (gl_avx512_store_block, one output row of a tile at a time, ACT as GL_TILE_ACTIVATION
 * chose); only rows [row_begin, row_end) and columns < out_w are stored.
 */
GL_AVX512_INLINE void output_transform(const int ACT, const tiling *tl, const float *m, size_t mstride, size_t g0,
                                       size_t nt, size_t n, size_t width, const float *bias,
                                       const float *residual, float *output, size_t row_begin, size_t row_end,
                                       const gl_avx512_epilogue *ep) {
    const gl_conv2d_params *p = tl->p;
    const size_t nc = p->out_c, out_w = p->out_w;
    for (size_t i = 0; i < nt; i++) {
        const size_t ty = (g0 + i) / tl->tiles_x, tx = (g0 + i) % tl->tiles_x;
        const size_t y0 = 4 * ty, x0 = 4 * tx;
        const size_t r0 = row_begin > y0 ? row_begin - y0 : 0;
        const size_t r1 = row_end - y0 < 4 ? row_end - y0 : 4; /* y0 < row_end <= out_h */
        const size_t cols = out_w - x0 < 4 ? out_w - x0 : 4;
        for (size_t v = 0; v < width / 16 && n + 16 * v < nc; v++) {
            const size_t ch = n + 16 * v, real = nc - ch < 16 ? nc - ch : 16;
            const __mmask16 last = (__mmask16)((1u << real) - 1u);
            const float *mi = m + i * width + 16 * v;
            __m512 s[4][ALPHA]; /* Aᵀ M */
            GL_UNROLL for (size_t c = 0; c < ALPHA; c++) {
                __m512 col[ALPHA], y[4];
                GL_UNROLL for (size_t k = 0; k < ALPHA; k++) col[k] = _mm512_loadu_ps(mi + (k * ALPHA + c) * mstride);
                output_1d(col, y);
                GL_UNROLL for (size_t k = 0; k < 4; k++) s[k][c] = y[k];
            }
            const __m512 b = _mm512_loadu_ps(bias + 16 * v);
            for (size_t r = r0; r < r1; r++) {
                __m512 y[4], acc[4][2];
                output_1d(s[r], y);
                GL_UNROLL for (size_t c = 0; c < 4; c++) acc[c][0] = _mm512_add_ps(y[c], b);
                const size_t o = ((y0 + r) * out_w + x0) * nc + ch;
                const float *res = residual != NULL ? residual + o : NULL;
                switch (cols) {
                case 4: gl_avx512_store_block(ACT, 4, 1, acc, output + o, nc, res, ep, last); break;
                case 3: gl_avx512_store_block(ACT, 3, 1, acc, output + o, nc, res, ep, last); break;
                case 2: gl_avx512_store_block(ACT, 2, 1, acc, output + o, nc, res, ep, last); break;
                default: gl_avx512_store_block(ACT, 1, 1, acc, output + o, nc, res, ep, last); break;
                }
            }
        }
    }
}

typedef void (*output_fn)(const tiling *tl, const float *m, size_t mstride, size_t g0, size_t nt, size_t n,
                          size_t width, const float *bias, const float *residual, float *output, size_t row_begin,
                          size_t row_end, const gl_avx512_epilogue *ep);

#define OUTPUT_TRANSFORM(name, act)                                                                           \
    GL_AVX512 static void name(const tiling *tl, const float *m, size_t mstride, size_t g0, size_t nt, size_t n, \
                               size_t width, const float *bias, const float *residual, float *output,          \
                               size_t row_begin, size_t row_end, const gl_avx512_epilogue *ep) {              \
        output_transform(act, tl, m, mstride, g0, nt, n, width, bias, residual, output, row_begin, row_end, ep); \
    }
OUTPUT_TRANSFORM(output_transform_clamp, GL_ACTIVATION_IDENTITY)
OUTPUT_TRANSFORM(output_transform_activation, GL_ACTIVATION_HARDSWISH)

/* ---- the GEMMs ---- */

/* MRT tiles (rows of a, kc apart) × one panel of NV vectors (w: [kc][16 NV]) into c (rows ldc apart). */
GL_AVX512_INLINE void gemm_tile(const size_t MRT, const size_t NV, size_t kc, const float *a, const float *w,
                                float *c, size_t ldc) {
    __m512 acc[MR][2];
    GL_UNROLL for (size_t i = 0; i < MRT; i++)
        GL_UNROLL for (size_t v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    for (size_t k = 0; k < kc; k++) {
        __m512 wv[2];
        GL_UNROLL for (size_t v = 0; v < NV; v++) wv[v] = _mm512_loadu_ps(w + 16 * v);
        w += 16 * NV;
        GL_UNROLL for (size_t i = 0; i < MRT; i++) {
            const __m512 ai = _mm512_set1_ps(a[i * kc + k]);
            GL_UNROLL for (size_t v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(ai, wv[v], acc[i][v]);
        }
    }
    GL_UNROLL for (size_t i = 0; i < MRT; i++)
        GL_UNROLL for (size_t v = 0; v < NV; v++) _mm512_storeu_ps(c + i * ldc + 16 * v, acc[i][v]);
}

typedef void (*gemm_fn)(size_t kc, const float *a, const float *w, size_t width, float *c);

#define GEMM_TILE(mrt)                                                                                       \
    GL_AVX512 static void gemm_##mrt(size_t kc, const float *a, const float *w, size_t width, float *c) {    \
        if (width == 32) gemm_tile(mrt, 2, kc, a, w, c, 32);                                                  \
        else gemm_tile(mrt, 1, kc, a, w, c, 16);                                                              \
    }
GEMM_TILE(1) GEMM_TILE(2) GEMM_TILE(3) GEMM_TILE(4) GEMM_TILE(5) GEMM_TILE(6)
GEMM_TILE(7) GEMM_TILE(8) GEMM_TILE(9) GEMM_TILE(10) GEMM_TILE(11) GEMM_TILE(12)

static const gemm_fn gemm_tiles[MR + 1] = {
    NULL, gemm_1, gemm_2, gemm_3, gemm_4, gemm_5, gemm_6,
    gemm_7, gemm_8, gemm_9, gemm_10, gemm_11, gemm_12,
};

GL_AVX512 void gl_f32_conv2d_3x3s1_winograd4x4__avx512(const gl_conv2d_params *p, const float *input,
                                                       const float *packed, const float *residual,
                                                       float *output, size_t row_begin, size_t row_end) {
    assert(gl_f32_conv2d_winograd4x4_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    if (row_begin >= row_end) return;

    const size_t C = p->in_c, nc = p->out_c;
    /* the last input row an output reads is (out_h - 1) - pad_top + 2; columns alike */
    const ptrdiff_t rows = (ptrdiff_t)p->out_h + 2 - (ptrdiff_t)p->pad_top;
    const ptrdiff_t cols = (ptrdiff_t)p->out_w + 2 - (ptrdiff_t)p->pad_left;
    const tiling tl = {p, (p->out_w + 3) / 4, rows < (ptrdiff_t)p->in_h ? rows : (ptrdiff_t)p->in_h,
                       cols < (ptrdiff_t)p->in_w ? cols : (ptrdiff_t)p->in_w};

    const size_t g_begin = row_begin / 4 * tl.tiles_x, g_end = (row_end + 3) / 4 * tl.tiles_x;
    size_t band = band_tiles(C);
    if (band > g_end - g_begin) band = g_end - g_begin;
    /* t planes a cache line past a multiple of 64 bytes, so that a tile's 36 loads or stores do not
     * all fall in one L1 set */
    const size_t vstride = band * C + 16, mstride = band * 32 + 16;
    float *const v = thread_scratch(NPOS * (vstride + mstride));
    float *const m = v + NPOS * vstride;

    const gl_epilogue e = gl_epilogue_of(p);
    const gl_avx512_epilogue ep = gl_avx512_epilogue_of(&e);
    const output_fn output_tiles = GL_TILE_ACTIVATION(p->activation) == GL_ACTIVATION_IDENTITY
        ? output_transform_clamp : output_transform_activation;
    for (size_t g0 = g_begin; g0 < g_end; g0 += band) {
        const size_t nt = g_end - g0 < band ? g_end - g0 : band;
        input_transform(&tl, input, g0, nt, v, vstride);
        /* blocks of tiles: as few as MR allows, their sizes within one of each other */
        const size_t nblocks = (nt + MR - 1) / MR, base = nt / nblocks, bigger = nt % nblocks;
        const float *panel = packed;
        for (size_t n = 0; n < nc;) {
            const size_t width = gl_avx512_width_x32(nc, n);
            for (size_t t = 0; t < NPOS; t++) {
                const float *w = panel + width + t * C * width;
                for (size_t b = 0, i = 0; b < nblocks; b++) {
                    const size_t mr = base + (b < bigger);
                    gemm_tiles[mr](C, v + t * vstride + i * C, w, width, m + t * mstride + i * width);
                    i += mr;
                }
            }
            output_tiles(&tl, m, mstride, g0, nt, n, width, panel, residual, output, row_begin, row_end, &ep);
            panel += panel_floats(C, width);
            n += width;
        }
    }
}

#endif
