/* test_kernels.c — checks every registered kernel of every supported variant against naive definitions (portable C11, no framework). */
// Build and run from the repository root:
//   cc -O2 -std=c11 -ICKernels/include CKernels/src/*.c CKernels/src/*/*.c
//      CKernels/tests/test_kernels.c -lm -o /tmp/test_kernels && /tmp/test_kernels [seed] [-v]
// The last line is "N passed, M failed"; the exit status is non-zero on any failure.
/*
 * Every conv case is run through every kernel of every supported variant whose
 * `supports` accepts it, and compared with a direct-definition reference that
 * works from OIHW weights in double precision, independent of any packing.
 * Each (case, kernel) check also covers: packing fills every packed float;
 * no write outside the output, no read outside the inputs (guard zones of
 * NaN poison); run leaves input and packed weights untouched; rows split over
 * several calls give bit-identical results; untouched rows stay untouched;
 * residual == output (in-place residual add) gives bit-identical results.
 * Every kernel also runs each case with every activation of the epilogue
 * (clamp(activation(conv + bias + residual))). The elementwise entries
 * (activation, channel_scale) are checked on every length 0..67 from misaligned
 * pointers, and the sigmoid's and SiLU's error bounds (src/activation.h) on a
 * dense sweep; that header's constants are the bounds checked, so it is
 * included from the source tree (with internal.h's test hook, gl_kernels_vexp).
 */
#include "ckernels.h"
#include "../src/activation.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* bookkeeping                                                               */

static unsigned long n_passed, n_failed;
static int verbose;
static unsigned long fail_messages; /* printed so far, to keep a bad run readable */

static void report(int ok, const char *fmt, ...) {
    if (ok) {
        n_passed++;
        return;
    }
    n_failed++;
    if (fail_messages++ < 200) {
        va_list ap;
        va_start(ap, fmt);
        fputs("FAIL: ", stdout);
        vprintf(fmt, ap);
        fputc('\n', stdout);
        va_end(ap);
    }
}

/* Detail lines for a failing check, also capped. */
static void detail(const char *fmt, ...) {
    if (fail_messages > 200) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("    ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* deterministic random numbers (splitmix64)                                 */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi], inclusive. */
static size_t rng_range(size_t lo, size_t hi) { return lo + (size_t)(rng_next() % (hi - lo + 1)); }

/* Uniform in [-1, 1). */
static float rng_float(void) { return (float)((double)(rng_next() >> 40) / (double)(1u << 23) - 1.0); }

static size_t rng_pick(const size_t *list, size_t count) { return list[rng_next() % count]; }

/* ------------------------------------------------------------------------ */
/* guarded buffers                                                            */

/*
 * Every buffer has GUARD floats of poison on each side: a quiet NaN with a
 * recognisable payload. Poison next to an input turns an out-of-bounds read
 * into NaN in the output (a mismatch); poison next to an output is compared
 * bit for bit afterwards, so an out-of-bounds write is caught too.
 */
#define GUARD 67
#define POISON_BITS 0x7fc0dead

typedef struct {
    float *mem;
    float *p; /* the n usable floats */
    size_t n;
} gbuf;

static float poison(void) {
    uint32_t bits = POISON_BITS;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static int is_poison(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits == POISON_BITS;
}

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

static gbuf gb_new(size_t n) {
    gbuf b;
    b.n = n;
    b.mem = malloc((n + 2 * GUARD) * sizeof(float));
    if (b.mem == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    b.p = b.mem + GUARD;
    for (size_t i = 0; i < n + 2 * GUARD; i++) b.mem[i] = poison();
    return b;
}

static void gb_free(gbuf *b) {
    free(b->mem);
    b->mem = b->p = NULL;
}

static void gb_random(gbuf *b) {
    for (size_t i = 0; i < b->n; i++) b->p[i] = rng_float();
}

static int gb_guards_ok(const gbuf *b) {
    for (size_t i = 0; i < GUARD; i++)
        if (!is_poison(b->mem[i]) || !is_poison(b->p[b->n + i])) return 0;
    return 1;
}

static int gb_same(const gbuf *a, const gbuf *b) {
    return a->n == b->n && memcmp(a->p, b->p, a->n * sizeof(float)) == 0;
}

static gbuf gb_copy(const gbuf *a) {
    gbuf b = gb_new(a->n);
    memcpy(b.p, a->p, a->n * sizeof(float));
    return b;
}

/* ------------------------------------------------------------------------ */
/* tolerance                                                                  */

/*
 * Kernels may add in any order (register blocks, SIMD lanes, FMA). For any
 * order, a float sum of n terms (products included) obeys
 *     |computed - exact| <= gamma(n) * sum_i |term_i|,  gamma(n) = n u / (1 - n u),
 * u = 2^-24 (Higham, "Accuracy and Stability of Numerical Algorithms", 3.1;
 * an FMA only removes roundings). The reference is exact to ~1e-16 (double),
 * the clamp cannot widen a difference, and a division (average pooling) adds
 * one rounding; so a result is accepted when
 *     |got - ref| <= gamma(n + 2) * magnitude,   magnitude = sum_i |term_i|.
 * Being a bound rather than an estimate, it cannot flake for any summation
 * order a future SIMD kernel picks. It still catches real bugs: with data in
 * [-1, 1] a wrong, missing or doubled term is of order 0.1..1, while for the
 * largest sums here (n ~ 900) the bound is ~5e-5 of the magnitude.
 */
static double tolerance(size_t n_terms, double magnitude) {
    const double u = 0x1p-24;
    const double nu = (double)(n_terms + 2) * u;
    return nu / (1.0 - nu) * magnitude + 1e-30;
}

static int close_enough(float got, double ref, size_t n_terms, double magnitude) {
    if (isnan(ref)) return isnan(got);
    if (isinf(ref)) return got == (float)ref;
    if (isnan(got)) return 0;
    return fabs((double)got - ref) <= tolerance(n_terms, magnitude);
}

/* ------------------------------------------------------------------------ */
/* activations: the definitions in double, and what a float result may miss them by */

static double clamp01(double t) { return t < 0.0 ? 0.0 : t > 1.0 ? 1.0 : t; } /* NaN stays NaN */

/* The activation's definition (ckernels.h); silu(-inf) is its limit, -0. */
static double act_ref(int kind, double a, double b, double x) {
    switch (kind) {
    case GL_ACTIVATION_HARDSWISH: return x * clamp01(a * x + b);
    case GL_ACTIVATION_HARDSIGMOID: return clamp01(a * x + b);
    case GL_ACTIVATION_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case GL_ACTIVATION_SILU: return x == -INFINITY ? -0.0 : x / (1.0 + exp(-x));
    default: return x;
    }
}

/*
 * How far a kernel's act(v) may be from act(s) when its float input v is within c of the
 * exact s: the activation's Lipschitz constant times c (hardswish: max(1, |b|, |2 - b|);
 * hardsigmoid: |a|; sigmoid 1/4; SiLU 1.1), plus its own error: for the hard ones, two roundings of
 * a·v + b (one with FMA) and one of the product, at least half a denormal's spacing (2^-150)
 * each; for sigmoid and SiLU the bounds activation.h states (GL_SIGMOID_MAX_*, GL_SILU_MAX_*).
 * The clamp after it cannot widen the difference.
 */
static double act_tolerance(int kind, double a, double b, double s, double c) {
    const double u = 0x1p-24, v = fabs(s) + c, tiny = 0x1p-148;
    switch (kind) {
    case GL_ACTIVATION_HARDSWISH: {
        const double lip = fmax(1.0, fmax(fabs(b), fabs(2.0 - b)));
        return lip * c + v * (2.0 * u * (fabs(a) * v + fabs(b)) + u) + tiny;
    }
    case GL_ACTIVATION_HARDSIGMOID: return fabs(a) * c + 2.0 * u * (fabs(a) * v + fabs(b)) + tiny;
    case GL_ACTIVATION_SIGMOID:
        return 0.25 * c + GL_SIGMOID_MAX_REL_ERROR * (fabs(act_ref(kind, a, b, s)) + 0.25 * c) +
               GL_SIGMOID_MAX_ABS_ERROR;
    case GL_ACTIVATION_SILU:
        return 1.1 * c + GL_SILU_MAX_REL_ERROR * (fabs(act_ref(kind, a, b, s)) + 1.1 * c) + GL_SILU_MAX_ABS_ERROR;
    default: return c;
    }
}

static int close_within(float got, double ref, double tol) {
    if (isnan(ref)) return isnan(got);
    if (isinf(ref)) return got == (float)ref;
    if (isnan(got)) return isinf(tol); /* an infinite tolerance: see winograd_magnitude */
    return fabs((double)got - ref) <= tol;
}

static const char *const activation_names[GL_ACTIVATION_COUNT] = {"identity", "hardswish", "hardsigmoid",
                                                                  "sigmoid", "silu"};

/* kind with ONNX's default slope and offset (HardSwish 1/6, 1/2; HardSigmoid 0.2, 0.5), or with
 * random ones when `random_ab`. */
static void set_activation(gl_conv2d_params *p, int kind, int random_ab) {
    p->activation = kind;
    p->activation_alpha = kind == GL_ACTIVATION_HARDSWISH ? 1.0f / 6.0f : kind == GL_ACTIVATION_HARDSIGMOID ? 0.2f : 0.0f;
    p->activation_beta = kind == GL_ACTIVATION_HARDSWISH || kind == GL_ACTIVATION_HARDSIGMOID ? 0.5f : 0.0f;
    if (random_ab && (kind == GL_ACTIVATION_HARDSWISH || kind == GL_ACTIVATION_HARDSIGMOID)) {
        p->activation_alpha = 0.05f + 0.95f * (rng_float() + 1.0f) / 2.0f;
        p->activation_beta = rng_float();
    }
}

/* ------------------------------------------------------------------------ */
/* convolution reference                                                      */

typedef struct {
    gl_conv2d_params p;
    int bias;     /* with a bias vector */
    int residual; /* with a residual input */
    int nan_input; /* a few inputs NaN: the outputs they reach must be NaN, clamp or not */
    const char *family;
} conv_case;

static size_t out_size(const gl_conv2d_params *p) { return p->out_h * p->out_w * p->out_c; }
static size_t in_size(const gl_conv2d_params *p) { return p->in_h * p->in_w * p->in_c; }
static size_t weight_size(const gl_conv2d_params *p) {
    return p->out_c * (p->in_c / p->groups) * p->kernel_h * p->kernel_w;
}

static double clamp_d(double v, float lo, float hi) {
    if (v < (double)lo) v = (double)lo;
    if (v > (double)hi) v = (double)hi;
    return v;
}

/* The definition: out[y][x][oc] = clamp(act(s)), s = bias[oc] + residual[y][x][oc] +
 *   sum over ci in oc's group, ky, kx of in[y*sh - pt + ky*dh][x*sw - pl + kx*dw][ci] * W[oc][ci][ky][kx],
 * positions outside the image reading zero. Returns each output's s (`pre`, before the
 * activation and the clamp, so that one reference serves every epilogue: see expected) and
 * magnitude. */
static void conv_reference(const gl_conv2d_params *p, const float *in, const float *w,
                           const float *bias, const float *res, double *pre, double *mag) {
    const size_t cig = p->in_c / p->groups, ocg = p->out_c / p->groups;
    for (size_t oy = 0; oy < p->out_h; oy++)
        for (size_t ox = 0; ox < p->out_w; ox++)
            for (size_t oc = 0; oc < p->out_c; oc++) {
                const size_t g = oc / ocg;
                double s = 0.0, m = 0.0;
                for (size_t ci = 0; ci < cig; ci++)
                    for (size_t ky = 0; ky < p->kernel_h; ky++)
                        for (size_t kx = 0; kx < p->kernel_w; kx++) {
                            const long long iy = (long long)(oy * p->stride_h + ky * p->dilation_h) - (long long)p->pad_top;
                            const long long ix = (long long)(ox * p->stride_w + kx * p->dilation_w) - (long long)p->pad_left;
                            if (iy < 0 || ix < 0 || iy >= (long long)p->in_h || ix >= (long long)p->in_w) continue;
                            const double x = in[((size_t)iy * p->in_w + (size_t)ix) * p->in_c + g * cig + ci];
                            const double wv = w[((oc * cig + ci) * p->kernel_h + ky) * p->kernel_w + kx];
                            s += x * wv;
                            m += fabs(x * wv);
                        }
                const size_t o = (oy * p->out_w + ox) * p->out_c + oc;
                if (bias) { s += bias[oc]; m += fabs(bias[oc]); }
                if (res) { s += res[o]; m += fabs(res[o]); }
                pre[o] = s;
                mag[o] = m;
            }
}

/* The output p's epilogue makes of the sum s (magnitude mag, n_terms terms), and its tolerance. */
static void expected(const gl_conv2d_params *p, double s, double mag, size_t n_terms, double *ref, double *tol) {
    const double a = p->activation_alpha, b = p->activation_beta;
    *ref = clamp_d(act_ref(p->activation, a, b, s), p->output_min, p->output_max);
    *tol = act_tolerance(p->activation, a, b, s, tolerance(n_terms, mag));
}

/* Which family gl_conv2d_select must pick (a substring of the kernel name). */
static const char *expected_family(const gl_conv2d_params *p) {
    if (p->input_chw) return "conv2d_chw";
    if (p->groups == 1 && p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 &&
        p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 && p->in_h == p->out_h &&
        p->in_w == p->out_w)
        return "conv1x1";
    if (p->groups == p->in_c && p->out_c == p->in_c) {
        if (p->kernel_h == 3 && p->kernel_w == 3) return "dwconv_3x3";
        if (p->kernel_h == 5 && p->kernel_w == 5) return "dwconv_5x5";
        return "dwconv";
    }
    return "conv2d";
}

static void describe(const conv_case *cc) {
    const gl_conv2d_params *p = &cc->p;
    detail("%s: in %zux%zux%zu out %zux%zux%zu k %zux%zu s %zux%zu d %zux%zu pad t%zu l%zu "
           "groups %zu bias %d residual %d nan %d %s(%g, %g) clamp [%g, %g]",
           cc->family, p->in_h, p->in_w, p->in_c, p->out_h, p->out_w, p->out_c, p->kernel_h,
           p->kernel_w, p->stride_h, p->stride_w, p->dilation_h, p->dilation_w, p->pad_top,
           p->pad_left, p->groups, cc->bias, cc->residual, cc->nan_input,
           p->activation >= 0 && p->activation < GL_ACTIVATION_COUNT ? activation_names[p->activation] : "?",
           (double)p->activation_alpha, (double)p->activation_beta, (double)p->output_min,
           (double)p->output_max);
}

/*
 * Winograd F(4x4, 3x3) kernels ("winograd4x4" in the name: 3x3, stride 1) round more than a direct
 * sum, and differently: an output is y = Σ_t A₂(y, t) Σ_ci U_t,ci V_t,ci over the 36 positions t
 * of its tile's transforms, U = G g Gᵀ (the filter, transformed once at load), V = Bᵀ d B (the
 * tile's 6x6 input window d), A₂ = Aᵀ ⊗ Aᵀ. Their error is bounded by the same argument as
 * `tolerance` above, applied to the sums this algorithm forms instead of the direct ones: with
 *   W_t,ci = (|Bᵀ| |d_ci| |B|)_t   (|V| and what the input transform adds up),
 *   E_y = Σ_t |A₂(y, t)| Σ_ci |U_t,ci| W_t,ci,
 * U rounded once to float (u |U|), each V through at most 4 roundings (two 1-D transforms of
 * two each: γ(4) W), the GEMM's sum over in_c terms (γ(in_c) Σ |U| |V|), the output transform's
 * at most 6 roundings and the bias and residual adds 2 more, to first order
 *   |got - exact| <= (in_c + 13) u E_y + 8 u (|bias| + |residual|) <= γ(in_c + 16) (E_y + |bias| + |residual|).
 * So a Winograd kernel is checked with n_terms = in_c + 14 (kernel_terms; `tolerance` adds 2)
 * and this magnitude in place of Σ |terms|. On data in [-1, 1], E_y is about 100-140 times
 * Σ |w·x| (|Aᵀ|, |G| and |Bᵀ| have rows summing to 10, 2.5 and 10), so the bound is about 16
 * times the direct kernels' for in_c = 64 (fewer terms, each larger); a dropped, doubled or
 * misplaced product still exceeds it (|w·x| ~ 0.25 against ~0.01-0.1).
 * The kernel's tiles are at absolute multiples of 4 in the output, their windows start at
 * (4ty - pad_top, 4tx - pad_left), and read zeros outside the image and past the last row and
 * column any output reads (out_h + 1 - pad_top, out_w + 1 - pad_left): W is taken over that
 * same window. A NaN in a tile's window reaches all 16 of its outputs through the transforms:
 * their magnitude is infinite (any result, NaN included, passes; an output whose own 3x3
 * window holds the NaN must still be NaN, as its reference is).
 */
static int is_winograd(const gl_conv2d_kernel *k) { return strstr(k->name, "winograd4x4") != NULL; }

/* The n_terms of k's tolerance on p. */
static size_t kernel_terms(const gl_conv2d_kernel *k, const gl_conv2d_params *p) {
    if (is_winograd(k)) return p->in_c + 14;
    return (p->in_c / p->groups) * p->kernel_h * p->kernel_w + 2;
}

static void winograd_magnitude(const gl_conv2d_params *p, const float *in, const float *w, const float *bias,
                               const float *res, double *mag) {
    static const double bt[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                    {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
    static const double g[6][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                   {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
    static const double at[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
    const size_t C = p->in_c, OC = p->out_c;
    const long long rows = (long long)fmin((double)p->in_h, (double)p->out_h + 2.0 - (double)p->pad_top);
    const long long cols = (long long)fmin((double)p->in_w, (double)p->out_w + 2.0 - (double)p->pad_left);
    double *u = malloc(OC * C * 36 * sizeof(double)), *wt = malloc(C * 36 * sizeof(double));
    if (!u || !wt) exit(2);
    for (size_t oc = 0; oc < OC; oc++) /* |U| = |G g Gᵀ| */
        for (size_t ci = 0; ci < C; ci++)
            for (size_t k = 0; k < 6; k++)
                for (size_t l = 0; l < 6; l++) {
                    double s = 0.0;
                    for (size_t a = 0; a < 3; a++)
                        for (size_t b = 0; b < 3; b++) s += g[k][a] * w[((oc * C + ci) * 3 + a) * 3 + b] * g[l][b];
                    u[(oc * C + ci) * 36 + k * 6 + l] = fabs(s);
                }
    for (size_t ty = 0; ty * 4 < p->out_h; ty++)
        for (size_t tx = 0; tx * 4 < p->out_w; tx++) {
            int nan = 0;
            for (size_t ci = 0; ci < C; ci++) { /* W = |Bᵀ| |d| |B| */
                double d[6][6];
                for (size_t r = 0; r < 6; r++)
                    for (size_t c = 0; c < 6; c++) {
                        const long long iy = (long long)(4 * ty + r) - (long long)p->pad_top;
                        const long long ix = (long long)(4 * tx + c) - (long long)p->pad_left;
                        d[r][c] = iy >= 0 && ix >= 0 && iy < rows && ix < cols
                            ? fabs((double)in[((size_t)iy * p->in_w + (size_t)ix) * C + ci]) : 0.0;
                        if (isnan(d[r][c])) nan = 1, d[r][c] = 0.0;
                    }
                for (size_t k = 0; k < 6; k++)
                    for (size_t l = 0; l < 6; l++) {
                        double s = 0.0;
                        for (size_t r = 0; r < 6; r++)
                            for (size_t c = 0; c < 6; c++) s += fabs(bt[k][r]) * d[r][c] * fabs(bt[l][c]);
                        wt[ci * 36 + k * 6 + l] = s;
                    }
            }
            for (size_t oc = 0; oc < OC; oc++) {
                double pt[36] = {0};
                for (size_t ci = 0; ci < C; ci++)
                    for (size_t t = 0; t < 36; t++) pt[t] += u[(oc * C + ci) * 36 + t] * wt[ci * 36 + t];
                for (size_t y = 0; y < 4 && ty * 4 + y < p->out_h; y++)
                    for (size_t x = 0; x < 4 && tx * 4 + x < p->out_w; x++) {
                        const size_t o = ((ty * 4 + y) * p->out_w + tx * 4 + x) * OC + oc;
                        double e = 0.0;
                        for (size_t k = 0; k < 6; k++)
                            for (size_t l = 0; l < 6; l++) e += fabs(at[y][k]) * pt[k * 6 + l] * fabs(at[x][l]);
                        if (bias) e += fabs(bias[oc]);
                        if (res) e += fabs(res[o]);
                        mag[o] = nan ? INFINITY : e;
                    }
            }
        }
    free(u);
    free(wt);
}

/* Per (variant, kernel) count of cases run, so that a kernel never reached is a failure. */
#define MAX_VARIANTS 8
#define MAX_KERNELS 64
static unsigned long exercised[MAX_VARIANTS][MAX_KERNELS];

/* All checks of one kernel on one case; returns 1 if all pass. */
static int check_kernel(const gl_conv2d_kernel *k, const conv_case *cc, const gbuf *in,
                        const gbuf *w, const gbuf *bias, const gbuf *res,
                        const double *pre, const double *mag) {
    const gl_conv2d_params *p = &cc->p;
    const size_t n_terms = kernel_terms(k, p);
    const size_t row = p->out_w * p->out_c;
    const float *resp = cc->residual ? res->p : NULL;
    int ok = 1;

    /* pack */
    gbuf packed = gb_new(k->packed_size(p));
    k->pack(p, w->p, cc->bias ? bias->p : NULL, packed.p);
    if (!gb_guards_ok(&packed)) {
        detail("pack wrote outside packed_size");
        ok = 0;
    }
    for (size_t i = 0; i < packed.n; i++)
        if (isnan(packed.p[i])) {
            detail("pack left packed[%zu] of %zu unwritten", i, packed.n);
            ok = 0;
            break;
        }
    gbuf packed_copy = gb_copy(&packed), in_copy = gb_copy(in);

    /* one call for all rows, against the reference */
    gbuf outa = gb_new(out_size(p));
    k->run(p, in->p, packed.p, resp, outa.p, 0, p->out_h);
    if (!gb_guards_ok(&outa)) {
        detail("run wrote outside the output");
        ok = 0;
    }
    size_t bad = 0;
    for (size_t i = 0; i < outa.n; i++) {
        double ref, tol;
        expected(p, pre[i], mag[i], n_terms, &ref, &tol);
        if (close_within(outa.p[i], ref, tol)) continue;
        if (bad++ < 3)
            detail("out[y=%zu][x=%zu][c=%zu] = %.9g, reference %.9g (tolerance %.3g)",
                   i / row, (i % row) / p->out_c, i % p->out_c, (double)outa.p[i], ref, tol);
    }
    if (bad) {
        detail("%zu of %zu outputs differ from the reference", bad, outa.n);
        ok = 0;
    }

    /* a prefetch window (gl_prefetch_next: here the packed weights themselves) changes nothing */
    gbuf outp = gb_new(out_size(p));
    gl_prefetch_next(packed.p, packed.n * sizeof(float));
    k->run(p, in->p, packed.p, resp, outp.p, 0, p->out_h);
    gl_prefetch_next(NULL, 0);
    if (!gb_same(&outa, &outp) || !gb_guards_ok(&outp)) {
        detail("with a prefetch window the result differs");
        ok = 0;
    }
    gb_free(&outp);

    /* rows [s1, s2) alone touch only those rows; then the rest completes the same result */
    const size_t s1 = rng_range(0, p->out_h), s2 = rng_range(s1, p->out_h);
    gbuf outb = gb_new(out_size(p));
    k->run(p, in->p, packed.p, resp, outb.p, s1, s2);
    for (size_t i = 0; i < outb.n; i++) {
        const size_t y = i / row;
        const int inside = y >= s1 && y < s2;
        if (inside ? !same_bits(outb.p[i], outa.p[i]) : !is_poison(outb.p[i])) {
            detail("rows [%zu, %zu): element of row %zu %s", s1, s2, y,
                   inside ? "differs from the one-call result" : "was written");
            ok = 0;
            break;
        }
    }
    k->run(p, in->p, packed.p, resp, outb.p, 0, s1);
    k->run(p, in->p, packed.p, resp, outb.p, s2, p->out_h);
    k->run(p, in->p, packed.p, resp, outb.p, s2, s2); /* empty: nothing */
    if (!gb_same(&outa, &outb) || !gb_guards_ok(&outb)) {
        detail("rows split at %zu and %zu differ from one call", s1, s2);
        ok = 0;
    }

    /* residual added in place: output == residual */
    if (cc->residual) {
        gbuf outc = gb_copy(res);
        k->run(p, in->p, packed.p, outc.p, outc.p, 0, p->out_h);
        if (!gb_same(&outa, &outc) || !gb_guards_ok(&outc)) {
            detail("residual == output (in place) differs from separate buffers");
            ok = 0;
        }
        gb_free(&outc);
    }

    if (!gb_same(&packed, &packed_copy) || !gb_same(in, &in_copy) || !gb_guards_ok(in)) {
        detail("run modified its input or packed weights");
        ok = 0;
    }
    gb_free(&outa);
    gb_free(&outb);
    gb_free(&packed);
    gb_free(&packed_copy);
    gb_free(&in_copy);
    return ok;
}

/* Per (variant, kernel) count of cases run with every activation (check_activations). */
static unsigned long exercised_all_activations[MAX_VARIANTS][MAX_KERNELS];

/*
 * k on cc's shape and data once per activation kind (slopes random for the hard ones), the
 * clamp and residual as cc has them: every output against the reference, nothing written
 * outside the output. The rest of check_kernel (row splits, in-place residual, ...) does not
 * depend on the activation and runs with cc's own.
 */
static int check_activations(const gl_conv2d_kernel *k, const conv_case *cc, const gbuf *in, const gbuf *w,
                             const gbuf *bias, const gbuf *res, const double *pre, const double *mag) {
    const size_t n_terms = kernel_terms(k, &cc->p);
    gbuf packed = gb_new(k->packed_size(&cc->p)), out = gb_new(out_size(&cc->p));
    k->pack(&cc->p, w->p, cc->bias ? bias->p : NULL, packed.p);
    int ok = 1;
    for (int kind = 0; kind < GL_ACTIVATION_COUNT; kind++) {
        gl_conv2d_params p = cc->p;
        set_activation(&p, kind, 1);
        k->run(&p, in->p, packed.p, cc->residual ? res->p : NULL, out.p, 0, p.out_h);
        size_t bad = 0;
        for (size_t i = 0; i < out.n; i++) {
            double ref, tol;
            expected(&p, pre[i], mag[i], n_terms, &ref, &tol);
            if (!close_within(out.p[i], ref, tol) && bad++ < 3)
                detail("%s(%g, %g): out[%zu] = %.9g, reference %.9g (tolerance %.3g)", activation_names[kind],
                       (double)p.activation_alpha, (double)p.activation_beta, i, (double)out.p[i], ref, tol);
        }
        if (bad || !gb_guards_ok(&out)) {
            detail("%s: %zu of %zu outputs differ from the reference%s", activation_names[kind], bad, out.n,
                   gb_guards_ok(&out) ? "" : "; wrote outside the output");
            ok = 0;
        }
    }
    gb_free(&packed);
    gb_free(&out);
    return ok;
}

/* Every ALL_ACTIVATIONS_EVERY-th case also runs each kernel with every activation. */
#define ALL_ACTIVATIONS_EVERY 2 /* every case: 1.5x the driver's time; every other: 1.2x */
static unsigned long conv_cases_seen;

static void check_conv_case(const conv_case *cc) {
    const int all_activations = conv_cases_seen++ % ALL_ACTIVATIONS_EVERY == 0;
    const gl_conv2d_params *p = &cc->p;
    gbuf in = gb_new(in_size(p)), w = gb_new(weight_size(p));
    gbuf bias = gb_new(p->out_c), res = gb_new(out_size(p));
    gb_random(&in);
    gb_random(&w);
    gb_random(&bias);
    gb_random(&res);
    if (cc->nan_input)
        for (size_t i = rng_range(0, 30); i < in.n; i += 1 + rng_range(0, 60)) in.p[i] = NAN;
    double *pre = malloc(out_size(p) * sizeof(double));
    double *mag = malloc(out_size(p) * sizeof(double));
    double *wmag = NULL; /* winograd_magnitude, once a Winograd kernel supports the case */
    if (!pre || !mag) exit(2);
    conv_reference(p, in.p, w.p, cc->bias ? bias.p : NULL, cc->residual ? res.p : NULL, pre, mag);
    if (p->input_chw) { /* the reference read `in` as NHWC; the kernels get the same image as CHW */
        gbuf chw = gb_new(in.n);
        const size_t hw = p->in_h * p->in_w;
        for (size_t i = 0; i < hw; i++)
            for (size_t c = 0; c < p->in_c; c++) chw.p[c * hw + i] = in.p[i * p->in_c + c];
        gb_free(&in);
        in = chw;
    }

    for (size_t v = 0; v < gl_kernels_variant_count(); v++) {
        const gl_kernels *ks = gl_kernels_variant(v);
        if (!gl_kernels_variant_supported(ks)) continue;

        /* the registry picks the first kernel that supports the shape, of the expected family */
        const gl_conv2d_kernel *first = NULL;
        for (size_t i = 0; i < ks->conv2d_count && !first; i++)
            if (ks->conv2d[i].supports(p)) first = &ks->conv2d[i];
        const gl_conv2d_kernel *sel = gl_conv2d_select(ks, p);
        const char *fam = expected_family(p);
        /* a CHW input has its own kernels, or none (the engine then transposes it to NHWC) */
        const int sel_ok = p->input_chw ? sel == first && (sel == NULL || strstr(sel->name, fam) != NULL)
                                        : sel != NULL && sel == first && strstr(sel->name, fam) != NULL &&
                                              ks->conv2d[ks->conv2d_count - 1].supports(p);
        report(sel_ok, "[%s] gl_conv2d_select picked %s, expected the first %s kernel",
               ks->variant, sel ? sel->name : "NULL", fam);
        if (!sel_ok) describe(cc);

        for (size_t i = 0; i < ks->conv2d_count; i++) {
            const gl_conv2d_kernel *k = &ks->conv2d[i];
            if (!k->supports(p)) continue;
            if (v < MAX_VARIANTS && i < MAX_KERNELS) exercised[v][i]++;
            const double *kmag = mag; /* the magnitude k's tolerance is relative to */
            if (is_winograd(k)) {
                if (wmag == NULL) {
                    wmag = malloc(out_size(p) * sizeof(double));
                    if (!wmag) exit(2);
                    winograd_magnitude(p, in.p, w.p, cc->bias ? bias.p : NULL, cc->residual ? res.p : NULL, wmag);
                }
                kmag = wmag;
            }
            const int ok = check_kernel(k, cc, &in, &w, &bias, &res, pre, kmag);
            report(ok, "[%s] %s", ks->variant, k->name);
            if (!ok) describe(cc);
            else if (verbose) {
                printf("ok %s ", k->name);
                describe(cc);
            }
            if (all_activations) {
                if (v < MAX_VARIANTS && i < MAX_KERNELS) exercised_all_activations[v][i]++;
                const int act_ok = check_activations(k, cc, &in, &w, &bias, &res, pre, kmag);
                report(act_ok, "[%s] %s with every activation", ks->variant, k->name);
                if (!act_ok) describe(cc);
            }
        }
    }
    free(pre);
    free(mag);
    free(wmag);
    gb_free(&in);
    gb_free(&w);
    gb_free(&bias);
    gb_free(&res);
}

/* ------------------------------------------------------------------------ */
/* convolution cases                                                          */

static const size_t channel_list[] = {1, 3, 7, 8, 9, 15, 17, 33};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Output size from explicit pads on all four sides; 0 if the window never fits. */
static int set_output(gl_conv2d_params *p, size_t pad_bottom, size_t pad_right) {
    const size_t eff_h = p->dilation_h * (p->kernel_h - 1) + 1;
    const size_t eff_w = p->dilation_w * (p->kernel_w - 1) + 1;
    const size_t ph = p->in_h + p->pad_top + pad_bottom, pw = p->in_w + p->pad_left + pad_right;
    if (ph < eff_h || pw < eff_w) return 0;
    p->out_h = (ph - eff_h) / p->stride_h + 1;
    p->out_w = (pw - eff_w) / p->stride_w + 1;
    return 1;
}

static void set_clamp(gl_conv2d_params *p, int which) {
    static const float lo[] = {-INFINITY, 0.0f, 0.0f, -0.5f};
    static const float hi[] = {INFINITY, INFINITY, 6.0f, 0.5f};
    p->output_min = lo[which & 3];
    p->output_max = hi[which & 3];
}

/* Random pads up to the effective window, a random bottom/right, fixed up so the window fits. */
static void random_spatial(gl_conv2d_params *p) {
    const size_t eff_h = p->dilation_h * (p->kernel_h - 1) + 1;
    const size_t eff_w = p->dilation_w * (p->kernel_w - 1) + 1;
    p->pad_top = rng_range(0, eff_h - 1);
    p->pad_left = rng_range(0, eff_w - 1);
    size_t pb = rng_range(0, eff_h - 1), pr = rng_range(0, eff_w - 1);
    if (p->in_h + p->pad_top + pb < eff_h) pb = eff_h - p->in_h - p->pad_top;
    if (p->in_w + p->pad_left + pr < eff_w) pr = eff_w - p->in_w - p->pad_left;
    set_output(p, pb, pr);
}

static void random_options(conv_case *cc) {
    cc->nan_input = rng_range(0, 7) == 0;
    cc->bias = (int)rng_range(0, 1);
    cc->residual = (int)rng_range(0, 1);
    set_clamp(&cc->p, (int)rng_range(0, 3));
    set_activation(&cc->p, (int)rng_range(0, GL_ACTIVATION_COUNT - 1), (int)rng_range(0, 1));
}

static void random_generic(conv_case *cc) {
    static const size_t groups[] = {1, 1, 2, 3};
    static const size_t ks[] = {1, 2, 3, 3, 5};
    gl_conv2d_params *p = &cc->p;
    memset(p, 0, sizeof *p);
    p->groups = rng_pick(groups, COUNT(groups));
    p->in_c = rng_pick(channel_list, COUNT(channel_list)) * p->groups;
    p->out_c = rng_pick(channel_list, COUNT(channel_list)) * p->groups;
    p->kernel_h = rng_pick(ks, COUNT(ks));
    p->kernel_w = rng_range(0, 2) ? p->kernel_h : rng_pick(ks, COUNT(ks));
    p->stride_h = rng_range(1, 2);
    p->stride_w = rng_range(0, 3) ? p->stride_h : rng_range(1, 3);
    p->dilation_h = rng_range(0, 3) ? 1 : 2;
    p->dilation_w = rng_range(0, 2) ? p->dilation_h : rng_range(1, 2);
    p->in_h = rng_range(1, 11);
    p->in_w = rng_range(1, 11);
    random_spatial(p);
    random_options(cc);
    cc->family = "generic";
}

static void random_depthwise(conv_case *cc) {
    static const size_t ks[] = {3, 3, 3, 5, 5, 1, 2, 4, 7};
    gl_conv2d_params *p = &cc->p;
    memset(p, 0, sizeof *p);
    p->in_c = p->out_c = p->groups = rng_pick(channel_list, COUNT(channel_list));
    p->kernel_h = rng_pick(ks, COUNT(ks));
    p->kernel_w = rng_range(0, 5) ? p->kernel_h : rng_pick(ks, COUNT(ks));
    p->stride_h = p->stride_w = rng_range(1, 2);
    if (rng_range(0, 5) == 0) p->stride_w = 3 - p->stride_h;
    p->dilation_h = p->dilation_w = rng_range(0, 3) ? 1 : 2;
    p->in_h = rng_range(1, 14);
    p->in_w = rng_range(1, 14);
    random_spatial(p);
    random_options(cc);
    cc->family = "depthwise";
}

/* Depthwise with a channel multiplier: groups == in_c, out_c = 2 in_c, not a dwconv. */
static void random_multiplier(conv_case *cc) {
    random_depthwise(cc);
    cc->p.out_c = 2 * cc->p.in_c;
    cc->family = "depthwise x2";
}

static void random_pointwise(conv_case *cc) {
    static const size_t wide[] = {1, 3, 7, 8, 9, 15, 16, 17, 24, 33, 40, 64, 96};
    gl_conv2d_params *p = &cc->p;
    memset(p, 0, sizeof *p);
    p->in_c = rng_pick(wide, COUNT(wide));
    p->out_c = rng_pick(wide, COUNT(wide));
    p->groups = 1;
    p->kernel_h = p->kernel_w = 1;
    p->stride_h = p->stride_w = 1;
    p->dilation_h = p->dilation_w = 1;
    p->in_h = p->out_h = rng_range(1, 13);
    p->in_w = p->out_w = rng_range(1, 13);
    random_options(cc);
    cc->family = "pointwise";
}

/* 1x1 shapes the pointwise kernel must refuse: stride 2, padding, groups. */
static void random_pointwise_other(conv_case *cc) {
    random_pointwise(cc);
    gl_conv2d_params *p = &cc->p;
    switch (rng_range(0, 3)) {
    case 0:
        p->stride_h = p->stride_w = 2;
        set_output(p, 0, 0);
        break;
    case 1:
        p->pad_top = rng_range(0, 1);
        p->pad_left = 1 - p->pad_top;
        set_output(p, 1, 0);
        break;
    case 2: /* only implied bottom/right padding: output larger than input */
        switch (rng_range(0, 2)) {
        case 0: set_output(p, 1, 0); break;
        case 1: set_output(p, 0, 1); break;
        default: set_output(p, 1, 1); break;
        }
        break;
    default:
        p->groups = 2;
        p->in_c *= 2;
        p->out_c *= 2;
        break;
    }
    cc->family = "pointwise, not plain";
}

/*
 * Directed cases: each of the four asymmetric pad cases (one extra row or
 * column at the top, left, bottom or right) on top of no padding and of
 * "same" padding, stride 1 and 2, odd and even inputs, for each family.
 */
static void directed_pads(void) {
    struct family {
        const char *name;
        size_t kh, kw, dil, groups, cin_mult; /* groups 0: depthwise */
    } fams[] = {
        {"generic 3x3", 3, 3, 1, 1, 1}, {"grouped 3x3", 3, 3, 1, 2, 1},
        {"dw 3x3", 3, 3, 1, 0, 1},      {"dw 5x5", 5, 5, 1, 0, 1},
        {"dw 4x4", 4, 4, 1, 0, 1},      {"dw 3x3 dilation 2", 3, 3, 2, 0, 1},
        {"generic 2x3 dilation 2", 2, 3, 2, 1, 1},
    };
    static const size_t sizes[][2] = {{7, 7}, {8, 9}, {1, 3}};
    int combo = 0;
    for (size_t f = 0; f < COUNT(fams); f++)
        for (int base = 0; base < 2; base++)
            for (int side = 0; side < 4; side++)
                for (size_t s = 1; s <= 2; s++)
                    for (size_t z = 0; z < COUNT(sizes); z++) {
                        conv_case cc;
                        gl_conv2d_params *p = &cc.p;
                        memset(p, 0, sizeof *p);
                        const size_t c = channel_list[(size_t)combo % COUNT(channel_list)];
                        if (fams[f].groups == 0) {
                            p->in_c = p->out_c = p->groups = c;
                        } else {
                            p->groups = fams[f].groups;
                            p->in_c = c * p->groups;
                            p->out_c = channel_list[(size_t)(combo + 3) % COUNT(channel_list)] * p->groups;
                        }
                        p->kernel_h = fams[f].kh;
                        p->kernel_w = fams[f].kw;
                        p->dilation_h = p->dilation_w = fams[f].dil;
                        p->stride_h = p->stride_w = s;
                        p->in_h = sizes[z][0];
                        p->in_w = sizes[z][1];
                        const size_t bh = base ? (p->dilation_h * (p->kernel_h - 1)) / 2 : 0;
                        const size_t bw = base ? (p->dilation_w * (p->kernel_w - 1)) / 2 : 0;
                        size_t pad[4] = {bh, bw, bh, bw}; /* top, left, bottom, right */
                        pad[side] += 1;
                        p->pad_top = pad[0];
                        p->pad_left = pad[1];
                        if (!set_output(p, pad[2], pad[3])) continue; /* window never fits */
                        cc.nan_input = 0;
                        cc.bias = combo & 1;
                        cc.residual = (combo >> 1) & 1;
                        set_clamp(p, combo / 4);
                        cc.family = fams[f].name;
                        combo++;
                        check_conv_case(&cc);
                    }
}

/* Windows larger than the image, reaching past it on both sides. */
static void directed_big_windows(void) {
    static const size_t shapes[][5] = {
        /* in_h, in_w, k, pad, depthwise */
        {2, 3, 5, 2, 1}, {2, 3, 5, 2, 0}, {1, 1, 3, 1, 1}, {1, 1, 3, 1, 0},
        {1, 2, 5, 4, 1}, {3, 1, 7, 3, 1}, {2, 2, 3, 2, 0},
    };
    for (size_t i = 0; i < COUNT(shapes); i++)
        for (int opt = 0; opt < 4; opt++) {
            conv_case cc;
            gl_conv2d_params *p = &cc.p;
            memset(p, 0, sizeof *p);
            p->in_h = shapes[i][0];
            p->in_w = shapes[i][1];
            p->kernel_h = p->kernel_w = shapes[i][2];
            p->pad_top = p->pad_left = shapes[i][3];
            p->stride_h = p->stride_w = 1 + (size_t)(opt & 1);
            p->dilation_h = p->dilation_w = 1;
            p->in_c = p->out_c = 9;
            p->groups = shapes[i][4] ? 9 : 1;
            set_output(p, shapes[i][3], shapes[i][3]);
            cc.nan_input = 0;
            cc.bias = 1;
            cc.residual = opt >> 1;
            set_clamp(p, opt);
            cc.family = "window bigger than the image";
            check_conv_case(&cc);
        }
}

/* Deep pointwise layers on few pixels, as in the last blocks of EfficientNet (the AVX-512
 * table's 12x32 kernel takes in_c >= 192 with out_c >= 64). */
static void directed_deep_pointwise(void) {
    static const size_t deep[] = {512, 513, 640, 767, 1152, 1249};
    static const size_t outs[] = {1, 8, 9, 17, 40, 64, 65, 80, 97, 208};
    for (size_t i = 0; i < 40; i++) {
        conv_case cc;
        random_pointwise(&cc);
        cc.p.in_c = deep[i % COUNT(deep)];
        cc.p.out_c = outs[(i / 2) % COUNT(outs)];
        cc.p.in_h = cc.p.out_h = rng_range(1, 9);
        cc.p.in_w = cc.p.out_w = rng_range(1, 9);
        cc.family = "pointwise";
        check_conv_case(&cc);
    }
}

/* cc's window and channels as set, on a random image of up to max_h × max_w with random pads,
 * bias, residual and clamp. */
static void check_random_image(conv_case *cc, size_t max_h, size_t max_w, const char *family) {
    cc->p.in_h = rng_range(1, max_h);
    cc->p.in_w = rng_range(1, max_w);
    random_spatial(&cc->p);
    random_options(cc);
    cc->family = family;
    check_conv_case(cc);
}

static int any_variant_selects(const gl_conv2d_params *p) {
    for (size_t v = 0; v < gl_kernels_variant_count(); v++)
        if (gl_conv2d_select(gl_kernels_variant(v), p) != NULL) return 1;
    return 0;
}

/*
 * A first convolution reading the caller's CHW image (input_chw): 1-4 channels (1, 3 and 4
 * are the usual), windows 1-7 with stride 1-2, every pad case, output channel counts around
 * the 16/32-wide panels, rows wide enough for whole 12-pixel blocks and their remainders;
 * one case Lite0's stem (224×224×3 → 32, 3x3/2, TF SAME). Variants without such a kernel
 * must select none.
 */
static void directed_chw(void) {
    static const size_t outs[] = {1, 7, 16, 17, 31, 32, 33, 48, 64};
    static const size_t ks[] = {1, 2, 3, 3, 5, 7};
    for (size_t i = 0; i < 60; i++) {
        conv_case cc;
        gl_conv2d_params *p = &cc.p;
        memset(p, 0, sizeof *p);
        p->input_chw = 1;
        p->groups = 1;
        p->in_c = 1 + i % 4;
        p->out_c = outs[(i / 4) % COUNT(outs)];
        p->kernel_h = rng_pick(ks, COUNT(ks));
        p->kernel_w = rng_range(0, 3) ? p->kernel_h : rng_pick(ks, COUNT(ks));
        p->stride_h = p->stride_w = rng_range(1, 2);
        if (rng_range(0, 5) == 0) p->stride_w = 3 - p->stride_h;
        p->dilation_h = p->dilation_w = 1;
        check_random_image(&cc, 12, 40, "chw");
    }
    conv_case stem;
    gl_conv2d_params *p = &stem.p;
    memset(p, 0, sizeof *p);
    *p = (gl_conv2d_params){.in_h = 224, .in_w = 224, .in_c = 3, .out_h = 112, .out_w = 112, .out_c = 32,
                            .kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .dilation_h = 1,
                            .dilation_w = 1, .groups = 1, .output_min = 0.0f, .output_max = 6.0f,
                            .input_chw = 1};
    stem.nan_input = 0, stem.bias = 1, stem.residual = 0, stem.family = "chw stem";
    check_conv_case(&stem);
    /* not for dilated, grouped or many-channel inputs */
    gl_conv2d_params dilated = stem.p, wide = stem.p, grouped = stem.p;
    dilated.dilation_h = dilated.dilation_w = 2, dilated.out_h = dilated.out_w = 110;
    wide.in_c = 5;
    grouped.in_c = grouped.out_c = grouped.groups = 3;
    report(!any_variant_selects(&dilated) && !any_variant_selects(&wide) && !any_variant_selects(&grouped),
           "no kernel takes a CHW input that is dilated, has 5 channels or is grouped");
}

/* Depthwise 3x3 at stride 1 on 64+ channels, where the AVX-512 kernel computes rows in pairs:
 * odd and even heights, so a pair's second row and the last row alone both occur, all pads. */
static void directed_wide_depthwise(void) {
    static const size_t channels[] = {64, 65, 80, 100, 144};
    for (size_t i = 0; i < 30; i++) {
        conv_case cc;
        gl_conv2d_params *p = &cc.p;
        memset(p, 0, sizeof *p);
        p->in_c = p->out_c = p->groups = channels[i % COUNT(channels)];
        p->kernel_h = p->kernel_w = 3;
        p->stride_h = p->stride_w = 1;
        p->dilation_h = p->dilation_w = 1;
        check_random_image(&cc, 12, 20, "depthwise");
    }
}

/* A dense conv (groups 1, dilation 1) with symmetric pads and what output fits, clamp as ReLU. */
static conv_case dense_case(size_t hw, size_t in_c, size_t out_c, size_t k, size_t s, size_t pad, int residual) {
    conv_case cc;
    memset(&cc, 0, sizeof cc);
    gl_conv2d_params *p = &cc.p;
    p->in_h = p->in_w = hw;
    p->in_c = in_c, p->out_c = out_c;
    p->kernel_h = p->kernel_w = k;
    p->stride_h = p->stride_w = s;
    p->dilation_h = p->dilation_w = p->groups = 1;
    p->pad_top = p->pad_left = pad;
    set_output(p, pad, pad);
    set_clamp(p, 1);
    cc.bias = 1, cc.residual = residual, cc.family = "dense";
    return cc;
}

/*
 * Dense convolutions (groups 1, dilation 1), where the AVX-512 and NEON tables have register-
 * blocked kernels: ResNet-18's 3x3 layers, its 1x1 stride-2 downsamples and its 7x7/2 stem
 * scaled down (rows of one block, of several with the edge ones copied, of taps read through a
 * row of zeros: 200-512 channels), and random shapes: windows 1-7, strides 1-3, every pad
 * 0..k-1 on each side (bottom/right through out_h/out_w), input channels off multiples of 4
 * and 16, output channels 1-47 and tails past a multiple of 32, residual, clamp. The kernels
 * that decline a shape (the AVX-512 one leaves thin outputs to AVX2) are tested where they
 * accept one; the registry check in check_conv_case covers which is picked.
 */
static void directed_dense(void) {
    const conv_case resnet[] = {
        dense_case(14, 64, 64, 3, 1, 1, 1),   dense_case(30, 64, 64, 3, 1, 1, 0),
        dense_case(15, 64, 128, 3, 2, 1, 0),  dense_case(16, 64, 128, 3, 2, 1, 0),
        dense_case(13, 64, 128, 1, 2, 0, 1),  dense_case(8, 128, 128, 3, 1, 1, 1),
        dense_case(7, 256, 256, 3, 1, 1, 1),  dense_case(8, 256, 96, 3, 2, 1, 0),
        dense_case(5, 512, 64, 3, 1, 1, 1),   dense_case(29, 3, 64, 7, 2, 3, 0),
        dense_case(33, 3, 32, 3, 2, 1, 0),    dense_case(9, 200, 70, 3, 1, 1, 0),
    };
    for (size_t i = 0; i < COUNT(resnet); i++) check_conv_case(&resnet[i]);
    /* a TF SAME stem: the odd extra row and column at the bottom/right */
    conv_case same = dense_case(32, 3, 32, 3, 2, 0, 0);
    set_output(&same.p, 1, 1);
    check_conv_case(&same);

    static const size_t ks[] = {1, 2, 3, 3, 5, 7};
    static const size_t ins[] = {1, 3, 4, 16, 17, 31, 64, 100, 200};
    for (size_t i = 0; i < 90; i++) {
        conv_case cc;
        gl_conv2d_params *p = &cc.p;
        memset(p, 0, sizeof *p);
        p->groups = p->dilation_h = p->dilation_w = 1;
        p->kernel_h = ks[i % COUNT(ks)];
        p->kernel_w = rng_range(0, 4) ? p->kernel_h : rng_pick(ks, COUNT(ks));
        p->stride_h = p->stride_w = 1 + (i / COUNT(ks)) % 3;
        if (rng_range(0, 5) == 0) p->stride_w = rng_range(1, 3);
        p->in_c = ins[i % COUNT(ins)];
        p->out_c = i % 2 ? rng_range(1, 47) : rng_range(48, 100);
        /* few rows where the window is deep, rows of up to 3-4 blocks */
        const size_t depth = p->in_c * p->kernel_h * p->kernel_w;
        check_random_image(&cc, depth > 600 ? 4 : 12, 40, "dense");
    }
}

/*
 * 3x3 stride-1 dense convs, where the AVX-512 table has Winograd F(4x4, 3x3): input channels
 * around the 16-lane vectors (16, 17, 31, 33, 64, 67: odd counts, tails), output channels off
 * multiples of 16 and 32, images of 8-20 rows and columns (edge tiles of 1-3 rows and columns),
 * pads 0..2 on every side (bottom/right through out_h/out_w), residual, clamp, activation and a
 * few NaN inputs at random; then images of more tiles than one band holds (in_c 64: 37 tiles,
 * in_c 512: 12), and the deepest input it takes (1024 channels).
 */
static void directed_winograd(void) {
    static const size_t ins[] = {16, 17, 31, 33, 64, 67};
    static const size_t outs[] = {16, 17, 40, 47, 64, 65, 96};
    for (size_t i = 0; i < 48; i++) {
        conv_case cc;
        gl_conv2d_params *p = &cc.p;
        memset(p, 0, sizeof *p);
        p->groups = p->dilation_h = p->dilation_w = p->stride_h = p->stride_w = 1;
        p->kernel_h = p->kernel_w = 3;
        p->in_c = ins[i % COUNT(ins)];
        p->out_c = outs[(i / 2) % COUNT(outs)];
        p->in_h = rng_range(8, 20);
        p->in_w = rng_range(8, 20);
        p->pad_top = rng_range(0, 2);
        p->pad_left = rng_range(0, 2);
        set_output(p, rng_range(0, 2), rng_range(0, 2));
        random_options(&cc);
        cc.family = "dense 3x3s1";
        check_conv_case(&cc);
    }
    static const size_t bands[][3] = {{28, 64, 40}, {30, 67, 17}, {17, 512, 33}, {7, 1024, 17}}; /* hw, in_c, out_c */
    for (size_t i = 0; i < COUNT(bands); i++) {
        conv_case cc = dense_case(bands[i][0], bands[i][1], bands[i][2], 3, 1, 1, (int)(i & 1));
        set_activation(&cc.p, (int)i + 1, 0);
        check_conv_case(&cc);
    }
}

/* ResNet-18's dense layers (full size) get the variant's register-blocked dense kernel; on
 * AVX-512, its 3x3 stride-1 layers (7x7 to 56x56) the Winograd kernel. */
static void check_dense_selected(void) {
    static const struct { const char *variant, *kernel; } want[] = {
        {"avx512", "gl_f32_conv2d_12x32__avx512"},
        {"neon", "gl_f32_conv2d_8x8_neon"},
    };
    const conv_case shapes[] = {
        dense_case(224, 3, 64, 7, 2, 3, 0),  dense_case(56, 64, 64, 3, 1, 1, 1),
        dense_case(56, 64, 128, 3, 2, 1, 0), dense_case(56, 64, 128, 1, 2, 0, 0),
        dense_case(28, 128, 128, 3, 1, 1, 1), dense_case(28, 128, 256, 3, 2, 1, 0),
        dense_case(14, 256, 256, 3, 1, 1, 1), dense_case(14, 256, 512, 3, 2, 1, 0),
        dense_case(7, 512, 512, 3, 1, 1, 1),  dense_case(224, 3, 32, 3, 2, 1, 0),
    };
    for (size_t v = 0; v < gl_kernels_variant_count(); v++) {
        const gl_kernels *ks = gl_kernels_variant(v);
        for (size_t w = 0; w < COUNT(want); w++) {
            if (strcmp(ks->variant, want[w].variant) != 0) continue;
            for (size_t i = 0; i < COUNT(shapes); i++) {
                const gl_conv2d_kernel *sel = gl_conv2d_select(ks, &shapes[i].p);
                const gl_conv2d_params *p = &shapes[i].p;
                const int winograd = strcmp(ks->variant, "avx512") == 0 && p->kernel_h == 3 && p->stride_h == 1;
                const char *kernel = winograd ? "gl_f32_conv2d_3x3s1_winograd4x4__avx512" : want[w].kernel;
                report(sel != NULL && strcmp(sel->name, kernel) == 0,
                       "[%s] %zux%zux%zu->%zu k%zu s%zu: gl_conv2d_select picked %s, want %s", ks->variant,
                       p->in_h, p->in_w, p->in_c, p->out_c, p->kernel_h, p->stride_h,
                       sel ? sel->name : "NULL", kernel);
            }
        }
    }
}

static void test_conv(size_t random_cases) {
    check_dense_selected();
    directed_dense();
    directed_chw();
    directed_wide_depthwise();
    directed_pads();
    directed_big_windows();
    directed_deep_pointwise();
    for (size_t i = 0; i < random_cases; i++) {
        conv_case cc;
        switch (i % 6) {
        case 0: random_generic(&cc); break;
        case 1: random_depthwise(&cc); break;
        case 2: random_pointwise(&cc); break;
        case 3: random_multiplier(&cc); break;
        case 4: random_pointwise_other(&cc); break;
        default: random_depthwise(&cc); break;
        }
        check_conv_case(&cc);
    }
    directed_winograd(); /* last: the cases before it draw the same random numbers as without it */
}

/* ------------------------------------------------------------------------ */
/* registry                                                                   */

static void test_registry(void) {
    const size_t count = gl_kernels_variant_count();
    report(count >= 1 && count <= MAX_VARIANTS, "variant count %zu", count);
    const gl_kernels *scalar = gl_kernels_variant(0);
    report(scalar != NULL && strcmp(scalar->variant, "scalar") == 0, "variant 0 is scalar");
    report(gl_kernels_variant_supported(scalar) == 1, "scalar is always supported");
    report(gl_kernels_variant(count) == NULL, "gl_kernels_variant past the end is NULL");
    report(gl_kernels_variant_supported(NULL) == 0, "a NULL table is not supported");

    /* Before any selection, the active table is the best supported: the last one. */
    const gl_kernels *best = NULL;
    for (size_t v = 0; v < count; v++)
        if (gl_kernels_variant_supported(gl_kernels_variant(v))) best = gl_kernels_variant(v);
    report(gl_kernels_active() == best, "default active table is the best supported (%s)",
           best ? best->variant : "none");

    for (size_t v = 0; v < count; v++) {
        const gl_kernels *ks = gl_kernels_variant(v);
        int ok = ks->conv2d != NULL && ks->conv2d_count >= 1 && ks->conv2d_count <= MAX_KERNELS &&
                 ks->maxpool2d && ks->avgpool2d && ks->global_avgpool && ks->gemm && ks->activation &&
                 ks->channel_scale;
        for (size_t i = 0; ok && i < ks->conv2d_count; i++) {
            const gl_conv2d_kernel *k = &ks->conv2d[i];
            /* A kernel belongs to this table's variant, or (avx512 reuses avx2's) to an earlier
             * variant this CPU then also runs; its name says which. */
            int own = strcmp(k->variant, ks->variant) == 0, earlier = 0;
            for (size_t e = 1; e < v; e++) earlier |= strcmp(k->variant, gl_kernels_variant(e)->variant) == 0;
            ok = k->name && k->variant && k->supports && k->packed_size && k->pack && k->run &&
                 (own || earlier) && strstr(k->name, k->variant) != NULL;
            for (size_t j = 0; ok && j < i; j++) ok = strcmp(ks->conv2d[j].name, k->name) != 0;
        }
        report(ok, "[%s] table is complete, kernel names unique and tagged with their variant",
               ks->variant);
        const int rc = gl_kernels_select(ks->variant);
        const int supported = gl_kernels_variant_supported(ks);
        report(supported ? (rc == 0 && gl_kernels_active() == ks) : rc == -2,
               "gl_kernels_select(\"%s\") returned %d (supported: %d)", ks->variant, rc, supported);
    }
    report(gl_kernels_select("no-such-variant") == -1, "unknown variant name gives -1");
    report(gl_kernels_select(NULL) == -1, "NULL variant name gives -1");
    report(gl_kernels_select("") == -1, "empty variant name gives -1");
    /* Names the API knows but this build may lack: -1 if absent, else 0 or -2. */
    static const char *known[] = {"scalar", "avx2", "neon"};
    for (size_t i = 0; i < COUNT(known); i++) {
        const gl_kernels *t = NULL;
        for (size_t v = 0; v < count; v++)
            if (strcmp(gl_kernels_variant(v)->variant, known[i]) == 0) t = gl_kernels_variant(v);
        const int rc = gl_kernels_select(known[i]);
        const int want = t == NULL ? -1 : gl_kernels_variant_supported(t) ? 0 : -2;
        report(rc == want, "gl_kernels_select(\"%s\") = %d, want %d", known[i], rc, want);
    }
    report(gl_kernels_select(best->variant) == 0 && gl_kernels_active() == best,
           "re-selecting the best variant");

    /* Invalid parameters are supported by no kernel. */
    gl_conv2d_params p = {.in_h = 8, .in_w = 8, .in_c = 6, .out_h = 8, .out_w = 8, .out_c = 6, .kernel_h = 3,
                          .kernel_w = 3, .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                          .pad_top = 1, .pad_left = 1, .groups = 1, .output_min = -INFINITY,
                          .output_max = INFINITY};
    report(gl_conv2d_select(scalar, &p) != NULL, "a valid shape has a kernel");
    gl_conv2d_params q = p;
    q.groups = 4; /* 6 % 4 != 0 */
    report(gl_conv2d_select(scalar, &q) == NULL, "groups not dividing channels: no kernel");
    q = p;
    q.stride_h = 0;
    report(gl_conv2d_select(scalar, &q) == NULL, "stride 0: no kernel");
    q = p;
    q.output_min = NAN;
    report(gl_conv2d_select(scalar, &q) == NULL, "NaN clamp bound: no kernel");
    q = p;
    q.output_min = 1.0f;
    q.output_max = 0.0f;
    report(gl_conv2d_select(scalar, &q) == NULL, "output_min > output_max: no kernel");
    for (int kind = -1; kind <= GL_ACTIVATION_COUNT; kind++) {
        q = p;
        q.activation = kind;
        const int known = kind >= 0 && kind < GL_ACTIVATION_COUNT;
        int agree = 1;
        for (size_t v = 0; v < count; v++)
            agree &= (gl_conv2d_select(gl_kernels_variant(v), &q) != NULL) == known;
        report(agree, "activation %d: %s", kind, known ? "every variant has a kernel" : "no kernel");
    }
    report(gl_conv2d_select(NULL, &p) == NULL && gl_conv2d_select(scalar, NULL) == NULL,
           "gl_conv2d_select with NULL gives NULL");
}

static void test_coverage(void) {
    for (size_t v = 0; v < gl_kernels_variant_count(); v++) {
        const gl_kernels *ks = gl_kernels_variant(v);
        if (!gl_kernels_variant_supported(ks)) continue;
        for (size_t i = 0; i < ks->conv2d_count; i++)
            report(exercised[v][i] >= 20, "[%s] %s ran on only %lu cases", ks->variant,
                   ks->conv2d[i].name, exercised[v][i]);
        for (size_t i = 0; i < ks->conv2d_count; i++)
            report(exercised_all_activations[v][i] >= 10, "[%s] %s ran every activation on only %lu cases",
                   ks->variant, ks->conv2d[i].name, exercised_all_activations[v][i]);
    }
}

/* ------------------------------------------------------------------------ */
/* pooling                                                                    */

static void pool_reference(const gl_pool2d_params *p, const float *in, int is_max,
                           double *ref, double *mag, size_t *terms) {
    const size_t C = p->channels;
    for (size_t oy = 0; oy < p->out_h; oy++)
        for (size_t ox = 0; ox < p->out_w; ox++)
            for (size_t c = 0; c < C; c++) {
                double s = 0.0, m = 0.0, mx = -INFINITY;
                size_t count = 0;
                int nan = 0;
                for (size_t ky = 0; ky < p->kernel_h; ky++)
                    for (size_t kx = 0; kx < p->kernel_w; kx++) {
                        const long long iy = (long long)(oy * p->stride_h + ky * p->dilation_h) - (long long)p->pad_top;
                        const long long ix = (long long)(ox * p->stride_w + kx * p->dilation_w) - (long long)p->pad_left;
                        if (iy < 0 || ix < 0 || iy >= (long long)p->in_h || ix >= (long long)p->in_w) continue;
                        const double v = in[((size_t)iy * p->in_w + (size_t)ix) * C + c];
                        if (isnan(v)) nan = 1;
                        else if (v > mx) mx = v;
                        s += v;
                        m += fabs(v);
                        count++;
                    }
                const size_t o = (oy * p->out_w + ox) * C + c;
                const size_t div = p->count_include_pad ? p->kernel_h * p->kernel_w : count;
                if (is_max) ref[o] = nan ? NAN : mx;
                else ref[o] = div ? s / (double)div : 0.0;
                mag[o] = div ? m / (double)div : 0.0;
                terms[o] = count;
            }
}

static void check_pool(const gl_pool2d_params *p, int with_nan) {
    const size_t isz = p->in_h * p->in_w * p->channels, osz = p->out_h * p->out_w * p->channels;
    gbuf in = gb_new(isz);
    gb_random(&in);
    if (with_nan)
        for (size_t i = 0; i < isz; i += 1 + rng_range(0, 40)) in.p[i] = NAN;
    double *ref = malloc(osz * sizeof(double)), *mag = malloc(osz * sizeof(double));
    size_t *terms = malloc(osz * sizeof(size_t));
    if (!ref || !mag || !terms) exit(2);
    for (size_t v = 0; v < gl_kernels_variant_count(); v++) {
        const gl_kernels *ks = gl_kernels_variant(v);
        if (!gl_kernels_variant_supported(ks)) continue;
        for (int is_max = 0; is_max < 2; is_max++) {
            if (with_nan && !is_max) continue;
            pool_reference(p, in.p, is_max, ref, mag, terms);
            gbuf out = gb_new(osz);
            (is_max ? ks->maxpool2d : ks->avgpool2d)(p, in.p, out.p);
            int ok = gb_guards_ok(&out) && gb_guards_ok(&in);
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < osz; i++) {
                /* max is exact: no rounding happens */
                const int good = is_max ? (isnan(ref[i]) ? isnan(out.p[i]) : (double)out.p[i] == ref[i])
                                        : close_enough(out.p[i], ref[i], terms[i], mag[i]);
                if (!good && bad++ == 0) first = i;
            }
            ok = ok && bad == 0;
            report(ok, "[%s] %s: in %zux%zux%zu out %zux%zu k %zux%zu s %zux%zu d %zux%zu pad t%zu l%zu "
                   "include_pad %d nan %d",
                   ks->variant, is_max ? "maxpool2d" : "avgpool2d", p->in_h, p->in_w, p->channels,
                   p->out_h, p->out_w, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w,
                   p->dilation_h, p->dilation_w, p->pad_top, p->pad_left, p->count_include_pad, with_nan);
            if (bad) detail("%zu bad; first at %zu: %.9g vs %.9g", bad, first, (double)out.p[first], ref[first]);
            gb_free(&out);
        }
    }
    free(ref);
    free(mag);
    free(terms);
    gb_free(&in);
}

static void random_pool(gl_pool2d_params *p) {
    memset(p, 0, sizeof *p);
    p->channels = rng_pick(channel_list, COUNT(channel_list));
    p->kernel_h = rng_range(1, 4);
    p->kernel_w = rng_range(0, 2) ? p->kernel_h : rng_range(1, 4);
    p->stride_h = rng_range(1, 3);
    p->stride_w = rng_range(0, 2) ? p->stride_h : rng_range(1, 3);
    p->dilation_h = rng_range(0, 3) ? 1 : 2;
    p->dilation_w = rng_range(0, 3) ? p->dilation_h : rng_range(1, 2);
    p->in_h = rng_range(1, 12);
    p->in_w = rng_range(1, 12);
    const size_t eff_h = p->dilation_h * (p->kernel_h - 1) + 1, eff_w = p->dilation_w * (p->kernel_w - 1) + 1;
    p->pad_top = rng_range(0, eff_h - 1);
    p->pad_left = rng_range(0, eff_w - 1);
    size_t pb = rng_range(0, eff_h - 1), pr = rng_range(0, eff_w - 1);
    if (p->in_h + p->pad_top + pb < eff_h) pb = eff_h - p->in_h - p->pad_top;
    if (p->in_w + p->pad_left + pr < eff_w) pr = eff_w - p->in_w - p->pad_left;
    p->out_h = (p->in_h + p->pad_top + pb - eff_h) / p->stride_h + 1;
    p->out_w = (p->in_w + p->pad_left + pr - eff_w) / p->stride_w + 1;
    p->count_include_pad = (int)rng_range(0, 1);
}

static void check_global_avgpool(size_t hw, size_t channels) {
    gbuf in = gb_new(hw * channels);
    gb_random(&in);
    for (size_t v = 0; v < gl_kernels_variant_count(); v++) {
        const gl_kernels *ks = gl_kernels_variant(v);
        if (!gl_kernels_variant_supported(ks)) continue;
        gbuf out = gb_new(channels);
        ks->global_avgpool(hw, channels, in.p, out.p);
        int ok = gb_guards_ok(&out) && gb_guards_ok(&in);
        for (size_t c = 0; ok && c < channels; c++) {
            double s = 0.0, m = 0.0;
            for (size_t i = 0; i < hw; i++) {
                s += in.p[i * channels + c];
                m += fabs(in.p[i * channels + c]);
            }
            ok = close_enough(out.p[c], s / (double)hw, hw, m / (double)hw);
        }
        report(ok, "[%s] global_avgpool hw %zu channels %zu", ks->variant, hw, channels);
        gb_free(&out);
    }
    gb_free(&in);
}

static void test_pool(size_t random_cases) {
    gl_pool2d_params p;
    for (size_t i = 0; i < random_cases; i++) {
        random_pool(&p);
        check_pool(&p, 0);
    }
    for (size_t i = 0; i < 10; i++) {
        random_pool(&p);
        check_pool(&p, 1);
    }
    /* Typical: 3x3 s2 pad 1 on odd and even inputs; ResNet's stem pool. */
    const gl_pool2d_params typical[] = {
        {7, 7, 17, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1, 0},
        {8, 8, 17, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1},
        {112, 112, 8, 56, 56, 3, 3, 2, 2, 1, 1, 1, 1, 0},
        /* windows wholly in the implied bottom/right padding: -inf for max, 0 for average */
        {2, 2, 3, 5, 5, 2, 2, 1, 1, 1, 1, 0, 0, 0},
        {2, 2, 3, 5, 5, 2, 2, 1, 1, 1, 1, 0, 0, 1},
        /* window bigger than the image */
        {2, 3, 9, 2, 3, 5, 5, 1, 1, 1, 1, 2, 2, 0},
        {2, 3, 9, 2, 3, 5, 5, 1, 1, 1, 1, 2, 2, 1},
    };
    for (size_t i = 0; i < COUNT(typical); i++) check_pool(&typical[i], 0);

    static const size_t hws[] = {1, 2, 7, 49, 50, 197, 3136};
    static const size_t chans[] = {1, 3, 7, 8, 9, 15, 17, 33, 1280};
    for (size_t i = 0; i < COUNT(hws); i++)
        for (size_t j = 0; j < COUNT(chans); j++) check_global_avgpool(hws[i], chans[j]);
}

/* ------------------------------------------------------------------------ */
/* gemm                                                                       */

static void check_gemm(size_t m, size_t n, size_t k, int trans_a, int trans_b, float alpha, float beta,
                       size_t pad) {
    /* a is m×k, stored row-major with leading dimension k+pad, or transposed (k×m, ld m+pad) */
    const size_t lda = (trans_a ? m : k) + pad, ldb = (trans_b ? k : n) + pad, ldc = n + pad;
    const size_t a_rows = trans_a ? k : m, b_rows = trans_b ? n : k;
    gbuf a = gb_new(a_rows * lda), b = gb_new(b_rows * ldb), c0 = gb_new(m * ldc);
    gb_random(&a);
    gb_random(&b);
    gb_random(&c0);
    if (beta == 0.0f) /* c's old contents must be ignored, NaN included */
        for (size_t i = 0; i < m * ldc; i++) c0.p[i] = NAN;
    for (size_t i = 0; i < m; i++) /* padding columns of c must not be written */
        for (size_t j = n; j < ldc; j++) c0.p[i * ldc + j] = poison();
    const size_t a_rs = trans_a ? 1 : lda, a_cs = trans_a ? lda : 1;
    const size_t b_rs = trans_b ? 1 : ldb, b_cs = trans_b ? ldb : 1;

    for (size_t v = 0; v < gl_kernels_variant_count(); v++) {
        const gl_kernels *ks = gl_kernels_variant(v);
        if (!gl_kernels_variant_supported(ks)) continue;
        gbuf c = gb_copy(&c0);
        ks->gemm(m, n, k, alpha, a.p, a_rs, a_cs, b.p, b_rs, b_cs, beta, c.p, ldc);
        int ok = gb_guards_ok(&c) && gb_guards_ok(&a) && gb_guards_ok(&b);
        size_t bad = 0;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < ldc; j++) {
                const float got = c.p[i * ldc + j];
                if (j >= n) {
                    if (!is_poison(got)) bad++;
                    continue;
                }
                double s = 0.0, mg = 0.0;
                for (size_t kk = 0; kk < k; kk++) {
                    const double t = (double)a.p[i * a_rs + kk * a_cs] * b.p[kk * b_rs + j * b_cs];
                    s += t;
                    mg += fabs(t);
                }
                double ref = alpha * s, mag = fabs(alpha) * mg;
                if (beta != 0.0f) {
                    ref += (double)beta * c0.p[i * ldc + j];
                    mag += fabs((double)beta * c0.p[i * ldc + j]);
                }
                if (!close_enough(got, ref, k + 1, mag)) {
                    if (bad++ == 0) detail("c[%zu][%zu] = %.9g, reference %.9g", i, j, (double)got, ref);
                }
            }
        ok = ok && bad == 0;
        report(ok, "[%s] gemm m %zu n %zu k %zu trans_a %d trans_b %d alpha %g beta %g pad %zu",
               ks->variant, m, n, k, trans_a, trans_b, (double)alpha, (double)beta, pad);
        gb_free(&c);
    }
    gb_free(&a);
    gb_free(&b);
    gb_free(&c0);
}

static void test_gemm(size_t random_cases) {
    static const size_t dims[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 65, 100};
    static const float alphas[] = {1.0f, -0.5f, 2.0f};
    static const float betas[] = {0.0f, 1.0f, 0.25f};
    for (size_t i = 0; i < random_cases; i++) {
        check_gemm(rng_pick(dims, COUNT(dims)), rng_pick(dims, COUNT(dims)), rng_pick(dims, COUNT(dims)),
                   (int)(i & 1), (int)((i >> 1) & 1), alphas[rng_range(0, 2)], betas[(i >> 2) % 3],
                   rng_range(0, 3));
    }
    /* edges: empty sums and empty matrices; the classifier's fully connected layer */
    for (int t = 0; t < 4; t++) {
        check_gemm(3, 5, 0, t & 1, t >> 1, 1.0f, 0.0f, 1);
        check_gemm(3, 5, 0, t & 1, t >> 1, 1.0f, 0.5f, 0);
        check_gemm(0, 5, 4, t & 1, t >> 1, 1.0f, 0.5f, 0);
        check_gemm(3, 0, 4, t & 1, t >> 1, 1.0f, 0.5f, 0);
        check_gemm(1, 1000, 1280, t & 1, t >> 1, 1.0f, t == 3 ? 0.0f : 1.0f, 0);
    }
}

/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* expand + depthwise, fused band by band                                     */

/*
 * gl_expand_dw_run_parallel against the two convolutions run one after the
 * other with the same kernels: the result must be the same bit for bit
 * (each output element is computed by the same code on the same numbers),
 * for any band height (down to the window's), pads (SAME, VALID, random),
 * residual, and 1-3 threads; nothing outside the output is written.
 */
static void check_fused(const gl_kernels *ks, gl_threadpool *pool, size_t threads) {
    gl_expand_dw f;
    memset(&f, 0, sizeof f);
    gl_conv2d_params *d = &f.dw_params, *e = &f.expand_params;
    d->in_c = d->out_c = d->groups = rng_pick(channel_list, COUNT(channel_list));
    d->kernel_h = d->kernel_w = rng_range(0, 1) ? 3 : 5;
    d->stride_h = d->stride_w = rng_range(1, 2);
    d->dilation_h = d->dilation_w = 1;
    d->in_h = rng_range(1, 19);
    d->in_w = rng_range(1, 13);
    const int pads = (int)rng_range(0, 2);
    if (pads == 0) { /* TF SAME: the odd extra row/column at the bottom/right */
        const size_t oh = (d->in_h + d->stride_h - 1) / d->stride_h, ow = (d->in_w + d->stride_w - 1) / d->stride_w;
        const ptrdiff_t th = (ptrdiff_t)((oh - 1) * d->stride_h + d->kernel_h) - (ptrdiff_t)d->in_h;
        const ptrdiff_t tw = (ptrdiff_t)((ow - 1) * d->stride_w + d->kernel_w) - (ptrdiff_t)d->in_w;
        d->pad_top = th > 0 ? (size_t)th / 2 : 0, d->pad_left = tw > 0 ? (size_t)tw / 2 : 0;
        d->out_h = oh, d->out_w = ow;
    } else if (pads == 1 && d->in_h >= d->kernel_h && d->in_w >= d->kernel_w) { /* VALID */
        set_output(d, 0, 0);
    } else {
        random_spatial(d);
    }
    set_clamp(d, (int)rng_range(0, 3));
    set_activation(d, (int)rng_range(0, GL_ACTIVATION_COUNT - 1), 1);
    /* the producer: a pointwise expansion (H·W rows of one pixel), or a 1x1/3x3 conv at stride
     * 1 or 2 reading an NHWC image or, where the variant has a kernel for it, a CHW one (a stem) */
    const int producer = (int)rng_range(0, 2);
    e->out_c = d->in_c;
    e->dilation_h = e->dilation_w = e->groups = 1;
    if (producer == 0) {
        e->in_h = e->out_h = d->in_h * d->in_w;
        e->in_w = e->out_w = 1;
        e->in_c = rng_range(1, 40);
        e->kernel_h = e->kernel_w = e->stride_h = e->stride_w = 1;
    } else {
        e->stride_h = e->stride_w = rng_range(1, 2);
        e->kernel_h = e->kernel_w = rng_range(0, 3) ? 3 : 1;
        e->in_h = d->in_h * e->stride_h, e->in_w = d->in_w * e->stride_w;
        e->out_h = d->in_h, e->out_w = d->in_w;
        e->pad_top = rng_range(0, (e->kernel_h - 1) / 2), e->pad_left = rng_range(0, (e->kernel_w - 1) / 2);
        e->in_c = rng_range(1, 4);
        e->input_chw = producer == 2;
        if (e->input_chw && gl_conv2d_select(ks, e) == NULL) e->input_chw = 0;
    }
    set_clamp(e, (int)rng_range(0, 3));
    set_activation(e, (int)rng_range(0, GL_ACTIVATION_COUNT - 1), 1);
    f.expand = gl_conv2d_select(ks, e);
    f.dw = gl_conv2d_select(ks, d);
    f.band_rows = rng_range(d->kernel_h, d->kernel_h + d->in_h);
    const int residual = (int)rng_range(0, 1);
    if (f.expand == NULL || f.dw == NULL || !gl_expand_dw_valid(&f)) {
        report(0, "%s: expand+dw %zux%zux%zu k%zu s%zu: no kernels or not valid", ks->variant,
               d->in_h, d->in_w, d->in_c, d->kernel_h, d->stride_h);
        return;
    }

    gbuf in = gb_new(in_size(e)), ew = gb_new(weight_size(e)), eb = gb_new(e->out_c);
    gbuf dwt = gb_new(weight_size(d)), db = gb_new(d->out_c), res = gb_new(out_size(d));
    gb_random(&in), gb_random(&ew), gb_random(&eb), gb_random(&dwt), gb_random(&db), gb_random(&res);
    float *ep = malloc(f.expand->packed_size(e) * sizeof(float));
    float *dp = malloc(f.dw->packed_size(d) * sizeof(float));
    f.expand->pack(e, ew.p, eb.p, ep);
    f.dw->pack(d, dwt.p, db.p, dp);
    f.expand_packed = ep, f.dw_packed = dp;

    gbuf mid = gb_new(out_size(e)), want = gb_new(out_size(d)), got = gb_new(out_size(d));
    gbuf scratch = gb_new(gl_expand_dw_scratch_floats(&f, threads));
    f.expand->run(e, in.p, ep, NULL, mid.p, 0, e->out_h);
    f.dw->run(d, mid.p, dp, residual ? res.p : NULL, want.p, 0, d->out_h);
    gl_expand_dw_run_parallel(pool, &f, in.p, residual ? res.p : NULL, scratch.p, got.p);

    const int ok = gb_same(&want, &got) && gb_guards_ok(&got) && gb_guards_ok(&scratch);
    report(ok, "%s: %s %zu->%zu (k%zu s%zu) + dw%zu/%zu on %zux%zu pads %zu,%zu band %zu rows, %zu thread(s)%s: "
           "fused differs from the two steps apart", ks->variant,
           producer == 0 ? "expand" : e->input_chw ? "chw conv" : "conv", e->in_c, e->out_c, e->kernel_h,
           e->stride_h, d->kernel_h, d->stride_h, d->in_h, d->in_w, d->pad_top, d->pad_left, f.band_rows,
           threads, residual ? " +res" : "");
    gb_free(&in), gb_free(&ew), gb_free(&eb), gb_free(&dwt), gb_free(&db), gb_free(&res);
    gb_free(&mid), gb_free(&want), gb_free(&got), gb_free(&scratch);
    free(ep), free(dp);
}

static void test_fused(size_t random_cases) {
    gl_threadpool *pools[4] = {NULL, NULL, gl_threadpool_create(2), gl_threadpool_create(3)};
    for (size_t v = 0; v < gl_kernels_variant_count(); v++) {
        const gl_kernels *ks = gl_kernels_variant(v);
        if (!gl_kernels_variant_supported(ks)) continue;
        for (size_t i = 0; i < random_cases; i++) {
            const size_t threads = rng_range(1, 3);
            check_fused(ks, pools[threads], threads);
        }
    }
    gl_threadpool_destroy(pools[2]);
    gl_threadpool_destroy(pools[3]);
}

/* gl_f32_transpose against the definition, both paths (few rows, tiles), guards intact. */
static void test_transpose(size_t random_cases) {
    for (size_t i = 0; i < random_cases; i++) {
        /* every 4th case an image's 3 planes (the AVX2 path), one of them 224x224 */
        const size_t batch = rng_range(1, 3), rows = i % 4 == 0 ? 3 : rng_range(1, 70);
        const size_t columns = i == 0 ? 224 * 224 : rng_range(1, 70);
        gbuf x = gb_new(batch * rows * columns), y = gb_new(batch * rows * columns);
        gb_random(&x);
        gl_f32_transpose(batch, rows, columns, x.p, y.p);
        int ok = gb_guards_ok(&y);
        for (size_t b = 0; b < batch; b++)
            for (size_t r = 0; r < rows; r++)
                for (size_t c = 0; c < columns; c++)
                    ok &= same_bits(y.p[(b * columns + c) * rows + r], x.p[(b * rows + r) * columns + c]);
        report(ok, "transpose %zu x %zu x %zu", batch, rows, columns);
        gb_free(&x), gb_free(&y);
    }
}

/* ------------------------------------------------------------------------ */
/* the elementwise entries: activation and channel_scale                      */

/* The variants this CPU runs, in table order (scalar first); their count. */
static size_t supported_variants(const gl_kernels **out) {
    size_t n = 0;
    for (size_t v = 0; v < gl_kernels_variant_count() && n < MAX_VARIANTS; v++)
        if (gl_kernels_variant_supported(gl_kernels_variant(v))) out[n++] = gl_kernels_variant(v);
    return n;
}

/* Poison in [0, from) and [to, b->n) of b, and its guards intact. */
static int only_written(const gbuf *b, size_t from, size_t to) {
    for (size_t i = 0; i < b->n; i++)
        if ((i < from || i >= to) && !is_poison(b->p[i])) return 0;
    return gb_guards_ok(b);
}

/*
 * The table's `activation`, every variant, kind and two clamps (none; [-0.25, 4]): every length
 * 0..67 (each tail of each vector width, and whole vectors), input and output 0..3 floats off
 * (so misaligned for every vector width), out of place and in place (x == y), inputs in
 * [-12, 12] with NaN, ±inf, -0 and a denormal among them. Each output against the definition
 * within act_tolerance, nothing written outside y[0..n). The SIMD variants must also agree bit
 * for bit (activation.h: the same operations in the same order).
 */
static void test_activation_entries(void) {
    enum { MAX_N = 67, SLACK = 4 };
    const gl_kernels *vs[MAX_VARIANTS];
    const size_t nv = supported_variants(vs);
    gbuf x = gb_new(MAX_N + SLACK);
    for (size_t i = 0; i < x.n; i++) x.p[i] = 12.0f * rng_float();
    x.p[5] = NAN, x.p[17] = INFINITY, x.p[30] = -INFINITY, x.p[41] = -0.0f, x.p[50] = 1e-40f, x.p[63] = -100.0f;
    float first_simd[MAX_N];
    for (int kind = 0; kind < GL_ACTIVATION_COUNT; kind++)
        for (int clamped = 0; clamped < 2; clamped++) {
            gl_conv2d_params p;
            memset(&p, 0, sizeof p);
            set_activation(&p, kind, clamped);
            const float lo = clamped ? -0.25f : -INFINITY, hi = clamped ? 4.0f : INFINITY;
            const double a = p.activation_alpha, b = p.activation_beta;
            for (size_t v = 0; v < nv; v++) {
                int ok = 1, agree = 1;
                for (size_t n = 0; n <= MAX_N; n++)
                    for (size_t off = 0; off < SLACK; off++)
                        for (int in_place = 0; in_place < 2; in_place++) {
                            const size_t xo = off, yo = in_place ? off : (off * 3 + 1) % SLACK;
                            gbuf y = in_place ? gb_copy(&x) : gb_new(MAX_N + SLACK);
                            vs[v]->activation(kind, p.activation_alpha, p.activation_beta, lo, hi, n, x.p + xo,
                                              in_place ? y.p + xo : y.p + yo);
                            for (size_t i = 0; i < n; i++) {
                                const double xi = x.p[xo + i];
                                const double ref = clamp_d(act_ref(kind, a, b, xi), lo, hi);
                                const float got = y.p[yo + i];
                                if (!close_within(got, ref, act_tolerance(kind, a, b, xi, 0.0))) {
                                    if (ok) detail("%s(%.9g) = %.9g, reference %.9g (n %zu, offset %zu%s)",
                                                   activation_names[kind], xi, (double)got, ref, n, off,
                                                   in_place ? ", in place" : "");
                                    ok = 0;
                                }
                            }
                            if (in_place) {
                                for (size_t i = 0; i < y.n; i++)
                                    if ((i < xo || i >= xo + n) && !same_bits(y.p[i], x.p[i])) ok = 0;
                                ok &= gb_guards_ok(&y);
                            } else {
                                ok &= only_written(&y, yo, yo + n);
                            }
                            if (n == MAX_N && off == 0 && !in_place && v >= 1) {
                                for (size_t i = 0; i < n; i++) {
                                    if (v == 1) first_simd[i] = y.p[yo + i];
                                    else agree &= same_bits(first_simd[i], y.p[yo + i]);
                                }
                            }
                            gb_free(&y);
                        }
                report(ok, "[%s] activation %s(%g, %g) clamp [%g, %g]: lengths 0..%d, offsets 0..%d, in place and not",
                       vs[v]->variant, activation_names[kind], a, b, (double)lo, (double)hi, MAX_N, SLACK - 1);
                if (v >= 2)
                    report(agree, "[%s] activation %s: not bit-identical to [%s]", vs[v]->variant,
                           activation_names[kind], vs[1]->variant);
            }
        }
    gb_free(&x);
}

/* Largest error of one variant and function seen by the sweep; printed, then reported. */
typedef struct {
    double rel;   /* |got - ref| / |ref| where |ref| >= 1e-30 (below, the absolute floor rules) */
    double abs;   /* |got - ref| for x in [-100, 100] */
    double rel_x, abs_x;
    size_t bad;
    double bad_x;
} sweep_error;

static void sweep_note(sweep_error *e, double x, float got, double ref, double rel_bound, double abs_bound) {
    if (isnan(ref) || isinf(ref)) {
        if (!(isnan(ref) ? isnan(got) : (double)got == ref) && e->bad++ == 0) e->bad_x = x;
        return;
    }
    const double d = isnan(got) ? INFINITY : fabs((double)got - ref);
    if (fabs(ref) >= 1e-30 && d / fabs(ref) > e->rel) e->rel = d / fabs(ref), e->rel_x = x;
    if (fabs(x) <= 100.0 && d > e->abs) e->abs = d, e->abs_x = x;
    if (!(d <= rel_bound * fabs(ref) + abs_bound) && e->bad++ == 0) e->bad_x = x;
}

/*
 * The error bounds activation.h states, per variant: sigmoid and SiLU at every 1e-3 of
 * [-100, 100] and at the specials (±0, ±inf, NaN, denormals, ±FLT_MAX, the edges of the exp's
 * range and of the 0 below -88) against their definitions in double; the exp they use
 * (gl_kernels_vexp) at every 1e-3 of [GL_EXP_MIN, GL_EXP_MAX], at 2^18 random floats of it and
 * at the specials (outside the range: the exp of the nearer end). Prints the largest errors.
 */
static void test_activation_sweep(void) {
    static const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-45f, -1e-45f, 1e-40f, -1e-40f,
                                     FLT_MIN, -FLT_MIN, FLT_MAX, -FLT_MAX, 88.0f, -88.0f, 88.001f, -88.001f,
                                     86.0f, -86.0f, 87.5f, -87.5f, 100.0f, -100.0f, 1000.0f, -1000.0f,
                                     16.0f, 17.0f, 18.0f, -16.0f, -17.0f, 0x1.62E430p-1f, -0x1.62E430p-1f};
    const size_t grid = 200001, n = grid + COUNT(specials);
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    const size_t exp_grid = (size_t)((GL_EXP_MAX - GL_EXP_MIN) * 1000.0f) + 1, exp_random = 1u << 18;
    const size_t exp_n = exp_grid + exp_random + COUNT(specials);
    float *ex = malloc(exp_n * sizeof(float)), *ey = malloc(exp_n * sizeof(float));
    if (!x || !y || !ex || !ey) exit(2);
    for (size_t i = 0; i < grid; i++) x[i] = (float)(-100.0 + (double)i * 1e-3);
    memcpy(x + grid, specials, sizeof specials);
    for (size_t i = 0; i < exp_grid; i++) ex[i] = (float)((double)GL_EXP_MIN + (double)i * 1e-3);
    for (size_t i = 0; i < exp_random; i++) /* uniform over the range's floats' values, not its bit patterns */
        ex[exp_grid + i] = GL_EXP_MIN + (GL_EXP_MAX - GL_EXP_MIN) * (rng_float() + 1.0f) / 2.0f;
    memcpy(ex + exp_grid + exp_random, specials, sizeof specials);

    const gl_kernels *vs[MAX_VARIANTS];
    const size_t nv = supported_variants(vs);
    for (size_t v = 0; v < nv; v++) {
        /* the exp */
        sweep_error ee = {0};
        const gl_vexp_fn vexp = gl_kernels_vexp(vs[v]);
        report(vexp != NULL, "[%s] gl_kernels_vexp has the variant's exp", vs[v]->variant);
        if (vexp != NULL) {
            vexp(exp_n, ex, ey);
            for (size_t i = 0; i < exp_n; i++) {
                const double z = isnan(ex[i]) ? ex[i] : clamp_d(ex[i], GL_EXP_MIN, GL_EXP_MAX);
                sweep_note(&ee, ex[i], ey[i], exp(z), GL_EXP_MAX_REL_ERROR, 0.0);
            }
            report(ee.bad == 0, "[%s] exp: %zu values past the relative error bound %.3g (first at %.9g)",
                   vs[v]->variant, ee.bad, GL_EXP_MAX_REL_ERROR, ee.bad_x);
        }
        /* every activation over the sweep; sigmoid's and SiLU's bounds */
        sweep_error errs[GL_ACTIVATION_COUNT];
        for (int kind = 0; kind < GL_ACTIVATION_COUNT; kind++) {
            gl_conv2d_params p;
            memset(&p, 0, sizeof p);
            set_activation(&p, kind, 0);
            const double a = p.activation_alpha, b = p.activation_beta;
            vs[v]->activation(kind, p.activation_alpha, p.activation_beta, -INFINITY, INFINITY, n, x, y);
            sweep_error *e = &errs[kind];
            memset(e, 0, sizeof *e);
            for (size_t i = 0; i < n; i++) {
                const double ref = act_ref(kind, a, b, x[i]);
                double rel = 0.0, abs_floor = act_tolerance(kind, a, b, x[i], 0.0);
                if (kind == GL_ACTIVATION_SIGMOID) rel = GL_SIGMOID_MAX_REL_ERROR, abs_floor = GL_SIGMOID_MAX_ABS_ERROR;
                if (kind == GL_ACTIVATION_SILU) rel = GL_SILU_MAX_REL_ERROR, abs_floor = GL_SILU_MAX_ABS_ERROR;
                sweep_note(e, x[i], y[i], ref, rel, abs_floor);
            }
            report(e->bad == 0, "[%s] %s: %zu of the sweep's values past the bound (first at %.9g)", vs[v]->variant,
                   activation_names[kind], e->bad, e->bad_x);
        }
        /* saturation: exactly 1, 0 and -0 far out, and NaN in, NaN out */
        static const float ends[] = {-INFINITY, -1000.0f, -88.5f, 100.0f, INFINITY, NAN};
        float sig[COUNT(ends)], silu[COUNT(ends)];
        vs[v]->activation(GL_ACTIVATION_SIGMOID, 0, 0, -INFINITY, INFINITY, COUNT(ends), ends, sig);
        vs[v]->activation(GL_ACTIVATION_SILU, 0, 0, -INFINITY, INFINITY, COUNT(ends), ends, silu);
        int sat = 1;
        for (size_t i = 0; i < 3; i++) sat &= sig[i] == 0.0f && !signbit(sig[i]) && silu[i] == 0.0f && signbit(silu[i]);
        sat &= sig[3] == 1.0f && silu[3] == 100.0f && sig[4] == 1.0f && silu[4] == INFINITY && isnan(sig[5]) &&
               isnan(silu[5]);
        report(sat, "[%s] sigmoid(-inf, -1000, -88.5) = +0 and silu = -0; sigmoid(100, inf) = 1, silu = 100, inf; "
               "NaN stays NaN", vs[v]->variant);
        printf("[%s] largest errors: exp %.2f ulp (at %.6g); sigmoid %.2f ulp (at %.6g), %.3g absolute; "
               "silu %.2f ulp (at %.6g), %.3g absolute (at %.6g)\n",
               vs[v]->variant, ee.rel / 0x1p-24, ee.rel_x, errs[GL_ACTIVATION_SIGMOID].rel / 0x1p-24,
               errs[GL_ACTIVATION_SIGMOID].rel_x, errs[GL_ACTIVATION_SIGMOID].abs, errs[GL_ACTIVATION_SILU].rel / 0x1p-24,
               errs[GL_ACTIVATION_SILU].rel_x, errs[GL_ACTIVATION_SILU].abs, errs[GL_ACTIVATION_SILU].abs_x);
    }
    free(x), free(y), free(ex), free(ey);
}

/*
 * The table's `channel_scale`, every variant: 0-7 pixels × every channel count 0..67, the
 * input, scale and output 0..3 floats off, out of place and in place (x == y): each output is
 * the float product x · scale (one rounding: bit for bit, NaN and inf included), nothing
 * written outside y[0..pixels·channels).
 */
static void test_channel_scale(void) {
    enum { MAX_C = 67, SLACK = 4 };
    static const size_t pixel_counts[] = {0, 1, 2, 3, 7};
    const gl_kernels *vs[MAX_VARIANTS];
    const size_t nv = supported_variants(vs);
    gbuf x = gb_new(7 * MAX_C + SLACK), scale = gb_new(MAX_C + SLACK);
    gb_random(&x);
    gb_random(&scale);
    x.p[10] = NAN, x.p[77] = INFINITY, scale.p[20] = -INFINITY, scale.p[33] = 0.0f;
    for (size_t v = 0; v < nv; v++)
        for (int in_place = 0; in_place < 2; in_place++) {
            int ok = 1;
            for (size_t pc = 0; pc < COUNT(pixel_counts); pc++)
                for (size_t C = 0; C <= MAX_C; C++)
                    for (size_t off = 0; off < SLACK; off++) {
                        const size_t P = pixel_counts[pc], n = P * C;
                        const size_t xo = off, so = (off + 1) % SLACK, yo = in_place ? xo : (off + 2) % SLACK;
                        gbuf y = in_place ? gb_copy(&x) : gb_new(x.n);
                        vs[v]->channel_scale(P, C, x.p + xo, scale.p + so, y.p + yo);
                        for (size_t i = 0; i < n; i++) {
                            const float want = x.p[xo + i] * scale.p[so + i % C], got = y.p[yo + i];
                            if (!(same_bits(got, want) || (isnan(got) && isnan(want)))) {
                                if (ok) detail("%zu pixels x %zu channels, offset %zu: y[%zu] = %.9g, want %.9g",
                                               P, C, off, i, (double)got, (double)want);
                                ok = 0;
                            }
                        }
                        if (in_place) {
                            for (size_t i = 0; i < y.n; i++)
                                if ((i < xo || i >= xo + n) && !same_bits(y.p[i], x.p[i])) ok = 0;
                            ok &= gb_guards_ok(&y);
                        } else {
                            ok &= only_written(&y, yo, yo + n);
                        }
                        gb_free(&y);
                    }
            report(ok && gb_guards_ok(&x) && gb_guards_ok(&scale),
                   "[%s] channel_scale: 0-7 pixels x 0..%d channels, offsets 0..%d%s", vs[v]->variant, MAX_C,
                   SLACK - 1, in_place ? ", in place" : "");
        }
    gb_free(&x);
    gb_free(&scale);
}

int main(int argc, char **argv) {
    uint64_t seed = 20240611u;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) verbose = 1;
        else seed = strtoull(argv[i], NULL, 0);
    }
    rng_state = seed;
    printf("seed %llu; variants:", (unsigned long long)seed);
    for (size_t v = 0; v < gl_kernels_variant_count(); v++)
        printf(" %s%s", gl_kernels_variant(v)->variant,
               gl_kernels_variant_supported(gl_kernels_variant(v)) ? "" : " (unsupported here)");
    printf("\n");

    test_registry();
    test_conv(1200);
    test_coverage();
    test_pool(300);
    test_gemm(300);
    test_fused(400);
    test_transpose(200);
    test_activation_entries();
    test_activation_sweep();
    test_channel_scale();

    printf("%lu passed, %lu failed\n", n_passed, n_failed);
    return n_failed == 0 ? 0 : 1;
}
