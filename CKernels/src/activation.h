/* activation.h — the conv epilogue's activation in plain C (the scalar reference every SIMD helper follows): clamp(act(v)), the exp under sigmoid and SiLU, the dispatch on the kind and how the kernels use it. */
#ifndef GLIMPSE_CKERNELS_ACTIVATION_H
#define GLIMPSE_CKERNELS_ACTIVATION_H

#include "internal.h"

#include <stdint.h>
#include <string.h>

/*
 * out = clamp(act(conv + bias + residual)), ncnn's activation_ps(v, type, params) per ISA:
 * gl_act_f32 here, gl_avx2_act (x86/avx2.h), gl_avx512_act (x86/avx512.h), gl_neon_act
 * (arm/neon.h), each given the kind as a constant (the code that calls it is compiled once
 * per kind: GL_ACTIVATION_DISPATCH) and the parameters in a small struct made once per call.
 * A new activation is one branch in each of the four and one constant in ckernels.h.
 */
struct gl_epilogue {
    int kind; /* GL_ACTIVATION_* */
    float alpha, beta;
    float lo, hi; /* the clamp: output_min, output_max */
};

GL_INLINE gl_epilogue gl_epilogue_of(const gl_conv2d_params *p) {
    gl_epilogue e = {p->activation, p->activation_alpha, p->activation_beta, p->output_min, p->output_max};
    return e;
}

/*
 * F(ACT, ...) with ACT the constant GL_ACTIVATION_* equal to `kind`: one branch, before the
 * loops F runs, each copy of which has its activation compiled in and tests no kind. IDENTITY
 * is tested first (the clamp-only layers are most of a network) and is also what an unknown
 * kind gets (gl_conv2d_params_valid refuses those, so a kernel never sees one).
 */
#define GL_ACTIVATION_DISPATCH(kind, F, ...)                                                      \
    do {                                                                                          \
        const int gl_kind_ = (kind);                                                              \
        if (__builtin_expect(gl_kind_ == GL_ACTIVATION_IDENTITY || (unsigned)gl_kind_ >= GL_ACTIVATION_COUNT, 1)) \
            F(GL_ACTIVATION_IDENTITY, __VA_ARGS__);                                               \
        else if (gl_kind_ == GL_ACTIVATION_HARDSWISH) F(GL_ACTIVATION_HARDSWISH, __VA_ARGS__);    \
        else if (gl_kind_ == GL_ACTIVATION_SILU) F(GL_ACTIVATION_SILU, __VA_ARGS__);              \
        else if (gl_kind_ == GL_ACTIVATION_SIGMOID) F(GL_ACTIVATION_SIGMOID, __VA_ARGS__);        \
        else F(GL_ACTIVATION_HARDSIGMOID, __VA_ARGS__);                                           \
    } while (0)

/*
 * How the kernels end a tile, as measured (best of 900 runs of one layer: identity against
 * the kernels before activations; activations against identity):
 *  - a conv without an activation must cost what it did. It does only if its tile holds the
 *    clamp and nothing else: a tile that also held the other activations' code, even behind a
 *    predicted branch, ran it 1-7% slower (shallow layers, where the epilogue is a large part
 *    of a tile: registers and code layout become the compiler's compromise between the paths),
 *    and with every kind unrolled into every tile the x86 code was 2.2 MB instead of 372 KB;
 *  - so the x86 kernels have two copies of their tiles, chosen once per call
 *    (GL_TILE_ACTIVATION): the clamp alone, and the activation tiles, which apply hardswish
 *    (MobileNetV3's, a few instructions a vector) in registers and hand the block of any other
 *    activation, parked in L1 (a store a vector), to their ISA's out-of-line epilogue
 *    (gl_avx2_store_activation ...), which loops over it once per kind with the activation
 *    compiled in. For SiLU and sigmoid (~25 instructions and a division a vector) parking costs
 *    nothing measurable against unrolled in-register code; hardswish out of line cost +27%
 *    against +12% in registers on 56x56x24->144;
 *  - the scalar kernels (and the NEON depthwise ones) have a copy of their whole loop nest per
 *    kind, chosen before any sum is live: small code. The NEON GEMM-shaped ones have one tile,
 *    the clamp in registers and any activation out of line (not timed: qemu only).
 */
#define GL_TILE_ACTIVATION(kind) ((kind) == GL_ACTIVATION_IDENTITY ? GL_ACTIVATION_IDENTITY : GL_ACTIVATION_HARDSWISH)

/*
 * exp(z) for the sigmoid, the same operations in every variant (the SIMD helpers are this
 * function written with intrinsics, line for line):
 *
 *  1. z is clamped to [GL_EXP_MIN, GL_EXP_MAX] (NaN passes through): 2^n below is then a
 *     normal float, 2^-124 .. 2^127, so the result neither overflows nor loses its exponent;
 *  2. n = round(z / ln2) by adding a magic number (1.5·2^23 + 127) to z·log2(e): the sum's
 *     low mantissa bits are n + 127, which shifted left by 23 are the exponent field of 2^n;
 *  3. r = z - n·ln2 with ln2 split in two (Cody and Waite): ln2_hi has 10 trailing zero bits,
 *     so n·ln2_hi is exact for |n| <= 127 and z - n·ln2_hi loses nothing; |r| <= ln2/2;
 *  4. exp(r) = 1 + r·P(r), P of degree 5 (exp's polynomial of degree 6) fitted to minimise
 *     the relative error of exp on [-ln2/2, ln2/2] (Lawson iterations, coefficients rounded to
 *     float): 2e-9 relative, 0.03 ulp, before rounding;
 *  5. exp(z) = 2^n + (r·2^n)·P(r): r·2^n is exact (a power of two), and the one rounding of
 *     the last multiply-add is the result's.
 *
 * Error bound, every variant, for z in [GL_EXP_MIN, GL_EXP_MAX]: relative error <= 1.5e-7
 * (2.5 ulp of 2^-24). Measured on every float of the range: 1.89 ulp with a·b + c rounded
 * twice, 1.49 ulp with FMA; test_kernels.c checks the bound for each variant on a sweep.
 * FMA or not: the SIMD helpers fuse every a·b + c here into one FMA; this C code writes
 * a·b + c, which the compiler rounds twice (x86_64 has no baseline FMA) or may fuse (aarch64):
 * scalar and SIMD may differ in the last bit or two, each within the bound. The SIMD variants
 * do the same operations in the same order, so AVX2, AVX-512 and NEON agree bit for bit.
 */
/* The bounds stated here and below, as test_kernels.c checks them. */
#define GL_EXP_MAX_REL_ERROR 1.5e-7
#define GL_SIGMOID_MAX_REL_ERROR 2.4e-7
#define GL_SIGMOID_MAX_ABS_ERROR 6.1e-39 /* beside the relative bound */
#define GL_SILU_MAX_REL_ERROR 2.7e-7
#define GL_SILU_MAX_ABS_ERROR 5.4e-37

#define GL_EXP_MIN -86.0f
#define GL_EXP_MAX 88.0f
#define GL_EXP_LOG2E 0x1.715476p+0f
#define GL_EXP_MAGIC 0x1.8000FEp23f      /* 1.5·2^23 + 127 */
#define GL_EXP_MINUS_LN2_HI -0x1.62E400p-1f
#define GL_EXP_MINUS_LN2_LO -0x1.7F7D1Cp-20f
#define GL_EXP_C1 0x1.000000p+0f
#define GL_EXP_C2 0x1.FFFFFCp-2f
#define GL_EXP_C3 0x1.55541Ap-3f
#define GL_EXP_C4 0x1.555822p-5f
#define GL_EXP_C5 0x1.12677Ep-7f
#define GL_EXP_C6 0x1.6AE712p-10f

/*
 * Below this, sigmoid(x) is returned as 0 and SiLU as -0: exp(-x) would be past GL_EXP_MAX,
 * and the true values are under 6.1e-39 and 5.4e-37 (silu(-inf) is -0, not -inf · 0 = NaN).
 */
#define GL_SIGMOID_ZERO_BELOW (-GL_EXP_MAX)

GL_INLINE float gl_float_from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

GL_INLINE uint32_t gl_bits_of_float(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

GL_INLINE float gl_exp_f32(float z) {
    z = gl_clamp(z, GL_EXP_MIN, GL_EXP_MAX);
    float n = z * GL_EXP_LOG2E + GL_EXP_MAGIC;
    const float s = gl_float_from_bits(gl_bits_of_float(n) << 23); /* 2^n */
    n -= GL_EXP_MAGIC;
    float t = n * GL_EXP_MINUS_LN2_HI + z;
    t = n * GL_EXP_MINUS_LN2_LO + t;
    float p = GL_EXP_C6 * t + GL_EXP_C5;
    p = p * t + GL_EXP_C4;
    p = p * t + GL_EXP_C3;
    p = p * t + GL_EXP_C2;
    p = p * t + GL_EXP_C1;
    t *= s;
    return t * p + s;
}

/*
 * 1 / (1 + exp(-x)) with a true division, not a reciprocal estimate and a Newton step: the
 * quotient is correctly rounded in every ISA, so all variants divide the same numbers into the
 * same result and differ only by their exp (FMA or not), and the division costs a few cycles
 * per vector against a conv's hundreds of FMAs per output vector. Nothing cancels in 1 + e,
 * so the errors only add up:
 *
 * Error bounds, every variant, for every float x (NaN in, NaN out), f the exact function:
 *   sigmoid: |got - f(x)| <= 2.4e-7 |f(x)| + 6.1e-39   (exp's 2.5 ulp, 1 + e and the division)
 *   silu:    |got - f(x)| <= 2.7e-7 |f(x)| + 5.4e-37   (and the product)
 * the absolute terms for x < -88 (0 returned) and denormal results. Over [-100, 100] the
 * absolute error is then at most 2.4e-7 for sigmoid and 2.7e-5 for SiLU (at x = 100, where one
 * ulp of the result is 7.6e-6). Measured on every float of [-86, 88]: sigmoid 2.8 ulp relative,
 * 8.9e-8 absolute; SiLU 1.3e-6 absolute. test_kernels.c checks the bounds for each variant.
 * sigmoid(+big) is 1, sigmoid(-big) 0, silu(-big) -0; no exp is taken of a value it cannot
 * represent.
 */
GL_INLINE float gl_sigmoid_f32(float x) {
    const float s = 1.0f / (1.0f + gl_exp_f32(-x));
    return x < GL_SIGMOID_ZERO_BELOW ? 0.0f : s;
}

/*
 * clamp(act(v)) for a constant ACT (a GL_ACTIVATION_DISPATCH copy, or an elementwise loop
 * compiled per kind). HARDSWISH and HARDSIGMOID: t = alpha·v + beta, clamped to [0, 1] with
 * the NaN-preserving gl_clamp; hardswish(-inf) is -inf · 0 = NaN, as in ONNX's formula.
 */
GL_INLINE float gl_act_f32(float v, const int ACT, const gl_epilogue *e) {
    if (ACT == GL_ACTIVATION_HARDSWISH || ACT == GL_ACTIVATION_HARDSIGMOID) {
        const float t = gl_clamp(e->alpha * v + e->beta, 0.0f, 1.0f);
        v = ACT == GL_ACTIVATION_HARDSWISH ? v * t : t;
    } else if (ACT == GL_ACTIVATION_SIGMOID) {
        v = gl_sigmoid_f32(v);
    } else if (ACT == GL_ACTIVATION_SILU) {
        const float s = 1.0f / (1.0f + gl_exp_f32(-v));
        v = v < GL_SIGMOID_ZERO_BELOW ? -0.0f : v * s;
    }
    return gl_clamp(v, e->lo, e->hi);
}

#endif
