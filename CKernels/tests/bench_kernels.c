/* bench_kernels.c — times every registered conv2d kernel of every supported variant on MobileNet/ResNet-like shapes, one thread. */
// Build and run from the repository root:
//   cc -O3 -fno-math-errno -std=c11 -ICKernels/include CKernels/src/*.c CKernels/src/*/*.c
//      CKernels/tests/bench_kernels.c -lm -o /tmp/bench_kernels && /tmp/bench_kernels [filter]
// A filter argument keeps only shapes whose name contains it.
#define _POSIX_C_SOURCE 199309L
#include "ckernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *random_floats(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) exit(2);
    unsigned s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        p[i] = (float)((s >> 9) & 0xffff) / 32768.0f - 1.0f;
    }
    return p;
}

struct shape {
    const char *name;
    gl_conv2d_params p;
};

#define P(ih, iw, ic, oh, ow, oc, k, s, pad, g) \
    {ih, iw, ic, oh, ow, oc, k, k, s, s, 1, 1, pad, pad, g, 0.0f, 6.0f}

static const struct shape shapes[] = {
    {"pw 112x112x16->96", P(112, 112, 16, 112, 112, 96, 1, 1, 0, 1)},
    {"pw 56x56x24->144", P(56, 56, 24, 56, 56, 144, 1, 1, 0, 1)},
    {"pw 14x14x96->576", P(14, 14, 96, 14, 14, 576, 1, 1, 0, 1)},
    {"pw 7x7x320->1280", P(7, 7, 320, 7, 7, 1280, 1, 1, 0, 1)},
    {"dw3x3 112x112x96 s2", P(112, 112, 96, 56, 56, 96, 3, 2, 0, 96)},
    {"dw3x3 56x56x144 s1", P(56, 56, 144, 56, 56, 144, 3, 1, 1, 144)},
    {"dw5x5 28x28x240 s1", P(28, 28, 240, 28, 28, 240, 5, 1, 2, 240)},
    {"conv3x3 224x224x3->32 s2", P(224, 224, 3, 112, 112, 32, 3, 2, 0, 1)},
    {"conv3x3 56x56x64->64 s1", P(56, 56, 64, 56, 56, 64, 3, 1, 1, 1)},
};

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    printf("%-28s %-8s %-30s %10s %9s\n", "shape", "variant", "kernel", "ms/run", "GFLOP/s");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const struct shape *sh = &shapes[s];
        if (filter && !strstr(sh->name, filter)) continue;
        const gl_conv2d_params *p = &sh->p;
        const size_t cig = p->in_c / p->groups;
        const double flops = 2.0 * (double)(p->out_h * p->out_w * p->out_c) *
                             (double)(cig * p->kernel_h * p->kernel_w);
        float *in = random_floats(p->in_h * p->in_w * p->in_c);
        float *w = random_floats(p->out_c * cig * p->kernel_h * p->kernel_w);
        float *bias = random_floats(p->out_c);
        float *out = random_floats(p->out_h * p->out_w * p->out_c);
        for (size_t v = 0; v < gl_kernels_variant_count(); v++) {
            const gl_kernels *ks = gl_kernels_variant(v);
            if (!gl_kernels_variant_supported(ks)) continue;
            for (size_t i = 0; i < ks->conv2d_count; i++) {
                const gl_conv2d_kernel *k = &ks->conv2d[i];
                if (!k->supports(p)) continue;
                float *packed = random_floats(k->packed_size(p));
                k->pack(p, w, bias, packed);
                k->run(p, in, packed, NULL, out, 0, p->out_h); /* warm up */
                /* best of several timed batches of >= 0.1 s: the machine is shared */
                double best = INFINITY;
                for (int rep = 0; rep < 5; rep++) {
                    size_t runs = 0;
                    const double t0 = now();
                    double t1;
                    do {
                        k->run(p, in, packed, NULL, out, 0, p->out_h);
                        runs++;
                        t1 = now();
                    } while (t1 - t0 < 0.1);
                    const double per = (t1 - t0) / (double)runs;
                    if (per < best) best = per;
                }
                printf("%-28s %-8s %-30s %10.3f %9.2f%s\n", sh->name, ks->variant, k->name,
                       best * 1e3, flops / best * 1e-9,
                       gl_conv2d_select(ks, p) == k ? "  (selected)" : "");
                free(packed);
            }
        }
        free(in);
        free(w);
        free(bias);
        free(out);
    }
    return 0;
}
