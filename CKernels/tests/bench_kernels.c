/* bench_kernels.c — the C A/B bench: times each variant's kernels on EfficientNet-Lite0's and ResNet-18's layer shapes (and ResNet-50's 3x3 convs), one thread, against the measured FMA peak. */
// Build and run from the repository root:
//   cc -O3 -fno-math-errno -std=c11 -ICKernels/include CKernels/src/*.c CKernels/src/*/*.c
//      CKernels/tests/bench_kernels.c -lm -o /tmp/bench_kernels && /tmp/bench_kernels [-a] [-e act] [filter]
// A filter argument keeps only shapes whose name contains it; -a times every
// kernel that supports a shape, not only the one gl_conv2d_select picks; -e ends
// every conv with that activation before its clamp (hardswish, hardsigmoid,
// sigmoid or silu, ONNX's slopes; default identity, the clamp alone).
/*
 * Per shape and kernel: the median time of many timed samples (the machine
 * may be shared: a median ignores the samples another process slowed down),
 * GFLOP/s (a multiply-add counts 2), that as a % of the peak measured by
 * gl_kernels_peak_gflops for the fastest variant (one core's FMA peak on
 * AVX2 machines), and how many times faster than the scalar and the avx2
 * variants' selected kernels (A/B). Data stays warm in cache between runs, as between the
 * layers of one forward pass. The last lines weight each shape by how often
 * its network (Lite0 or ResNet-18, 224x224, batch 1) runs it: an estimate of
 * that network's kernel time (ResNet-18's max pool is not among its shapes; of
 * ResNet-50 only its 3x3 convs are).
 */
#define _POSIX_C_SOURCE 199309L
#include "ckernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * This thread's CPU time, not the wall clock: on a shared machine the time
 * the thread spends descheduled would otherwise land in a sample (caches and
 * memory bandwidth stay shared; the median takes care of the rest).
 */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 64-byte aligned, as the engine's arena and packed weights are: a zmm load from a
 * malloc'ed (16-byte aligned) buffer would straddle two cache lines every time. */
static float *random_floats(size_t n) {
    float *p = aligned_alloc(64, ((n ? n : 1) * sizeof(float) + 63) / 64 * 64);
    if (!p) exit(2);
    unsigned s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        p[i] = (float)((s >> 9) & 0xffff) / 32768.0f - 1.0f;
    }
    return p;
}

/* A conv layer of Lite0, or (global pool) a global average pool over in_h*in_w. */
struct shape {
    const char *name;
    int count;          /* times Lite0 runs it */
    int residual;       /* with the block's residual add */
    int global_pool;
    gl_conv2d_params p;
    int net;            /* 0 Lite0, 1 ResNet-18, 2 ResNet-50's 3x3 convs, 3 none (counted in no total) */
};
static const char *const net_names[] = {"Lite0", "ResNet-18", "ResNet-50 (its 3x3 convs only)"};
#define NETS 3

/* TF "SAME" padding as Lite0's converted model has it: the extra row/column of
 * an odd total at the bottom/right, so pad_top = total / 2. */
#define SAME_PAD(in, out, k, s) ((((out) - 1) * (s) + (k) > (in) ? ((out) - 1) * (s) + (k) - (in) : 0) / 2)
#define CONV(ih, ic, oc, k, s, g, act) \
    {ih, ih, ic, (ih + s - 1) / s, (ih + s - 1) / s, oc, k, k, s, s, 1, 1, \
     SAME_PAD(ih, (ih + s - 1) / s, k, s), SAME_PAD(ih, (ih + s - 1) / s, k, s), g, BOUNDS_##act}
/* act is a name, not a macro, so that it reaches CONV unexpanded */
#define BOUNDS_relu6 0.0f, 6.0f
#define BOUNDS_linear -INFINITY, INFINITY
#define PW(hw, ic, oc, act) CONV(hw, ic, oc, 1, 1, 1, act)
#define DW(hw, c, k, s) CONV(hw, c, c, k, s, c, relu6)
/* PyTorch's symmetric padding (torchvision's ResNet): pad on every side, the output what fits. */
#define CONVP(ih, ic, oc, k, s, pad, act) \
    {ih, ih, ic, (ih + 2 * pad - k) / s + 1, (ih + 2 * pad - k) / s + 1, oc, k, k, s, s, 1, 1, pad, pad, 1, BOUNDS_##act}
/* The same conv reading a CHW image (the engine's first conv, where a variant has a CHW kernel) */
#define CONVP_CHW(ih, ic, oc, k, s, pad, act) \
    {ih, ih, ic, (ih + 2 * pad - k) / s + 1, (ih + 2 * pad - k) / s + 1, oc, k, k, s, s, 1, 1, pad, pad, 1, \
     BOUNDS_##act, .input_chw = 1}
#define BOUNDS_relu 0.0f, INFINITY

static const struct shape shapes[] = {
    {"stem 3x3s2 224x224x3->32", 1, 0, 0, CONV(224, 3, 32, 3, 2, 1, relu6)},
    {"dw3x3s1 112x112x32", 1, 0, 0, DW(112, 32, 3, 1)},
    {"pw 112x112x32->16", 1, 0, 0, PW(112, 32, 16, linear)},
    {"pw 112x112x16->96", 1, 0, 0, PW(112, 16, 96, relu6)},
    {"dw3x3s2 112x112x96", 1, 0, 0, DW(112, 96, 3, 2)},
    {"pw 56x56x96->24", 1, 0, 0, PW(56, 96, 24, linear)},
    {"pw 56x56x24->144", 2, 0, 0, PW(56, 24, 144, relu6)},
    {"dw3x3s1 56x56x144", 1, 0, 0, DW(56, 144, 3, 1)},
    {"pw 56x56x144->24 +res", 1, 1, 0, PW(56, 144, 24, linear)},
    {"dw5x5s2 56x56x144", 1, 0, 0, DW(56, 144, 5, 2)},
    {"pw 28x28x144->40", 1, 0, 0, PW(28, 144, 40, linear)},
    {"pw 28x28x40->240", 2, 0, 0, PW(28, 40, 240, relu6)},
    {"dw5x5s1 28x28x240", 1, 0, 0, DW(28, 240, 5, 1)},
    {"pw 28x28x240->40 +res", 1, 1, 0, PW(28, 240, 40, linear)},
    {"dw3x3s2 28x28x240", 1, 0, 0, DW(28, 240, 3, 2)},
    {"pw 14x14x240->80", 1, 0, 0, PW(14, 240, 80, linear)},
    {"pw 14x14x80->480", 3, 0, 0, PW(14, 80, 480, relu6)},
    {"dw3x3s1 14x14x480", 2, 0, 0, DW(14, 480, 3, 1)},
    {"pw 14x14x480->80 +res", 2, 1, 0, PW(14, 480, 80, linear)},
    {"dw5x5s1 14x14x480", 1, 0, 0, DW(14, 480, 5, 1)},
    {"pw 14x14x480->112", 1, 0, 0, PW(14, 480, 112, linear)},
    {"pw 14x14x112->672", 3, 0, 0, PW(14, 112, 672, relu6)},
    {"dw5x5s1 14x14x672", 2, 0, 0, DW(14, 672, 5, 1)},
    {"pw 14x14x672->112 +res", 2, 1, 0, PW(14, 672, 112, linear)},
    {"dw5x5s2 14x14x672", 1, 0, 0, DW(14, 672, 5, 2)},
    {"pw 7x7x672->192", 1, 0, 0, PW(7, 672, 192, linear)},
    {"pw 7x7x192->1152", 4, 0, 0, PW(7, 192, 1152, relu6)},
    {"dw5x5s1 7x7x1152", 3, 0, 0, DW(7, 1152, 5, 1)},
    {"pw 7x7x1152->192 +res", 3, 1, 0, PW(7, 1152, 192, linear)},
    {"dw3x3s1 7x7x1152", 1, 0, 0, DW(7, 1152, 3, 1)},
    {"pw 7x7x1152->320", 1, 0, 0, PW(7, 1152, 320, linear)},
    {"pw 7x7x320->1280", 1, 0, 0, PW(7, 320, 1280, relu6)},
    {"global avgpool 7x7x1280", 1, 0, 1, {7, 7, 1280, 1, 1, 1280, 7, 7, 1, 1, 1, 1, 0, 0, 1280, BOUNDS_linear}},
    {"classifier 1x1x1280->1000", 1, 0, 0, PW(1, 1280, 1000, linear)},
    /* ResNet-18 (torchvision): BatchNorm folded, ReLU the clamp; a block's second conv adds the
     * residual before its ReLU; the 1x1 stride-2 downsample convs feed that residual */
    {"stem 7x7s2 224x224x3->64", 1, 0, 0, CONVP(224, 3, 64, 7, 2, 3, relu), 1},
    {"stem 7x7s2 chw 224x3->64", 0, 0, 0, CONVP_CHW(224, 3, 64, 7, 2, 3, relu), 1},
    {"3x3s1 56x56x64->64", 2, 0, 0, CONVP(56, 64, 64, 3, 1, 1, relu), 1},
    {"3x3s1 56x56x64->64 +res", 2, 1, 0, CONVP(56, 64, 64, 3, 1, 1, relu), 1},
    {"3x3s2 56x56x64->128", 1, 0, 0, CONVP(56, 64, 128, 3, 2, 1, relu), 1},
    {"1x1s2 56x56x64->128", 1, 0, 0, CONVP(56, 64, 128, 1, 2, 0, linear), 1},
    {"3x3s1 28x28x128->128", 1, 0, 0, CONVP(28, 128, 128, 3, 1, 1, relu), 1},
    {"3x3s1 28x28x128->128 +res", 2, 1, 0, CONVP(28, 128, 128, 3, 1, 1, relu), 1},
    {"3x3s2 28x28x128->256", 1, 0, 0, CONVP(28, 128, 256, 3, 2, 1, relu), 1},
    {"1x1s2 28x28x128->256", 1, 0, 0, CONVP(28, 128, 256, 1, 2, 0, linear), 1},
    {"3x3s1 14x14x256->256", 1, 0, 0, CONVP(14, 256, 256, 3, 1, 1, relu), 1},
    {"3x3s1 14x14x256->256 +res", 2, 1, 0, CONVP(14, 256, 256, 3, 1, 1, relu), 1},
    {"3x3s2 14x14x256->512", 1, 0, 0, CONVP(14, 256, 512, 3, 2, 1, relu), 1},
    {"1x1s2 14x14x256->512", 1, 0, 0, CONVP(14, 256, 512, 1, 2, 0, linear), 1},
    {"3x3s1 7x7x512->512", 1, 0, 0, CONVP(7, 512, 512, 3, 1, 1, relu), 1},
    {"3x3s1 7x7x512->512 +res", 2, 1, 0, CONVP(7, 512, 512, 3, 1, 1, relu), 1},
    {"global avgpool 7x7x512", 1, 0, 1, {7, 7, 512, 1, 1, 512, 7, 7, 1, 1, 1, 1, 0, 0, 512, BOUNDS_linear}, 1},
    {"classifier 1x1x512->1000", 1, 0, 0, PW(1, 512, 1000, linear), 1},
    /* other stems and dense 3x3 convs: MobileNetV2's stem (PyTorch pads), Lite0's read as CHW,
     * and thin dense layers (in_c 16-32) */
    {"stem 3x3s2 p1 224x224x3->32", 1, 0, 0, CONVP(224, 3, 32, 3, 2, 1, relu6), 3},
    {"stem 3x3s2 p1 chw 224x3->32", 1, 0, 0, CONVP_CHW(224, 3, 32, 3, 2, 1, relu6), 3},
    {"3x3s1 112x112x16->16", 1, 0, 0, CONVP(112, 16, 16, 3, 1, 1, relu), 3},
    {"3x3s1 56x56x32->24", 1, 0, 0, CONVP(56, 32, 24, 3, 1, 1, relu), 3},
    {"3x3s2 112x112x32->64", 1, 0, 0, CONVP(112, 32, 64, 3, 2, 1, relu), 3},
    /* ResNet-50's bottleneck 3x3 convs (torchvision v1.5: the stride on the 3x3, no residual on it) */
    {"r50 3x3s1 56x56x64->64", 3, 0, 0, CONVP(56, 64, 64, 3, 1, 1, relu), 2},
    {"r50 3x3s2 56x56x128->128", 1, 0, 0, CONVP(56, 128, 128, 3, 2, 1, relu), 2},
    {"r50 3x3s1 28x28x128->128", 3, 0, 0, CONVP(28, 128, 128, 3, 1, 1, relu), 2},
    {"r50 3x3s2 28x28x256->256", 1, 0, 0, CONVP(28, 256, 256, 3, 2, 1, relu), 2},
    {"r50 3x3s1 14x14x256->256", 5, 0, 0, CONVP(14, 256, 256, 3, 1, 1, relu), 2},
    {"r50 3x3s2 14x14x512->512", 1, 0, 0, CONVP(14, 512, 512, 3, 2, 1, relu), 2},
    {"r50 3x3s1 7x7x512->512", 2, 0, 0, CONVP(7, 512, 512, 3, 1, 1, relu), 2},
};
#define SHAPES (sizeof shapes / sizeof shapes[0])

#define SAMPLES 21
#define SAMPLE_SECONDS 0.002 /* runs per sample: enough to take this long */

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median seconds per call of `run`, over SAMPLES samples of equal run counts. */
typedef void (*bench_fn)(const void *ctx);
static double median_seconds(bench_fn run, const void *ctx) {
    run(ctx); /* warm up: caches, page faults, AVX clock */
    size_t runs = 1;
    for (;;) {
        const double t0 = now();
        for (size_t i = 0; i < runs; i++) run(ctx);
        if (now() - t0 >= SAMPLE_SECONDS || runs >= (1u << 20)) break;
        runs *= 2;
    }
    double t[SAMPLES];
    for (int s = 0; s < SAMPLES; s++) {
        const double t0 = now();
        for (size_t i = 0; i < runs; i++) run(ctx);
        t[s] = (now() - t0) / (double)runs;
    }
    qsort(t, SAMPLES, sizeof t[0], cmp_double);
    return t[SAMPLES / 2];
}

struct conv_ctx {
    const gl_conv2d_kernel *k;
    const gl_conv2d_params *p;
    const float *in, *packed, *res;
    float *out;
};

static void run_conv(const void *ctx) {
    const struct conv_ctx *c = ctx;
    c->k->run(c->p, c->in, c->packed, c->res, c->out, 0, c->p->out_h);
}

struct pool_ctx {
    const gl_kernels *ks;
    size_t hw, channels;
    const float *in;
    float *out;
};

static void run_pool(const void *ctx) {
    const struct pool_ctx *c = ctx;
    c->ks->global_avgpool(c->hw, c->channels, c->in, c->out);
}

int main(int argc, char **argv) {
    static const char *const activations[GL_ACTIVATION_COUNT] = {"identity", "hardswish", "hardsigmoid", "sigmoid",
                                                                 "silu"};
    const char *filter = NULL;
    int all = 0, activation = GL_ACTIVATION_IDENTITY;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-a") == 0) {
            all = 1;
        } else if (strcmp(argv[i], "-e") == 0 && i + 1 < argc) {
            for (activation = 0; activation < GL_ACTIVATION_COUNT; activation++)
                if (strcmp(argv[i + 1], activations[activation]) == 0) break;
            if (activation == GL_ACTIVATION_COUNT) {
                fprintf(stderr, "bench_kernels: unknown activation '%s'\n", argv[i + 1]);
                return 2;
            }
            i++;
        } else {
            filter = argv[i];
        }
    }

    /* peaks; the last supported variant is the fastest */
    double peak = 0.0;
    printf("measured peak, one core:");
    for (size_t v = 0; v < gl_kernels_variant_count(); v++) {
        const gl_kernels *ks = gl_kernels_variant(v);
        if (!gl_kernels_variant_supported(ks)) continue;
        const double g = gl_kernels_peak_gflops(ks, 0.5);
        printf("  %s %.1f GFLOP/s", ks->variant, g);
        if (g > peak) peak = g;
    }
    printf("\n%% of peak is of %.1f GFLOP/s; x scalar, x avx2 = that variant's selected kernel time / this time\n",
           peak);
    printf("conv epilogue: %s, then the clamp\n\n", activations[activation]);

    double total[NETS][8] = {{0}};
    printf("%-27s %3s %-7s %-39s %9s %8s %7s %8s %6s\n", "shape", "n", "variant", "kernel", "median ms",
           "GFLOP/s", "% peak", "x scalar", "x avx2");
    for (size_t s = 0; s < SHAPES; s++) {
        const struct shape *sh = &shapes[s];
        if (filter && !strstr(sh->name, filter)) continue;
        gl_conv2d_params params = sh->p;
        params.activation = activation;
        params.activation_alpha = activation == GL_ACTIVATION_HARDSWISH ? 1.0f / 6.0f : 0.2f;
        params.activation_beta = 0.5f;
        const gl_conv2d_params *p = &params;
        const size_t cig = p->in_c / p->groups;
        const double flops = sh->global_pool
            ? (double)(p->in_h * p->in_w * p->in_c)
            : 2.0 * (double)(p->out_h * p->out_w * p->out_c) * (double)(cig * p->kernel_h * p->kernel_w);
        float *in = random_floats(p->in_h * p->in_w * p->in_c);
        float *w = random_floats(p->out_c * cig * p->kernel_h * p->kernel_w);
        float *bias = random_floats(p->out_c);
        float *res = sh->residual ? random_floats(p->out_h * p->out_w * p->out_c) : NULL;
        float *out = random_floats(p->out_h * p->out_w * p->out_c);
        double scalar_time = 0.0, avx2_time = 0.0;
        for (size_t v = 0; v < gl_kernels_variant_count(); v++) {
            const gl_kernels *ks = gl_kernels_variant(v);
            if (!gl_kernels_variant_supported(ks)) continue;
            const gl_conv2d_kernel *sel = sh->global_pool ? NULL : gl_conv2d_select(ks, p);
            const size_t nk = sh->global_pool ? 1 : ks->conv2d_count;
            for (size_t i = 0; i < nk; i++) {
                const gl_conv2d_kernel *k = sh->global_pool ? NULL : &ks->conv2d[i];
                if (k != NULL && (!k->supports(p) || (!all && k != sel))) continue;
                double t;
                if (k == NULL) {
                    const struct pool_ctx c = {ks, p->in_h * p->in_w, p->in_c, in, out};
                    t = median_seconds(run_pool, &c);
                } else {
                    float *packed = random_floats(k->packed_size(p));
                    k->pack(p, w, bias, packed);
                    const struct conv_ctx c = {k, p, in, packed, res, out};
                    t = median_seconds(run_conv, &c);
                    free(packed);
                }
                const int selected = k == sel;
                if (selected && v == 0) scalar_time = t;
                if (selected && strcmp(ks->variant, "avx2") == 0) avx2_time = t;
                if (selected && v < 8 && sh->net < NETS) total[sh->net][v] += sh->count * t;
                char ratio[16] = "", ab[16] = "";
                if (scalar_time > 0.0) snprintf(ratio, sizeof ratio, "%.2f", scalar_time / t);
                if (avx2_time > 0.0) snprintf(ab, sizeof ab, "%.2f", avx2_time / t);
                printf("%-27s %3d %-7s %-39s %9.4f %8.2f %7.1f %8s %6s%s\n", sh->name, sh->count, ks->variant,
                       k ? k->name : "global_avgpool", t * 1e3, flops / t * 1e-9,
                       100.0 * flops / t * 1e-9 / peak, ratio, ab, all && selected && k ? " (selected)" : "");
            }
        }
        free(in);
        free(w);
        free(bias);
        free(res);
        free(out);
    }
    for (int net = 0; net < NETS; net++) {
        printf("\n%s forward pass, these kernels weighted by their counts (%s):\n", net_names[net],
               filter ? "filtered shapes only" : "all shapes");
        for (size_t v = 0; v < gl_kernels_variant_count() && v < 8; v++) {
            const gl_kernels *ks = gl_kernels_variant(v);
            if (!gl_kernels_variant_supported(ks)) continue;
            printf("  %-7s %8.3f ms", ks->variant, total[net][v] * 1e3);
            if (v > 0 && total[net][v] > 0.0) printf("   (x%.2f scalar)", total[net][0] / total[net][v]);
            printf("\n");
        }
    }
    return 0;
}
