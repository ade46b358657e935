/* ckernels.h — the whole public API of Glimpse's compute kernels (float32, NHWC). */
#ifndef GLIMPSE_CKERNELS_H
#define GLIMPSE_CKERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Layout conventions, shared by every kernel:
 *  - activations are one image in NHWC order: element (y, x, c) of an H×W×C
 *    tensor lives at (y * W + x) * C + c; the caller loops over the batch;
 *  - weights arrive in ONNX order, OIHW (out_c, in_c / groups, kernel_h, kernel_w),
 *    and a kernel's `pack` rewrites them (with the bias) into its own layout once,
 *    when the model loads; `run` only ever sees packed weights;
 *  - padding: pad_top/pad_left are given, bottom/right are whatever out_h/out_w
 *    imply, so TF "SAME" (extra row/column at the bottom/right) needs no copy.
 */

/*
 * The activation of a conv's fused epilogue (ncnn's activation_type): applied to
 * conv + bias + residual while the sum is still in registers, before the clamp. ReLU, ReLU6 and
 * Clip need none: they are the clamp alone. Zero-initialised params mean IDENTITY.
 */
enum {
    GL_ACTIVATION_IDENTITY = 0,
    GL_ACTIVATION_HARDSWISH = 1,   /* x * clamp(alpha x + beta, 0, 1) (ONNX HardSwish: alpha 1/6, beta 1/2) */
    GL_ACTIVATION_HARDSIGMOID = 2, /* clamp(alpha x + beta, 0, 1) */
    GL_ACTIVATION_SIGMOID = 3,     /* 1 / (1 + exp(-x)) */
    GL_ACTIVATION_SILU = 4,        /* x * sigmoid(x) (Swish) */
};
#define GL_ACTIVATION_COUNT 5

/* A 2-D convolution, with its fused epilogue: out = clamp(activation(conv + bias + residual)). */
typedef struct gl_conv2d_params {
    size_t in_h, in_w, in_c;
    size_t out_h, out_w, out_c;
    size_t kernel_h, kernel_w;
    size_t stride_h, stride_w;
    size_t dilation_h, dilation_w;
    size_t pad_top, pad_left;
    size_t groups;            /* in_c and out_c are both multiples of groups */
    float output_min;         /* -INFINITY for none, 0 for ReLU, 0 for ReLU6 */
    float output_max;         /* +INFINITY for none, 6 for ReLU6 */
    int activation;           /* GL_ACTIVATION_*, before the clamp */
    float activation_alpha, activation_beta; /* HARDSWISH and HARDSIGMOID's slope and offset */
    /* 1: the input is one image in CHW order (ONNX's NCHW, as the caller wrote it) instead of
     * NHWC. Only kernels made for it accept it (a network's first conv, few input channels);
     * every other kernel's `supports` says no, and the engine then transposes the input. */
    int input_chw;
    /* With input_chw: floats from one channel's plane to the next, 0 for in_h * in_w. Larger
     * when the input is a band of rows of a taller image (gl_expand_dw). */
    size_t in_plane;
} gl_conv2d_params;

/*
 * One convolution kernel. A kernel handles a family of shapes (`supports`),
 * packs its weights at load time and computes output rows [row_begin, row_end)
 * so that callers can split one convolution over threads.
 * `residual` is NULL or an NHWC tensor shaped like the output, added before the clamp.
 */
typedef struct gl_conv2d_kernel {
    const char *name;     /* e.g. "gl_f32_dwconv_3x3_scalar" */
    const char *variant;  /* "scalar", "avx2", "avx512" or "neon" */
    int (*supports)(const gl_conv2d_params *p);
    size_t (*packed_size)(const gl_conv2d_params *p); /* in floats */
    void (*pack)(const gl_conv2d_params *p, const float *weights_oihw,
                 const float *bias /* NULL: zero */, float *packed);
    void (*run)(const gl_conv2d_params *p, const float *input, const float *packed,
                const float *residual, float *output, size_t row_begin, size_t row_end);
} gl_conv2d_kernel;

/* 2-D pooling over an NHWC image; the channel count is the same in and out. */
typedef struct gl_pool2d_params {
    size_t in_h, in_w, channels;
    size_t out_h, out_w;
    size_t kernel_h, kernel_w;
    size_t stride_h, stride_w;
    size_t dilation_h, dilation_w;
    size_t pad_top, pad_left;
    int count_include_pad;    /* average pool: divide by the full window, pads included */
} gl_pool2d_params;

/*
 * Every kernel of one variant. The engine picks a table per model when it loads (by name, or
 * the best the CPU runs: see gl_kernels_variant) and keeps it, so two models can run two
 * variants side by side; the process-wide "active" table below is for C callers only.
 */
typedef struct gl_kernels {
    const char *variant;
    const gl_conv2d_kernel *conv2d;    /* most specialised first, generic last */
    size_t conv2d_count;
    void (*maxpool2d)(const gl_pool2d_params *p, const float *input, float *output);
    void (*avgpool2d)(const gl_pool2d_params *p, const float *input, float *output);
    /* output[c] = mean over hw of input[i * channels + c] */
    void (*global_avgpool)(size_t hw, size_t channels, const float *input, float *output);
    /* y[i] = clamp(activation(x[i])) for i < n, with gl_conv2d_params' activation fields and
     * clamp bounds (x == y allowed): a conv epilogue's activation, for values no conv produced. */
    void (*activation)(int activation, float alpha, float beta, float lo, float hi,
                       size_t n, const float *x, float *y);
    /* y[p * channels + c] = x[p * channels + c] * scale[c] for p < pixels (x == y allowed):
     * squeeze-excite's channel gate on an NHWC image. */
    void (*channel_scale)(size_t pixels, size_t channels, const float *x, const float *scale, float *y);
    /*
     * c[i*ldc + j] = alpha * sum_k a[i*a_rs + k*a_cs] * b[k*b_rs + j*b_cs] + beta * c[i*ldc + j]
     * (beta == 0 ignores what c held, NaN included). Strides make transposes free.
     */
    void (*gemm)(size_t m, size_t n, size_t k, float alpha,
                 const float *a, size_t a_rs, size_t a_cs,
                 const float *b, size_t b_rs, size_t b_cs,
                 float beta, float *c, size_t ldc);
} gl_kernels;

/*
 * A hint for the calling thread: the `bytes` at `p` are read next (the next layer's packed
 * weights). Until they are all touched, the x86 pointwise GEMMs and AVX-512 depthwise convs
 * touch one cache line of it per step of their inner loop, so the next layer finds its
 * weights in cache instead of starting with a wait on memory (each layer's weights are
 * evicted by the time the next run comes round: Lite0 has 19 MB of them). Other kernels
 * ignore it; gl_prefetch_next(NULL, 0) clears it. Results never depend on it.
 */
void gl_prefetch_next(const void *p, size_t bytes);
/* Floats of packed weights a pointwise GEMM's pass over the pixels reads (about 384 KB, so one
 * pass's weights stay in L2 while every pixel block streams them): the first pass of a layer
 * is what the layer before should prefetch. */
#define GL_POINTWISE_PASS_FLOATS 98304

/* y[b][c][r] = x[b][r][c] for a batch of rows × columns matrices (x and y do not overlap). */
void gl_f32_transpose(size_t batch, size_t rows, size_t columns, const float *x, float *y);

/* The variants this build has, scalar first; the CPU may still lack some. */
size_t gl_kernels_variant_count(void);
const gl_kernels *gl_kernels_variant(size_t index);
/* 1 if this CPU can run the variant. */
int gl_kernels_variant_supported(const gl_kernels *kernels);

/* A process-wide default for C callers (the test driver): the best the CPU supports unless
 * gl_kernels_select chose one. The engine never reads it. */
const gl_kernels *gl_kernels_active(void);
/* Makes `variant` ("scalar", "avx2", "avx512", "neon") active. 0 on success, -1 if unknown
 * to this build, -2 if this CPU cannot run it. */
int gl_kernels_select(const char *variant);

/* The first conv2d kernel of `kernels` that supports p; NULL if none does. */
const gl_conv2d_kernel *gl_conv2d_select(const gl_kernels *kernels, const gl_conv2d_params *p);

/*
 * One core's multiply-add peak for `kernels`, measured, in GFLOP/s (a
 * multiply-add counts 2): independent chains of the variant's widest
 * multiply-add (scalar mul+add, AVX2 FMA, NEON FMA), the best rate seen in
 * `seconds` of running. 0 for NULL or a table this CPU cannot run. It runs
 * for `seconds` on the calling thread: call it once, for "% of peak" figures.
 */
double gl_kernels_peak_gflops(const gl_kernels *kernels, double seconds);

/*
 * Intra-op threads: a pool of N computes one convolution's output rows N ways (the caller's
 * thread plus N-1 helpers that spin between convolutions and sleep between requests).
 * One pool serves one caller at a time (a session owns its pool).
 */
typedef struct gl_threadpool gl_threadpool;
/* NULL if threads is 0 or a thread cannot be started. */
gl_threadpool *gl_threadpool_create(size_t threads);
void gl_threadpool_destroy(gl_threadpool *pool);
size_t gl_threadpool_size(const gl_threadpool *pool);
/* Runs `kernel` over all output rows, split evenly across the pool; returns when every row is done.
 * A NULL pool runs on the caller's thread. Results are identical for any split. */
void gl_conv2d_run_parallel(gl_threadpool *pool, const gl_conv2d_kernel *kernel, const gl_conv2d_params *p,
                            const float *input, const float *packed, const float *residual, float *output);
/* Calls task(context, i, n) for i in 0..<n (n = the pool's size) on the pool's threads, i = 0 on the
 * caller's; returns when every call has. A NULL pool makes one call, task(context, 0, 1). */
void gl_threadpool_run(gl_threadpool *pool, void (*task)(void *context, size_t index, size_t count), void *context);

/*
 * A convolution fused with the depthwise conv that alone reads its output: an inverted
 * bottleneck's pointwise expansion (`expand` in the H·W-rows-of-one-pixel form), or any other
 * conv (a network's stem: `expand` is then that conv, its output H × W × C) whose output only a
 * depthwise conv (`dw`) reads. The expanded tensor is never stored whole: each thread computes it a band of
 * `band_rows` image rows at a time into its own scratch (sized to stay in L2), keeps the rows
 * the next band's windows share, and runs the depthwise conv on the band. The output is the
 * same, bit for bit, as running the two convolutions one after the other.
 */
typedef struct gl_expand_dw {
    const gl_conv2d_kernel *expand;
    gl_conv2d_params expand_params;   /* pointwise: in_h = out_h = H·W, in_w = out_w = 1; else out_h × out_w = H × W */
    const float *expand_packed;
    const gl_conv2d_kernel *dw;
    gl_conv2d_params dw_params;       /* in_h × in_w × in_c = H × W × expand out_c */
    const float *dw_packed;
    size_t band_rows;                 /* >= dw kernel_h; see gl_expand_dw_band_rows */
} gl_expand_dw;

/* 1 if expand and dw fit together (shapes agree, dw is depthwise, expand has no row-crossing
 * layout quirks: NHWC, or CHW with in_plane free to be set). */
int gl_expand_dw_valid(const gl_expand_dw *f);
/* Band rows for a scratch of about `bytes` per thread (at least the window's height). */
size_t gl_expand_dw_band_rows(const gl_conv2d_params *dw, size_t bytes);
/* Scratch floats `threads` threads need. */
size_t gl_expand_dw_scratch_floats(const gl_expand_dw *f, size_t threads);
/* residual (shaped like dw's output) may be NULL; scratch holds gl_expand_dw_scratch_floats(f, pool size). */
void gl_expand_dw_run_parallel(gl_threadpool *pool, const gl_expand_dw *f, const float *input,
                               const float *residual, float *scratch, float *output);

#ifdef __cplusplus
}
#endif

#endif
